import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandListParser, FLUSH, parseCommandList, pktLine, refusalReport } from './pkt-line.js';

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

test('pkt-line: the incremental parser gives the same result fed byte by byte', () => {
  const body = Buffer.concat([
    pktLine(`${Z} ${A} refs/heads/status\0report-status\n`),
    pktLine(`${A} ${B} refs/heads/main\n`),
    FLUSH,
    Buffer.from('PACKxyz'),
  ]);
  const p = new CommandListParser(1 << 20);
  let last;
  for (let i = 0; i < body.length; i++) {
    last = p.push(body.subarray(i, i + 1));
    if (last.state !== 'incomplete') break;
  }
  assert.equal(last?.state, 'done');
  assert.deepEqual(p.result(), parseCommandList(body));
});

test('pkt-line: a command list longer than the bound ends in too-large, however it is chunked', () => {
  const line = pktLine(`${A} ${B} refs/heads/${'x'.repeat(200)}\n`);
  const big = Buffer.concat(Array.from({ length: 100 }, () => line));
  const p = new CommandListParser(10 * line.length);
  let state = 'incomplete';
  for (let i = 0; i < big.length && state === 'incomplete'; i += 13)
    state = p.push(big.subarray(i, i + 13)).state;
  assert.equal(state, 'too-large');
  assert.equal(p.result().state, 'error');
});

test('pkt-line: parsing a 4 MiB list sent in 1 KiB chunks is linear (no re-parse from the start)', () => {
  const line = pktLine(`${A} ${B} refs/heads/${'y'.repeat(900)}\n`);
  const big = Buffer.concat(Array.from({ length: Math.ceil((4 << 20) / line.length) }, () => line));
  // Counting work instead of timing it: bytes handed to Buffer.concat stay within a small factor of the input.
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], n?: number) => {
    copied += list.reduce((s, b) => s + b.length, 0);
    return concat(list, n);
  }) as typeof Buffer.concat;
  try {
    const p = new CommandListParser(8 << 20);
    for (let i = 0; i < big.length; i += 1024) p.push(big.subarray(i, i + 1024));
    assert.equal(p.result().state, 'incomplete');
  } finally {
    Buffer.concat = concat;
  }
  assert.ok(copied < 3 * big.length, `copied ${copied} bytes for a ${big.length}-byte list`);
});
