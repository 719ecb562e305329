// The rc.2 client loop against a real `margo serve`, by a client written here on node:https alone:
// trust bundle, manifest, 304, each document and the bundle with every digest checked, then an
// update (a higher manifestVersion) while the older digests stay served from Git history. Every
// JSON body is validated against the upstream rc.2 OpenAPI schemas.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { deployHelloArgs, json } from '../../e2e/cli/harness.js';
import { expectOpenApiValid } from '../../conformance/openapi.js';
import { requireComponent } from '../../testbed/env.js';
import { httpsGet, sha256, startApiFleet, stopApiFleet, waitForManifest, type ApiFleet } from './fleet.js';

interface Manifest {
  manifestVersion: number;
  bundle: { mediaType: string; digest: string; url: string; sizeBytes: number } | null;
  deployments: { deploymentId: string; digest: string; url: string; sizeBytes: number }[];
}

/** Files of an uncompressed ustar archive (enough for what the bundle holds: regular files). */
function untar(tar: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    out.set(name, tar.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('Workload Management API: the rc.2 read loop over mTLS', { timeout: 420_000 }, () => {
  const f: Partial<ApiFleet> = {};
  before(async () => {
    await startApiFleet('margo-api-read-', f);
  });
  after(async () => stopApiFleet(f));

  test('well-known, manifest, 304, 406, documents, bundle, history', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const fleet = f as ApiFleet;
    const keep = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => keep.destroy());
    const get = (path: string, headers: Record<string, string> = {}) =>
      httpsGet(`${fleet.api}${path}`, { ca: fleet.ca, id: fleet.dev1, headers, agent: keep });

    // Discovery: the trust bundle is our root CA, as a SPIFFE JWK set.
    const wk = await httpsGet(`${fleet.api}/.well-known/margo`, { ca: fleet.ca });
    assert.equal(wk.status, 200);
    const { trustDomain, trustBundleUri } = JSON.parse(wk.body.toString()) as Record<string, string>;
    assert.equal(trustDomain, 'margo-gitops.internal');
    const jwks = JSON.parse(
      (await httpsGet(`${fleet.api}${trustBundleUri}`, { ca: fleet.ca })).body.toString(),
    ) as {
      keys: { use: string; x5c: string[] }[];
    };
    assert.equal(jwks.keys[0]!.use, 'x509-svid');
    assert.ok(
      new X509Certificate(Buffer.from(jwks.keys[0]!.x5c[0]!, 'base64')).raw.equals(
        new X509Certificate(fleet.ca).raw,
      ),
    );

    // The first manifest with hello in it.
    const first = await waitForManifest(fleet, (m) => m.deployments.length === 1);
    const m1 = JSON.parse(first.body.toString()) as Manifest;
    expectOpenApiValid('UnsignedAppStateManifest', m1);
    assert.equal(first.headers['content-type'], 'application/vnd.margo.manifest.v1+json');
    assert.equal(first.headers.etag, `"${sha256(first.body)}"`, 'ETag = quoted digest of the exact body');
    assert.equal(first.headers['cache-control'], 'private');
    assert.ok(Number.isInteger(m1.manifestVersion) && m1.manifestVersion >= 1);
    // Our signed manifest rides along as an extension member, for the same version.
    const ext = (
      m1 as unknown as Record<string, { signedManifest: { manifest: { version: string; deviceId: string } } }>
    )['x-margo-gitops-extensions']!;
    assert.equal(ext.signedManifest.manifest.version, String(m1.manifestVersion));
    assert.equal(ext.signedManifest.manifest.deviceId, 'dev1');

    // No change: 304 with no body, on the same kept-alive connection.
    const again = await get('/api/v1/deployments', { 'if-none-match': first.headers.etag as string });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, first.headers.etag);
    // A stale ETag gets the full manifest.
    assert.equal((await get('/api/v1/deployments', { 'if-none-match': '"sha256:00"' })).status, 200);

    // Accept it cannot satisfy: 406 problem; one it can: 200.
    const na = await get('/api/v1/deployments', { accept: 'application/json' });
    assert.equal(na.status, 406);
    assert.equal(na.headers['content-type'], 'application/problem+json');
    const p406 = JSON.parse(na.body.toString()) as { code: string; status: number };
    expectOpenApiValid('ProblemDetail', p406);
    assert.equal(p406.code, 'API_NOT_ACCEPTABLE');
    assert.equal(
      (
        await get('/api/v1/deployments', {
          accept: 'application/vnd.margo.manifest.v1+json;q=0.9, text/plain',
        })
      ).status,
      200,
    );

    // Each document: exact bytes, digest checked, immutable.
    const docs1 = new Map<string, Buffer>();
    for (const d of m1.deployments) {
      assert.equal(d.url, `/api/v1/deployments/${d.deploymentId}/${d.digest}`);
      const r = await get(d.url);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/yaml');
      assert.equal(r.headers['cache-control'], 'private, max-age=31536000, immutable');
      assert.equal(sha256(r.body), d.digest, 'document digest over the exact bytes');
      assert.equal(r.body.length, d.sizeBytes);
      const doc = parse(r.body.toString()) as { id: string; metadata: { deviceId: string } };
      expectOpenApiValid('appDeploymentManifest', doc);
      assert.equal(doc.id, d.deploymentId);
      assert.equal(doc.metadata.deviceId, 'dev1');
      const cached = await get(d.url, { 'if-none-match': `"${d.digest}"` });
      assert.equal(cached.status, 304);
      docs1.set(d.deploymentId, r.body);
    }

    // The bundle: digest checked, exactly the referenced documents at its root.
    const b = await get(m1.bundle!.url);
    assert.equal(b.status, 200);
    assert.equal(b.headers['content-type'], 'application/vnd.margo.bundle.v1+tar+gzip');
    assert.equal(sha256(b.body), m1.bundle!.digest);
    const files = untar(gunzipSync(b.body));
    assert.deepEqual([...files.keys()].sort(), m1.deployments.map((d) => `${d.deploymentId}.yaml`).sort());
    for (const d of m1.deployments) assert.equal(sha256(files.get(`${d.deploymentId}.yaml`)!), d.digest);

    // Unknown digests: 404 problem (never a delete signal).
    const zero = `sha256:${'0'.repeat(64)}`;
    for (const path of [
      `/api/v1/deployments/${m1.deployments[0]!.deploymentId}/${zero}`,
      `/api/v1/bundles/${zero}`,
    ]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      expectOpenApiValid('ProblemDetail', JSON.parse(r.body.toString()));
    }

    // An update: a strictly greater manifestVersion, new digests; the old ones are still served.
    json(
      await fleet.cli.run(...deployHelloArgs({ device: 'dev1', greeting: 'two', hostPort: fleet.hostPort })),
    );
    const second = await waitForManifest(
      fleet,
      (m) =>
        m.manifestVersion > m1.manifestVersion &&
        m.deployments.length === 1 &&
        (m as Manifest).deployments[0]!.digest !== m1.deployments[0]!.digest,
    );
    const m2 = JSON.parse(second.body.toString()) as Manifest;
    expectOpenApiValid('UnsignedAppStateManifest', m2);
    assert.notEqual(m2.bundle!.digest, m1.bundle!.digest);
    assert.equal(
      (await get('/api/v1/deployments', { 'if-none-match': first.headers.etag as string })).status,
      200,
    );
    const old = await get(m1.deployments[0]!.url);
    assert.equal(old.status, 200, 'a client mid-update still gets the document its manifest promised');
    assert.ok(old.body.equals(docs1.get(m1.deployments[0]!.deploymentId)!));
    const oldBundle = await get(m1.bundle!.url);
    assert.equal(oldBundle.status, 200);
    assert.ok(
      oldBundle.body.equals(b.body),
      'the bundle is deterministic: re-derived from history, same bytes',
    );
    const cur = await get(m2.deployments[0]!.url);
    assert.equal(sha256(cur.body), m2.deployments[0]!.digest);
    assert.match(cur.body.toString(), /GREETING:[\s\S]*value: two/);
  });

  test('a device past its request budget gets 429 with Retry-After; other devices are not slowed', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const fleet = f as ApiFleet;
    const keep = new Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => keep.destroy());
    const poll = (id: ApiFleet['dev1']) =>
      httpsGet(`${fleet.api}/api/v1/deployments`, { ca: fleet.ca, id, agent: keep });
    // Default budget: 120 reads at once, 20 a second after that. A client stuck in a loop meets it.
    let limited: Awaited<ReturnType<typeof poll>> | undefined;
    for (let i = 0; i < 400 && !limited; i++) {
      const r = await poll(fleet.dev1);
      if (r.status === 429) limited = r;
      else assert.ok(r.status === 200 || r.status === 503, `poll ${i}: ${r.status}`);
    }
    assert.ok(limited, 'the flood met the budget');
    assert.match(String(limited.headers['retry-after']), /^[1-9][0-9]*$/);
    const p = JSON.parse(limited.body.toString()) as Record<string, unknown>;
    expectOpenApiValid('ProblemDetail', p);
    assert.equal(p.code, 'API_RATE_LIMITED');
    assert.equal(p.retryable, true);
    assert.notEqual((await poll(fleet.dev2)).status, 429, "another device's budget is its own");
  });
});
