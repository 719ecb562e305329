// The handler over a real node:http server; the state cache and the writes are stand-ins (their own
// tests use real repositories): what is checked is how the handler answers their failures.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { MargoError } from '@margo-gitops/spec';
import { createWorkloadApiHandler } from './handler.js';
import type { ApiStateCache } from './state-cache.js';

test('a write failing after an await is answered 503 with Retry-After, and the process lives on', async (t) => {
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  t.after(() => process.off('unhandledRejection', onRejection));
  const unavailable = async () => {
    await new Promise((r) => setImmediate(r));
    throw new MargoError('API_UNAVAILABLE', 'the desired state of this device is being restored');
  };
  const handler = createWorkloadApiHandler({
    cache: {} as ApiStateCache,
    identify: () => ({ deviceId: 'dev1' }) as never,
    trustDomain: 'example.internal',
    trustBundle: () => ({}),
    writes: { postStatus: unavailable, putCapabilities: unavailable, deleteCapabilities: unavailable },
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [method, path] of [
    ['POST', '/api/v1/deployments/d1/status'],
    ['PUT', '/api/v1/capabilities/dev1'],
    ['DELETE', '/api/v1/capabilities/dev1'],
  ] as const) {
    const r = await fetch(`${base}${path}`, { method, ...(method === 'DELETE' ? {} : { body: '{}' }) });
    assert.equal(r.status, 503, `${method} ${path}`);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal(((await r.json()) as { code: string }).code, 'API_UNAVAILABLE');
  }
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(rejections, [], 'no rejection escaped the handler');
});

test("a 503's Retry-After comes from its cause: 10 s before a first state, 2 s for a busy branch, else 30 s", async (t) => {
  const causes: Record<string, MargoError> = {
    '/api/v1/capabilities/dev1': new MargoError('API_UNAVAILABLE', 'no desired state yet', {
      data: { retryAfterSeconds: 10 },
    }),
    '/api/v1/deployments/d1/status': new MargoError('API_UNAVAILABLE', 'the status branch is busy', {
      data: { retryAfterSeconds: 2 },
    }),
  };
  const fail = (what: string) => () =>
    Promise.reject(causes[what] ?? new MargoError('API_UNAVAILABLE', 'restoring'));
  const handler = createWorkloadApiHandler({
    cache: {} as ApiStateCache,
    identify: () => ({ deviceId: 'dev1' }) as never,
    trustDomain: 'example.internal',
    trustBundle: () => ({}),
    writes: {
      postStatus: fail('/api/v1/deployments/d1/status'),
      putCapabilities: fail('/api/v1/capabilities/dev1'),
      deleteCapabilities: fail('other'),
    },
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const wait = async (method: string, path: string) => {
    const r = await fetch(`${base}${path}`, { method, ...(method === 'DELETE' ? {} : { body: '{}' }) });
    const body = (await r.json()) as { retryAfterSeconds: number };
    assert.equal(String(body.retryAfterSeconds), r.headers.get('retry-after'), 'body and header agree');
    return r.headers.get('retry-after');
  };
  assert.equal(await wait('PUT', '/api/v1/capabilities/dev1'), '10');
  assert.equal(await wait('POST', '/api/v1/deployments/d1/status'), '2');
  assert.equal(await wait('DELETE', '/api/v1/capabilities/dev1'), '30');
});
