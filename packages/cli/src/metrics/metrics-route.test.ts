import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { metricsHandler } from './metrics-route.js';

test('GET /metrics: 401 without a valid token, 403 for other roles, text for admin/operator/viewer', async (t) => {
  const roles: Record<string, string> = {
    a: 'admin',
    o: 'operator',
    v: 'viewer',
    p: 'publisher',
    d: 'device',
  };
  const failures: string[] = [];
  let blockedFor = 0;
  const handle = metricsHandler(
    {
      scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'margo_x 1\n' }),
    },
    {
      roleOf: (req) => roles[(req.headers.authorization ?? '').replace(/^Bearer /, '')],
      failures: { fail: (a) => failures.push(a), retryAfterSeconds: () => blockedFor },
    },
  );
  const server = createServer(async (req, res) => {
    if (!(await handle(req, res))) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (token?: string, path = '/metrics', method = 'GET') => {
    const r = await fetch(`${base}${path}`, {
      method,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    return {
      status: r.status,
      type: r.headers.get('content-type'),
      body: await r.text(),
      www: r.headers.get('www-authenticate'),
    };
  };
  const none = await get();
  assert.equal(none.status, 401);
  assert.equal(none.www, 'Bearer');
  assert.equal(JSON.parse(none.body).code, 'METRICS_UNAUTHORIZED');
  assert.deepEqual(failures, [], 'no token is not a wrong token');
  assert.equal((await get('wrong')).status, 401);
  assert.deepEqual(failures, ['127.0.0.1']);
  for (const tok of ['p', 'd']) {
    const r = await get(tok);
    assert.equal(r.status, 403, tok);
    assert.equal(JSON.parse(r.body).code, 'METRICS_FORBIDDEN');
  }
  for (const tok of ['a', 'o', 'v']) {
    const r = await get(tok);
    assert.equal(r.status, 200, tok);
    assert.equal(r.body, 'margo_x 1\n');
    assert.match(r.type ?? '', /^text\/plain/);
  }
  assert.equal((await get('a', '/metrics', 'POST')).status, 405);
  assert.equal((await get('a', '/metricsx')).status, 404, 'other paths are not ours');
  blockedFor = 17;
  const blocked = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer a' } });
  assert.equal(blocked.status, 429, 'an address over the failure limit is refused, even with a good token');
  assert.equal(blocked.headers.get('retry-after'), '17');
  assert.equal(((await blocked.json()) as { code: string }).code, 'METRICS_RATE_LIMITED');
});
