/**
 * The embedded OCI registry of a real `margo serve` over HTTP: the Distribution API answers
 * (headers, Range, HEAD, tags paging, OCI error bodies), legacy Compose packages served as the
 * synthesised artifact, device scope, and the pre-receive checks of `oci/` layouts with stock git.
 * The device's desired state is written into its repository with git plumbing (standing in for the
 * orchestrator, which renders it in the other suites) so the scope rules can be tested alone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenStore } from '../../../packages/git/src/index.js';
import {
  COMPOSE_ARTIFACT,
  composeArtifact,
  EMPTY_CONFIG,
  OCI_MANIFEST,
  sha256Digest,
} from '../../../packages/oci/src/index.js';
import { repoRoot } from '../../e2e/cli/harness.js';
import { BareRepo } from '../../security/helpers.js';
import { basic, layoutFiles, pushCatalog, startMargo, type LayoutArtifact, type Served } from './helpers.js';

let s: Served;
const LAYER_LIMIT = 4096;
let tarball: Buffer;

/** A small Compose-shaped artifact whose layer is `layer`. */
function artifact(
  repository: string,
  tag: string,
  layer: Buffer,
  extra: Partial<LayoutArtifact> = {},
): LayoutArtifact {
  const m = composeArtifact(sha256Digest(layer), layer.length, tag.replace(/_/g, '+'));
  return {
    repository,
    tag,
    manifest: m.bytes,
    mediaType: OCI_MANIFEST,
    artifactType: COMPOSE_ARTIFACT,
    blobs: [EMPTY_CONFIG, layer],
    ...extra,
  };
}

async function get(path: string, token: string | undefined, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', basic(token));
  return fetch(`${s.url}${path}`, { ...init, headers });
}

async function ociError(res: Response): Promise<string> {
  const j = (await res.json()) as { errors: { code: string }[] };
  return j.errors[0]!.code;
}

before(async () => {
  // A small layer limit, so a real blob over it is cheap to push.
  s = await startMargo(process.env, { maxLayerBytes: LAYER_LIMIT });
  // A legacy package: margo.yaml + a package-relative Compose tarball, no oci/ folder.
  const tarPath = join(s.dir, 'compose.tar.gz');
  execFileSync('tar', ['-czf', tarPath, '-C', join(repoRoot, 'examples/hello-world/resources'), 'compose']);
  tarball = readFileSync(tarPath);
  const pushed = await pushCatalog(
    s,
    {
      'hello-world/1.0.0/margo.yaml': readFileSync(join(repoRoot, 'examples/hello-world/margo.yaml')),
      'hello-world/1.0.0/resources/compose.tar.gz': tarball,
      'hello-world/1.0.0/resources/description.md': 'hello\n',
    },
    'legacy hello-world',
  );
  assert.ok(pushed.ok, pushed.output);
});

after(async () => {
  await s?.close();
});

