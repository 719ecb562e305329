// The Distribution client against the testbed's real docker-registry (open :5000, htpasswd :5001).
// The Bearer token flow has no real counterpart in the testbed: a small token-auth front on
// 127.0.0.1 (forwarding to the open registry) stands in for one, to check where credentials go.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { isMargoError } from '@margo-gitops/spec';
import { requireComponent } from '../../../../test/testbed/env.ts';
import { EMPTY_CONFIG, jsonBytes, sha256Digest } from '../layout.js';
import { OCI_EMPTY, OCI_EMPTY_DIGEST, OCI_MANIFEST } from '../media-types.js';
import {
  listTags,
  parseOciRepository,
  pullBlob,
  pullManifest,
  pushBlob,
  pushManifest,
  type RegistryTarget,
} from './index.js';

const run = randomBytes(4).toString('hex');

function artifact(layer: Buffer) {
  const m = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.margo-gitops.test.v1',
    config: { mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2 },
    layers: [{ mediaType: 'application/octet-stream', digest: sha256Digest(layer), size: layer.length }],
  });
  return { manifest: m, digest: sha256Digest(m) };
}

async function publish(t: RegistryTarget, name: string, tag: string, layer: Buffer) {
  const { manifest, digest } = artifact(layer);
  await pushBlob(t, name, EMPTY_CONFIG);
  await pushBlob(t, name, layer);
  assert.equal(await pushManifest(t, name, tag, manifest, OCI_MANIFEST), digest);
  return digest;
}

async function refused(p: Promise<unknown>, code: string, secret?: string): Promise<Error> {
  const e = await p.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => err as Error,
  );
  assert.ok(isMargoError(e), String(e));
  assert.equal((e as { code: string }).code, code, e.message);
  if (secret)
    assert.ok(!JSON.stringify({ m: e.message, d: (e as { data?: unknown }).data }).includes(secret));
  return e;
}

test('push and pull an artifact on the open registry: tag, digest, file, dedup, tags', async (t) => {
  const tb = requireComponent(t, 'registry');
  if (!tb) return;
  const target: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
  const name = `margo-test/client-${run}`;
  const layer = randomBytes(300_000);
  const digest = await publish(target, name, '1.0.0', layer);

  const byTag = await pullManifest(target, name, '1.0.0');
  assert.equal(byTag.digest, digest);
  assert.equal(byTag.mediaType, OCI_MANIFEST);
  const byDigest = await pullManifest(target, name, digest);
  assert.deepEqual(byDigest.bytes, byTag.bytes);

  const mem = await pullBlob(target, name, sha256Digest(layer), { maxBytes: 1 << 20 });
  assert.deepEqual(mem.bytes, layer);
  const dir = mkdtempSync(join(tmpdir(), 'oci-client-'));
  const file = await pullBlob(target, name, sha256Digest(layer), {
    maxBytes: 1 << 20,
    toFile: join(dir, 'l'),
  });
  assert.deepEqual(readFileSync(file.path!), layer);
  assert.deepEqual(readdirSync(dir), ['l']);

  assert.equal((await pushBlob(target, name, layer)).pushed, false, 'an existing blob is not sent again');
  assert.deepEqual(await listTags(target, name), ['1.0.0']);

  await refused(
    pullBlob(target, name, sha256Digest(layer), { maxBytes: 1000, toFile: join(dir, 'x') }),
    'OCI_LAYER_TOO_LARGE',
  );
  assert.deepEqual(readdirSync(dir), ['l'], 'no partial file is left behind');
  await refused(pullManifest(target, name, '9.9.9'), 'OCI_NOT_FOUND');
  await refused(pullManifest(target, name, sha256Digest(Buffer.from('nope'))), 'OCI_NOT_FOUND');
});

