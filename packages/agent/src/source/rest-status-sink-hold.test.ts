import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { buildDeviceHold } from '@margo-gitops/spec';
import type { RestClient } from './rest-client.js';
import { capabilitiesWithHold, RestStatusSink } from './rest-status-sink.js';

const caps = JSON.stringify({ properties: { id: 'd1' } }, null, 2) + '\n';
const hold = buildDeviceHold({ reason: 'batch 7', since: '2026-12-03T04:00:00.000Z' });

test('the hold travels as x-margo-gitops-extensions.hold of the capabilities; none leaves the bytes', () => {
  assert.equal(capabilitiesWithHold(caps, undefined), caps);
  const withHold = JSON.parse(capabilitiesWithHold(caps, hold));
  assert.deepEqual(withHold['x-margo-gitops-extensions'], {
    hold: { reason: 'batch 7', since: '2026-12-03T04:00:00.000Z' },
  });
  // Released: the member goes, other extension members stay.
  const other = JSON.stringify({ properties: { id: 'd1' }, 'x-margo-gitops-extensions': { a: 1, hold: {} } });
  assert.deepEqual(JSON.parse(capabilitiesWithHold(other, undefined))['x-margo-gitops-extensions'], { a: 1 });
  assert.equal(capabilitiesWithHold('not json', hold), 'not json');
});

test('placing and releasing a hold re-sends the capabilities; a failed send keeps it queued', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rest-hold-'));
  const sent: { method: string; path: string; body?: string }[] = [];
  let fail = false;
  const client = {
    send: async (method: string, path: string, o: { body?: Buffer }) => {
      if (fail) return { status: 503, headers: {}, body: Buffer.alloc(0) };
      sent.push({ method, path, ...(o.body ? { body: o.body.toString('utf8') } : {}) });
      return { status: 200, headers: {}, body: Buffer.alloc(0) };
    },
  } as unknown as RestClient;
  try {
    const sink = new RestStatusSink({
      client,
      stateDir: dir,
      deviceId: 'd1',
      logger: pino({ level: 'silent' }),
    });
    await sink.init();
    sink.report({ 'capabilities.json': caps }, 'capabilities');
    await sink.flush();
    assert.deepEqual(sent.splice(0), [{ method: 'PUT', path: '/api/v1/capabilities/d1', body: caps }]);

    sink.report({ 'hold.json': hold }, 'hold');
    fail = true;
    await assert.rejects(sink.flush());
    fail = false;
    await sink.flush();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.path, '/api/v1/capabilities/d1');
    assert.equal(JSON.parse(sent.splice(0)[0]!.body!)['x-margo-gitops-extensions'].hold.reason, 'batch 7');

    // Unchanged: nothing sent. Capabilities re-discovered while held: still carry the hold.
    sink.report({ 'hold.json': hold }, 'hold');
    await sink.flush();
    assert.equal(sent.length, 0);
    const caps2 = caps.replace('"d1"', '"d1" ');
    sink.report({ 'capabilities.json': caps2 }, 'capabilities');
    await sink.flush();
    assert.equal(JSON.parse(sent.splice(0)[0]!.body!)['x-margo-gitops-extensions'].hold.reason, 'batch 7');

    sink.report({ 'hold.json': null }, 'released');
    await sink.flush();
    assert.equal(sent.length, 1);
    assert.equal(JSON.parse(sent[0]!.body!)['x-margo-gitops-extensions'], undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
