import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ociReference, parseOciRepository, pullOciArchive } from './oci-archive.js';

test('OCI references: repository and revision', () => {
  assert.deepEqual(parseOciRepository('oci://127.0.0.1:5000/margo/app'), {
    host: '127.0.0.1:5000',
    name: 'margo/app',
  });
  assert.deepEqual(parseOciRepository('oci://reg.example/a/b/c/'), { host: 'reg.example', name: 'a/b/c' });
  for (const bad of ['https://reg/x', 'oci://reg', 'oci://reg/UPPER', 'oci://reg/a//b'])
    assert.throws(() => parseOciRepository(bad), { code: 'AGENT_INVALID_DOCUMENT' }, bad);
  assert.equal(ociReference('1.2.3+build.5'), '1.2.3_build.5');
  assert.equal(ociReference(`sha256:${'a'.repeat(64)}`), `sha256:${'a'.repeat(64)}`);
  assert.throws(() => ociReference('../x'), { code: 'AGENT_INVALID_DOCUMENT' });
});

// The testbed's registries use Basic auth; the Bearer token flow (what most hosted registries use)
// is exercised against this small in-process registry stand-in, which serves one artifact.
test('OCI client: Bearer token flow, layer digest checked', async (t) => {
  const archive = Buffer.from('pretend tar.gz');
  const digest = `sha256:${createHash('sha256').update(archive).digest('hex')}`;
  let served = archive;
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:' + '0'.repeat(64), size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: archive.length }],
  });
  const tokenAsked: string[] = [];
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      tokenAsked.push(`${url.searchParams.get('scope')} ${req.headers.authorization ?? 'anonymous'}`);
      const ok = req.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      return res.end(ok ? JSON.stringify({ token: 'T0K' }) : '{}');
    }
    if (req.headers.authorization !== 'Bearer T0K') {
      const { port } = srv.address() as AddressInfo;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="stand-in",scope="repository:app:pull"`,
      });
      return res.end();
    }
    if (url.pathname === '/v2/app/manifests/1.0.0') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      return res.end(manifest);
    }
    if (url.pathname === `/v2/app/blobs/${digest}`) return res.end(served);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const o = { timeoutMs: 5000, plainHttp: true };

  await assert.rejects(pullOciArchive(`oci://${host}/app`, '1.0.0', o), {
    code: 'AGENT_REGISTRY_AUTH_FAILED',
  });
  const creds = { server: host, username: 'u', password: 'p' };
  const a = await pullOciArchive(`oci://${host}/app`, '1.0.0', { ...o, credentials: creds });
  assert.ok(a.bytes.equals(archive));
  assert.deepEqual(tokenAsked.at(-1), `repository:app:pull Basic ${Buffer.from('u:p').toString('base64')}`);
  // Credentials for another registry are not sent.
  await assert.rejects(
    pullOciArchive(`oci://${host}/app`, '1.0.0', { ...o, credentials: { ...creds, server: 'other:5000' } }),
    { code: 'AGENT_REGISTRY_AUTH_FAILED' },
  );
  served = Buffer.from('tampered');
  await assert.rejects(pullOciArchive(`oci://${host}/app`, '1.0.0', { ...o, credentials: creds }), {
    code: 'AGENT_CHECKSUM_MISMATCH',
  });
});
