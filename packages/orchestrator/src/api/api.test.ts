import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { accepts, noneMatch, routeOf } from './handler.js';
import { problemBody } from './problem.js';
import { ApiStateCache } from './state-cache.js';
import type { DeviceStateReader } from './reader.js';
import { buildStateManifest, deploymentIdOf } from './state-manifest.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const doc = (id: string, greeting: string) =>
  Buffer.from(
    `id: ${id}\nmetadata:\n  name: hello\nspec:\n  parameters:\n    GREETING:\n      value: ${greeting}\n`,
  );

test('manifest: exact version beyond 2^53, digests of the exact bytes, deterministic bundle, ETag stable', () => {
  const files = new Map([
    ['deployments/b.yaml', doc('id-b', 'x')],
    ['deployments/a.yaml', doc('id-a', 'y')],
    ['margo-manifest.json', Buffer.from('{"manifest":{"version":"18446744073709551615"}}')],
    ['other.txt', Buffer.from('not a deployment')],
  ]);
  const s = {
    commit: 'c1',
    files,
    version: '18446744073709551615',
    signedManifest: files.get('margo-manifest.json')!,
  };
  const m = buildStateManifest(s);
  assert.match(m.body.toString(), /^\{"manifestVersion":18446744073709551615,"bundle":\{/);
  const j = JSON.parse(m.body.toString()) as { deployments: { deploymentId: string; digest: string }[] };
  assert.deepEqual(
    j.deployments.map((d) => d.deploymentId),
    ['id-a', 'id-b'],
  );
  assert.equal(j.deployments[0]!.digest, sha(doc('id-a', 'y')));
  assert.equal(m.digest, sha(m.body));
  // Same content, same bytes: from a fresh build and with the files in another order.
  const again = buildStateManifest({ ...s, files: new Map([...files].reverse()) });
  assert.ok(again.body.equals(m.body) && again.bundle!.bytes.equals(m.bundle!.bytes));
  assert.ok(gunzipSync(m.bundle!.bytes).includes(Buffer.from('id-a.yaml')));
  // No deployments: bundle null (never an empty archive).
  const empty = buildStateManifest({ commit: 'c0', files: new Map(), version: '1' });
  assert.equal(empty.bundle, null);
  assert.equal(empty.body.toString(), '{"manifestVersion":1,"bundle":null,"deployments":[]}');
});

test('deployment id: top-level id, older annotation id, else the file name', () => {
  assert.equal(deploymentIdOf('deployments/x.yaml', doc('u-1', 'a')), 'u-1');
  assert.equal(
    deploymentIdOf('deployments/x.yaml', Buffer.from('metadata:\n  annotations:\n    id: old-1\n')),
    'old-1',
  );
  assert.equal(deploymentIdOf('deployments/x.yaml', Buffer.from('id: "has space"\n')), 'x');
});

test('Accept, If-None-Match and routes', () => {
  const T = 'application/vnd.margo.manifest.v1+json';
  for (const a of [undefined, '', '*/*', 'application/*', T, `text/plain, ${T};q=0.5`])
    assert.ok(accepts(a, T), String(a));
  for (const a of ['application/json', 'text/*', `${T};q=0`]) assert.ok(!accepts(a, T), a);
  assert.ok(noneMatch('"x", W/"sha256:a"', '"sha256:a"'));
  assert.ok(noneMatch('*', '"a"'));
  assert.ok(!noneMatch(undefined, '"a"') && !noneMatch('"b"', '"a"'));
  assert.deepEqual(routeOf('/api/v1/deployments/u1/status'), { kind: 'status', deploymentId: 'u1' });
  assert.deepEqual(routeOf('/api/v1/deployments/u1/sha256:ab'), {
    kind: 'deployment',
    deploymentId: 'u1',
    digest: 'sha256:ab',
  });
  assert.equal(routeOf('/api/v1/deployments/'), undefined);
  assert.equal(routeOf('/api/v1/deployments/a%2Fb/x'), undefined);
  assert.equal(routeOf('/api/v1/bundles/a/b'), undefined);
});

test('problem bodies: Margo invalid-request type for 400/422, our URN otherwise, Retry-After facts when retryable', () => {
  assert.equal(
    problemBody(422, 'API_NOT_FOUND').type,
    'https://docs.margo.org/specification/problem-types#invalid-request',
  );
  const p = problemBody(503, 'API_UNAVAILABLE', { retryAfterSeconds: 30 });
  assert.equal(p.type, 'urn:margo-gitops:error:API_UNAVAILABLE');
  assert.deepEqual(
    [p.retryable, p.retryAfterSeconds, p.backoffStrategy, p.code],
    [true, 30, 'exponential', 'API_UNAVAILABLE'],
  );
});

test('state cache: one ref read per unchanged poll; older digests found in history; unknown ones cost no second scan', async () => {
  const commits = new Map<string, Map<string, Buffer>>([
    ['c1', new Map([['deployments/h.yaml', doc('u1', 'one')]])],
    ['c2', new Map([['deployments/h.yaml', doc('u1', 'two')]])],
  ]);
  let head = 'c1';
  const calls = { files: 0, ancestors: 0 };
  const reader: DeviceStateReader = {
    head: async (id) => (id === 'dev1' ? head : null),
    files: async (_id, c) => (calls.files++, commits.get(c)!),
    vouch: async (_id, c) => ({ version: c.slice(1) }),
    ancestors: async (_id, c) => (calls.ancestors++, c === 'c2' ? ['c2', 'c1'] : ['c1']),
  };
  const cache = new ApiStateCache(reader);
  const m1 = await cache.manifest('dev1');
  assert.equal(await cache.manifest('dev1'), m1);
  assert.equal(calls.files, 1);
  head = 'c2';
  const m2 = await cache.manifest('dev1');
  assert.equal(m2.version, '2');
  const fresh = new ApiStateCache(reader); // a restarted server knows only the head
  await fresh.manifest('dev1');
  assert.ok((await fresh.deployment('dev1', 'u1', m1.docs[0]!.digest))!.equals(doc('u1', 'one')));
  assert.ok((await fresh.bundle('dev1', m1.bundle!.digest))!.equals(m1.bundle!.bytes));
  assert.equal(
    await fresh.deployment('dev1', 'other-id', m1.docs[0]!.digest),
    undefined,
    'digest under another id',
  );
  const scans = calls.ancestors;
  assert.equal(await fresh.bundle('dev1', `sha256:${'0'.repeat(64)}`), undefined);
  assert.equal(await fresh.bundle('dev1', `sha256:${'1'.repeat(64)}`), undefined);
  assert.ok(calls.ancestors <= scans + 1);
  await assert.rejects(fresh.manifest('dev9'), { code: 'API_UNAVAILABLE' });
});