describe('embedded registry: Distribution API', () => {
  test('GET /v2/ asks for Basic credentials and accepts a margo token as the password', async () => {
    const anon = await get('/v2/', undefined);
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="margo"');
    assert.equal(await ociError(anon), 'UNAUTHORIZED');
    const wrong = await get('/v2/', 'mgt_0000000000000000_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    assert.equal(wrong.status, 401);
    const ok = await get('/v2/', s.tokens.operator);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  test('a legacy Compose package is served as the artifact composeArtifact() describes, byte for byte', async () => {
    const want = composeArtifact(sha256Digest(tarball), tarball.length, '1.0.0');
    const res = await get('/v2/hello-world/hello/manifests/1.0.0', s.tokens.admin);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.deepEqual(body, want.bytes);
    assert.equal(res.headers.get('docker-content-digest'), want.digest);
    assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(res.headers.get('content-length'), String(want.bytes.length));
    assert.equal(res.headers.get('etag'), `"${want.digest}"`);
    const byDigest = await get(`/v2/hello-world/hello/manifests/${want.digest}`, s.tokens.admin);
    assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), want.bytes);
    const head = await get('/v2/hello-world/hello/manifests/1.0.0', s.tokens.admin, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), want.digest);
    assert.equal(head.headers.get('content-length'), String(want.bytes.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const layer = await get(`/v2/hello-world/hello/blobs/${sha256Digest(tarball)}`, s.tokens.admin);
    assert.equal(layer.status, 200);
    assert.deepEqual(Buffer.from(await layer.arrayBuffer()), tarball);
    const config = await get(`/v2/hello-world/hello/blobs/${sha256Digest(EMPTY_CONFIG)}`, s.tokens.admin);
    assert.equal(await config.text(), '{}');
  });

  test('blobs: Range gives 206 with the bytes asked for, an unsatisfiable one 416; HEAD has no body', async () => {
    const path = `/v2/hello-world/hello/blobs/${sha256Digest(tarball)}`;
    const part = await get(path, s.tokens.admin, { headers: { range: 'bytes=10-29' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-29/${tarball.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), tarball.subarray(10, 30));
    const tail = await get(path, s.tokens.admin, { headers: { range: 'bytes=-5' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), tarball.subarray(tarball.length - 5));
    const beyond = await get(path, s.tokens.admin, { headers: { range: `bytes=${tarball.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${tarball.length}`);
    assert.equal(await ociError(beyond), 'RANGE_INVALID');
    const head = await get(path, s.tokens.admin, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(tarball.length));
    assert.equal(head.headers.get('docker-content-digest'), sha256Digest(tarball));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  test('unknown tag, blob and repository: 404 with the OCI error codes; writes: 405 UNSUPPORTED', async () => {
    const tag = await get('/v2/hello-world/hello/manifests/9.9.9', s.tokens.admin);
    assert.equal(tag.status, 404);
    assert.equal(await ociError(tag), 'MANIFEST_UNKNOWN');
    const blob = await get(`/v2/hello-world/hello/blobs/sha256:${'0'.repeat(64)}`, s.tokens.admin);
    assert.equal(blob.status, 404);
    assert.equal(await ociError(blob), 'BLOB_UNKNOWN');
    const repo = await get('/v2/no-such/thing/tags/list', s.tokens.admin);
    assert.equal(repo.status, 404);
    assert.equal(await ociError(repo), 'NAME_UNKNOWN');
    const put = await get('/v2/hello-world/hello/manifests/2.0.0', s.tokens.publisher, {
      method: 'PUT',
      body: '{}',
    });
    assert.equal(put.status, 405);
    assert.equal(await ociError(put), 'UNSUPPORTED');
    const upload = await get('/v2/hello-world/hello/blobs/uploads/', s.tokens.admin, { method: 'POST' });
    assert.equal(upload.status, 405);
  });

  test('tags/list pages with n and last (Link to the next page); external entries are not served', async () => {
    const layer = randomBytes(64);
    const pushed = await pushCatalog(
      s,
      layoutFiles('paging/1.0.0', [
        artifact('paging/app', 'a', layer),
        artifact('paging/app', 'b', layer),
        artifact('paging/app', 'c', layer),
        // Published to an external registry: manifest and config committed, layer not.
        {
          ...artifact('paging/ext', '1', layer, { registry: 'registry.example.invalid/ns' }),
          blobs: [EMPTY_CONFIG],
        },
      ]),
      'paging layout',
    );
    assert.ok(pushed.ok, pushed.output);
    const all = await get('/v2/paging/app/tags/list', s.tokens.admin);
    assert.deepEqual(await all.json(), { name: 'paging/app', tags: ['a', 'b', 'c'] });
    const first = await get('/v2/paging/app/tags/list?n=2', s.tokens.admin);
    assert.deepEqual(await first.json(), { name: 'paging/app', tags: ['a', 'b'] });
    assert.equal(first.headers.get('link'), '</v2/paging/app/tags/list?n=2&last=b>; rel="next"');
    const next = await get('/v2/paging/app/tags/list?n=2&last=b', s.tokens.admin);
    assert.deepEqual(await next.json(), { name: 'paging/app', tags: ['c'] });
    assert.equal(next.headers.get('link'), null);
    const ext = await get('/v2/paging/ext/manifests/1', s.tokens.admin);
    assert.equal(ext.status, 404);
  });
});

describe('embedded registry: device scope', () => {
  test('a device reads the repositories its desired state references at this host, nothing else', async () => {
    const id = 'regdev1';
    const { token } = TokenStore.open(join(s.dataDir, 'auth', 'tokens.json')).issueToken('device', {
      deviceId: id,
      name: `device ${id}`,
    });
    const repo = BareRepo.init(join(s.dataDir, 'repos', 'devices', `${id}.git`));
    repo.commit(
      new Map([
        [
          'deployments/hello.yaml',
          Buffer.from(
            [
              'spec:',
              '  deploymentProfile:',
              '    type: compose',
              '    components:',
              '      - name: hello',
              '        properties:',
              `          repository: oci://${s.host}/hello-world/hello`,
              '          revision: 1.0.0',
              '      - name: other',
              '        properties:',
              '          repository: oci://elsewhere.example.invalid/paging/app',
              '          revision: a',
            ].join('\n'),
          ),
        ],
      ]),
      'desired state',
    );
    assert.equal((await get('/v2/', token)).status, 200);
    const mine = await get('/v2/hello-world/hello/manifests/1.0.0', token);
    assert.equal(mine.status, 200);
    const layer = await get(`/v2/hello-world/hello/blobs/${sha256Digest(tarball)}`, token);
    assert.equal(layer.status, 200);
    await layer.arrayBuffer();
    // Referenced, but on another host: not this registry's to give.
    for (const path of [
      '/v2/paging/app/manifests/a',
      '/v2/paging/app/tags/list',
      '/v2/no-such/repo/manifests/1',
    ]) {
      const res = await get(path, token);
      assert.equal(res.status, 403, path);
      assert.equal(await ociError(res), 'DENIED');
    }
  });
});

describe('catalog pushes: pre-receive checks of oci/ layouts', () => {
  const layer = randomBytes(128);

  test('a blob whose sha256 is not its name is refused with OCI_DIGEST_MISMATCH and the path', async () => {
    const files = layoutFiles('tamper/1.0.0', [artifact('tamper/app', '1', layer)]);
    const blobPath = `tamper/1.0.0/oci/blobs/sha256/${sha256Digest(layer).slice(7)}`;
    files[blobPath] = Buffer.concat([layer, Buffer.from('x')]);
    const r = await pushCatalog(s, files, 'tampered');
    assert.equal(r.ok, false);
    assert.match(r.output, new RegExp(`${blobPath} OCI_DIGEST_MISMATCH`));
    assert.equal((await get('/v2/tamper/app/manifests/1', s.tokens.admin)).status, 404);
  });

  test('a manifest naming a missing blob is refused with OCI_BLOB_MISSING', async () => {
    const a = artifact('missing/app', '1', layer);
    const r = await pushCatalog(
      s,
      layoutFiles('missing/1.0.0', [{ ...a, blobs: [EMPTY_CONFIG] }]),
      'missing',
    );
    assert.equal(r.ok, false);
    assert.match(
      r.output,
      /missing\/1\.0\.0\/oci\/blobs\/sha256\/[0-9a-f]{64} OCI_BLOB_MISSING layer sha256:/,
    );
  });

  test('a malformed index.json is refused with OCI_LAYOUT_INVALID', async () => {
    const files = layoutFiles('broken/1.0.0', [artifact('broken/app', '1', layer)]);
    files['broken/1.0.0/oci/index.json'] = Buffer.from(
      '{"schemaVersion":2,"manifests":[{"digest":"sha256:12"}]}',
    );
    const r = await pushCatalog(s, files, 'broken');
    assert.equal(r.ok, false);
    assert.match(r.output, /broken\/1\.0\.0\/oci\/index\.json OCI_LAYOUT_INVALID/);
  });

  test('a layer blob over the server limit (config.json maxLayerBytes) is refused with OCI_LAYER_TOO_LARGE', async () => {
    const big = randomBytes(LAYER_LIMIT + 1);
    const r = await pushCatalog(s, layoutFiles('big/1.0.0', [artifact('big/app', '1', big)]), 'big');
    assert.equal(r.ok, false);
    assert.match(
      r.output,
      new RegExp(`big/1\\.0\\.0/oci/blobs/sha256/${sha256Digest(big).slice(7)} OCI_LAYER_TOO_LARGE`),
    );
    const small = randomBytes(LAYER_LIMIT);
    const ok = await pushCatalog(
      s,
      layoutFiles('big/1.0.1', [artifact('big/app', '2', small)]),
      'at the limit',
    );
    assert.ok(ok.ok, ok.output);
  });

  test('a layer a manifest declares over the limit is refused with OCI_LAYER_TOO_LARGE', async () => {
    // An external entry commits no layers, so its manifest can declare a layer of any size.
    const big = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(EMPTY_CONFIG), size: 2 },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest: sha256Digest(layer),
          size: 600 * 1024 * 1024 * 1024,
        },
      ],
    };
    const manifest = Buffer.from(JSON.stringify(big));
    const r = await pushCatalog(
      s,
      layoutFiles('huge/1.0.0', [
        {
          repository: 'huge/app',
          tag: '1',
          registry: 'registry.example.invalid',
          manifest,
          mediaType: OCI_MANIFEST,
          blobs: [EMPTY_CONFIG],
        },
      ]),
      'huge',
    );
    assert.equal(r.ok, false);
    assert.match(r.output, /huge\/1\.0\.0\/oci\/blobs\/sha256\/[0-9a-f]{64} OCI_LAYER_TOO_LARGE/);
  });
});

describe('embedded registry: blobs are verified before they are served', () => {
  test('a blob changed behind the Git server (written into the bare repository) is not served', async () => {
    const layer = randomBytes(256);
    const files = layoutFiles('forged/1.0.0', [artifact('forged/app', '1', layer)]);
    const forged = Buffer.from(layer);
    forged[0] = forged[0]! ^ 0xff; // same size, other bytes
    files[`forged/1.0.0/oci/blobs/sha256/${sha256Digest(layer).slice(7)}`] = forged;
    // Plumbing straight into the bare repository: no pre-receive hook runs.
    const catalog = new BareRepo(join(s.dataDir, 'repos', 'catalog.git'));
    const tree = catalog.readTree('main');
    for (const [p, b] of Object.entries(files)) tree.set(p, b);
    catalog.commit(tree, 'forged behind the server');
    const manifest = await get('/v2/forged/app/manifests/1', s.tokens.admin);
    assert.equal(manifest.status, 200);
    await manifest.arrayBuffer();
    const blob = await get(`/v2/forged/app/blobs/${sha256Digest(layer)}`, s.tokens.admin);
    assert.equal(blob.status, 500);
    assert.equal(await ociError(blob), 'UNKNOWN');
    assert.equal(
      existsSync(join(s.dataDir, 'cache', 'oci-blobs', 'sha256', sha256Digest(layer).slice(7))),
      false,
    );
    // A range of it is refused the same way: nothing of an unverified blob goes out.
    const part = await get(`/v2/forged/app/blobs/${sha256Digest(layer)}`, s.tokens.admin, {
      headers: { range: 'bytes=0-9' },
    });
    assert.equal(part.status, 500);
  });
});