test('pushing a file blob streams it', async (t) => {
  const tb = requireComponent(t, 'registry');
  if (!tb) return;
  const target: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
  const name = `margo-test/client-file-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'oci-client-'));
  const layer = randomBytes(3 * 1024 * 1024 + 17);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'blob'), layer);
  const r = await pushBlob(target, name, {
    path: join(dir, 'blob'),
    digest: sha256Digest(layer),
    size: layer.length,
  });
  assert.equal(r.pushed, true);
  const back = await pullBlob(target, name, r.digest, { maxBytes: 8 << 20 });
  assert.deepEqual(back.bytes, layer);
});

test('a corrupted manifest or blob is refused with OCI_DIGEST_MISMATCH', async (t) => {
  const tb = requireComponent(t, 'registry');
  if (!tb) return;
  const name = `margo-test/client-bad-${run}`;
  const layer = randomBytes(1000);
  const good: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
  const digest = await publish(good, name, '1.0.0', layer);
  // A registry that flips the last byte of every body (a damaged mirror); the real registry serves.
  const flipping: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.ok || init?.method === 'HEAD') return res;
    const b = Buffer.from(await res.arrayBuffer());
    b[b.length - 1] = b[b.length - 1]! ^ 1;
    const h = new Headers(res.headers);
    h.delete('docker-content-digest');
    return new Response(b, { status: res.status, headers: h });
  };
  const bad: RegistryTarget = { ...good, fetch: flipping };
  await refused(pullManifest(bad, name, digest), 'OCI_DIGEST_MISMATCH');
  await refused(pullBlob(bad, name, sha256Digest(layer), { maxBytes: 1 << 20 }), 'OCI_DIGEST_MISMATCH');
});

test('htpasswd registry: right credentials push and pull, wrong ones and none are refused', async (t) => {
  const tb = requireComponent(t, 'registry');
  if (!tb) return;
  const creds = { username: tb.registryUser!, password: tb.registryPassword! };
  const target: RegistryTarget = {
    host: tb.registryAuth!,
    plainHttp: true,
    credentials: creds,
    timeoutMs: 10_000,
  };
  const name = `margo-test/client-auth-${run}`;
  const layer = randomBytes(2000);
  const digest = await publish(target, name, '0.1.0', layer);
  assert.equal((await pullManifest(target, name, '0.1.0')).digest, digest);

  const wrong = 'not-the-password-' + run;
  const e = await refused(
    pullManifest({ ...target, credentials: { username: 'margo', password: wrong } }, name, '0.1.0'),
    'OCI_AUTH_REFUSED',
    wrong,
  );
  assert.match(e.message, /"margo"/);
  await refused(
    pushBlob({ ...target, credentials: { username: 'margo', password: wrong } }, name, randomBytes(10)),
    'OCI_AUTH_REFUSED',
    wrong,
  );
  const anon = await refused(
    pullManifest({ ...target, credentials: undefined }, name, '0.1.0'),
    'OCI_AUTH_REFUSED',
  );
  assert.match(anon.message, /anonymous/);
});

test('an unreachable registry is OCI_REGISTRY_UNREACHABLE (retry with backoff)', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  const e = await refused(
    pullManifest({ host: `127.0.0.1:${port}`, plainHttp: true, timeoutMs: 5000 }, 'a/b', '1'),
    'OCI_REGISTRY_UNREACHABLE',
  );
  assert.equal((e as { retry?: string }).retry, 'backoff');
});

/** Token-auth front for the open registry: Bearer realm on `realmHost`, records who sent credentials. */
async function tokenFront(upstream: string, realmHostOf: (port: number) => string) {
  const seen: { path: string; authorization?: string }[] = [];
  const token = 'tok-' + run;
  const srv: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      seen.push({ path: '/token', authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ token }));
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      const realm = `http://${realmHostOf(port)}/token`;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${realm}",service="front",scope="repository:x:pull"`,
      });
      return res.end();
    }
    const [h, p] = upstream.split(':');
    const up = httpRequest(
      {
        host: h,
        port: Number(p),
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream, authorization: '' },
      },
      (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        ur.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return { srv, port, seen };
}

test('Bearer realm: credentials go to a realm on the registry host, never to another host', async (t) => {
  const tb = requireComponent(t, 'registry');
  if (!tb) return;
  const name = `margo-test/client-bearer-${run}`;
  const open: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
  const digest = await publish(open, name, '1.0.0', randomBytes(100));
  const password = 'secret-' + run;

  const same = await tokenFront(tb.registry!, (port) => `127.0.0.1:${port}`);
  try {
    const target: RegistryTarget = {
      host: `127.0.0.1:${same.port}`,
      plainHttp: true,
      timeoutMs: 10_000,
      credentials: { username: 'u', password },
    };
    assert.equal((await pullManifest(target, name, '1.0.0')).digest, digest);
    assert.equal(same.seen.length, 1);
    assert.equal(same.seen[0]!.authorization, `Basic ${Buffer.from(`u:${password}`).toString('base64')}`);
    // The token is reused: a second pull asks the realm nothing.
    await pullManifest(target, name, digest);
    assert.equal(same.seen.length, 1);
  } finally {
    same.srv.close();
  }

  // Realm on another host (localhost vs 127.0.0.1: a different host[:port] string): anonymous token request.
  const other = await tokenFront(tb.registry!, (port) => `localhost:${port}`);
  try {
    const target: RegistryTarget = {
      host: `127.0.0.1:${other.port}`,
      plainHttp: true,
      timeoutMs: 10_000,
      credentials: { username: 'u', password },
    };
    assert.equal((await pullManifest(target, name, '1.0.0')).digest, digest);
    assert.equal(other.seen.length, 1);
    assert.equal(other.seen[0]!.authorization, undefined, 'credentials were sent to a foreign token realm');
  } finally {
    other.srv.close();
  }
});

test('parseOciRepository', () => {
  assert.deepEqual(parseOciRepository('oci://127.0.0.1:5001/charts/hello'), {
    host: '127.0.0.1:5001',
    name: 'charts/hello',
  });
  assert.deepEqual(parseOciRepository('oci://reg.example/ns', { allowEmptyName: true }), {
    host: 'reg.example',
    name: 'ns',
  });
  assert.deepEqual(parseOciRepository('oci://reg.example:443/', { allowEmptyName: true }), {
    host: 'reg.example:443',
    name: '',
  });
  for (const bad of ['https://x/y', 'oci://x/Upper', 'oci://', 'oci://u:p@x/y', 'oci://x']) {
    assert.throws(() => parseOciRepository(bad), /OCI reference/, bad);
  }
});
