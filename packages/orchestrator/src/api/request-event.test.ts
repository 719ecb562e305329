// onRequest over a real node:http server: one event per request with its route kind (never the
// raw path), the status answered and the device once identified. The state cache is a stand-in.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createWorkloadApiHandler, type ApiRequestEvent } from './handler.js';
import type { ApiStateCache } from './state-cache.js';

test('every request is reported once with route kind, status and device', async (t) => {
  const events: ApiRequestEvent[] = [];
  let fail = false;
  const handler = createWorkloadApiHandler({
    cache: {
      manifest: async () => ({ body: Buffer.from('{}'), digest: 'sha256:' + '0'.repeat(64) }),
    } as unknown as ApiStateCache,
    identify: () => ({ deviceId: 'dev1' }) as never,
    trustDomain: 'example.internal',
    trustBundle: () => ({}),
    onRequest: (e) => {
      events.push(e);
      if (fail) throw new Error('metrics broke');
    },
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(`${base}${path}`, init);
    await r.arrayBuffer();
    return r.status;
  };
  assert.equal(await get('/api/v1/deployments'), 200);
  assert.equal(
    await get('/api/v1/deployments', { headers: { 'if-none-match': `"sha256:${'0'.repeat(64)}"` } }),
    304,
  );
  assert.equal(await get('/.well-known/margo'), 200);
  assert.equal(await get('/api/v1/secret/path/x'), 404);
  assert.equal(await get('/api/v1/deployments', { method: 'DELETE' }), 405);
  fail = true;
  assert.equal(await get('/api/v1/deployments'), 200, 'a throwing callback changes nothing');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    events.map((e) => [e.route, e.method, e.status, e.deviceId]),
    [
      ['manifest', 'GET', 200, 'dev1'],
      ['manifest', 'GET', 304, 'dev1'],
      ['well-known', 'GET', 200, undefined],
      ['unknown', 'GET', 404, undefined],
      ['manifest', 'DELETE', 405, undefined],
      ['manifest', 'GET', 200, 'dev1'],
    ],
  );
  assert.ok(events.every((e) => e.durationMs >= 0));
});
