import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLUSH, parseCommandList, pktLine, refusalReport } from './pkt-line.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

test('pkt-line: frames payloads', () => {
  assert.equal(pktLine('a\n').toString(), '0006a\n');
  assert.equal(pktLine('').toString(), '0004');
});

test('pkt-line: parses a receive-pack command list', () => {
  const body = Buffer.concat([
    pktLine(`shallow ${A}`),
    pktLine(`${Z} ${A} refs/heads/status\0report-status side-band-64k agent=git/2\n`),
    pktLine(`${A} ${B} refs/heads/main\n`),
    FLUSH,
    Buffer.from('PACK....'),
  ]);
  for (let cut = 0; cut < body.length - 8; cut += 7) {
    assert.equal(parseCommandList(body.subarray(0, cut)).state, 'incomplete', `cut ${cut}`);
  }
  const r = parseCommandList(body);
  assert.equal(r.state, 'done');
  if (r.state !== 'done') return;
  assert.deepEqual(r.commands, [
    { old: Z, new: A, ref: 'refs/heads/status' },
    { old: A, new: B, ref: 'refs/heads/main' },
  ]);
  assert.deepEqual(r.capabilities, ['report-status', 'side-band-64k', 'agent=git/2']);
  assert.equal(parseCommandList(Buffer.from('zzzz')).state, 'error');
  assert.equal(parseCommandList(Buffer.concat([pktLine('nonsense'), FLUSH])).state, 'error');
});

test('pkt-line: refusal report with and without side-band', () => {
  const cmds = [{ old: A, new: B, ref: 'refs/heads/main' }];
  const plain = refusalReport(cmds, ['report-status'], 'no');
  assert.equal(plain.toString(), '000eunpack ok\n001ang refs/heads/main no\n0000');
  const sb = refusalReport(cmds, ['report-status', 'side-band-64k'], 'no');
  assert.ok(sb.includes(Buffer.from('\u0002no\n')));
  assert.ok(sb.includes(Buffer.from('ng refs/heads/main no')));
  assert.ok(sb.subarray(-4).equals(FLUSH));
});
