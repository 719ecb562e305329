import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient, ApiError, errorLine, type FetchLike } from './api.js';

function recorder(answer: (url: string, init?: RequestInit) => Response | Promise<Response>) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const f: FetchLike = async (url, init) => {
    calls.push({ url, init });
    return answer(url, init);
  };
  return { f, calls };
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

test('reads JSON; GET sends no CSRF header, changes send x-margo-console: 1 and a JSON body', async () => {
  const { f, calls } = recorder(() => json(200, { commit: 'abc', from: 'def', present: true }));
  const api = new ApiClient(f);
  await api.overview();
  assert.equal(calls[0]!.url, '/ui/api/overview');
  assert.equal((calls[0]!.init!.headers as Record<string, string>)['x-margo-console'], undefined);
  const r = await api.rollback('hello world', 'c0ffee');
  assert.deepEqual(r, { commit: 'abc', from: 'def', present: true });
  assert.equal(calls[1]!.url, '/ui/api/deployments/hello%20world/rollback');
  assert.equal(calls[1]!.init!.method, 'POST');
  assert.equal((calls[1]!.init!.headers as Record<string, string>)['x-margo-console'], '1');
  assert.deepEqual(JSON.parse(String(calls[1]!.init!.body)), { to: 'c0ffee' });
});

test('query strings: devices filter/search/paging and diff commits', async () => {
  const { f, calls } = recorder(() => json(200, {}));
  const api = new ApiClient(f);
  await api.devices({ filter: 'stale', q: 'line 3', offset: 100, limit: 100 });
  await api.devices({ filter: 'all', q: '', offset: 0, limit: 100 });
  await api.diff('d/x', 'aaa', 'bbb');
  await api.rolloutAction('hello', 'promote', 'canary');
  assert.equal(calls[0]!.url, '/ui/api/devices?filter=stale&offset=100&limit=100&q=line+3');
  assert.equal(calls[1]!.url, '/ui/api/devices?filter=all&offset=0&limit=100');
  assert.equal(calls[2]!.url, '/ui/api/deployments/d%2Fx/diff?from=aaa&to=bbb');
  assert.equal(calls[3]!.url, '/ui/api/rollouts/hello/promote');
  assert.deepEqual(JSON.parse(String(calls[3]!.init!.body)), { wave: 'canary' });
});

test("the server's error shape becomes an ApiError with its code, message and hint", async () => {
  const { f } = recorder(() =>
    json(409, {
      code: 'CLI_ROLLBACK_NOTHING',
      message: 'nothing to roll back',
      hint: 'pick an older revision',
    }),
  );
  const err = await new ApiClient(f).rollback('x').catch((e: unknown) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 409);
  assert.equal(err.code, 'CLI_ROLLBACK_NOTHING');
  assert.equal(err.hint, 'pick an older revision');
  assert.equal(errorLine(err), 'CLI_ROLLBACK_NOTHING: nothing to roll back');
});

test('401 calls onUnauthenticated (not for the session probe itself); other failures do not', async () => {
  let told = 0;
  const { f } = recorder((url) =>
    url.endsWith('/session')
      ? json(401, { code: 'CONSOLE_UNAUTHENTICATED', message: 'sign in' })
      : url.endsWith('/overview')
        ? json(401, { code: 'CONSOLE_UNAUTHENTICATED', message: 'sign in' })
        : json(403, { code: 'CONSOLE_FORBIDDEN', message: 'viewer' }),
  );
  const api = new ApiClient(f, () => told++);
  const s = await api.session().catch((e: ApiError) => e);
  assert.equal((s as ApiError).unauthenticated, true);
  assert.equal(told, 0);
  await api.overview().catch(() => undefined);
  assert.equal(told, 1);
  const forbidden = await api.rollback('x').catch((e: ApiError) => e);
  assert.equal((forbidden as ApiError).code, 'CONSOLE_FORBIDDEN');
  assert.equal(told, 1);
});

test('non-JSON errors, unreachable server and bodies that are not JSON get stable codes', async () => {
  const html = recorder(
    () => new Response('<h1>Bad gateway</h1>', { status: 502, statusText: 'Bad Gateway' }),
  );
  const e1 = (await new ApiClient(html.f).overview().catch((e: unknown) => e)) as ApiError;
  assert.equal(e1.code, 'CONSOLE_BAD_RESPONSE');
  assert.match(e1.message, /502 Bad Gateway/);

  const notFound = recorder(() => new Response('nope', { status: 404 }));
  const e2 = (await new ApiClient(notFound.f).device('x').catch((e: unknown) => e)) as ApiError;
  assert.equal(e2.code, 'CONSOLE_NOT_FOUND');

  const down = recorder(() => Promise.reject(new TypeError('Failed to fetch')));
  const e3 = (await new ApiClient(down.f).catalog().catch((e: unknown) => e)) as ApiError;
  assert.equal(e3.code, 'CONSOLE_NETWORK');
  assert.equal(e3.status, 0);

  const garbled = recorder(() => new Response('{"half":', { status: 200 }));
  const e4 = (await new ApiClient(garbled.f).overview().catch((e: unknown) => e)) as ApiError;
  assert.equal(e4.code, 'CONSOLE_BAD_RESPONSE');

  const wrongShape = recorder(() => json(500, { error: 'x' }));
  const e5 = (await new ApiClient(wrongShape.f).overview().catch((e: unknown) => e)) as ApiError;
  assert.equal(e5.code, 'CONSOLE_BAD_RESPONSE');
  assert.equal(errorLine(new Error('boom')), 'CONSOLE_ERROR: boom');
});
