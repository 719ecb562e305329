import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { jsonBytes, layoutIndex, sha256Digest, type IndexEntry } from '../layout.js';
import { OCI_INDEX, OCI_MANIFEST } from '../media-types.js';
import { createRegistryHandler } from './handler.js';
import type { LayoutSource, SourceLayout } from './source.js';

/** A LayoutSource over blobs held in memory (one layout, one revision); counts blob opens. */
function memorySource(index: Buffer, blobs: Buffer[]) {
  const byDigest = new Map(blobs.map((b) => [sha256Digest(b), b]));
  const layout: SourceLayout = {
    name: 'app/1.0.0/oci',
    index,
    blobs: new Map([...byDigest].map(([d, b]) => [d, b.length])),
  };
  const opens: string[] = [];
  const source: LayoutSource = {
    revision: async () => 'r1',
    layouts: async () => [layout],
    readBlob: async (_r, _l, d) => byDigest.get(d)!,
    openBlob: async (_r, _l, d) => {
      opens.push(d);
      return Readable.from([byDigest.get(d)!]);
    },
  };
  return { source, opens };
}

const layer = Buffer.from('layer bytes '.repeat(100));
const config = Buffer.from('{"architecture":"amd64"}');
const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha256Digest(b), size: b.length });
// No mediaType inside: served with the type its descriptor gives.
const child = jsonBytes({
  schemaVersion: 2,
  config: desc('application/vnd.oci.image.config.v1+json', config),
  layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)],
});
const multi = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [desc(OCI_MANIFEST, child)] });
const missingLayer = Buffer.from('not committed');
const broken = jsonBytes({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: desc('x', config),
  layers: [desc('y', missingLayer)],
});
const entries: IndexEntry[] = [
  { descriptor: desc(OCI_INDEX, multi), repository: 'app/images/multi', tag: '1' },
  { descriptor: desc(OCI_MANIFEST, broken), repository: 'app/images/broken', tag: '1' },
];
const mem = memorySource(layoutIndex(entries), [layer, config, child, multi, broken]);
const warnings: string[] = [];
let server: Server;
let base: string;
let cacheDir: string;

before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'oci-registry-'));
  const handle = createRegistryHandler({ source: mem.source, cacheDir, onWarning: (m) => warnings.push(m) });
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

test('an image index and its child manifest are served; the child keeps its descriptor media type', async () => {
  const top = await fetch(`${base}/v2/app/images/multi/manifests/1`);
  assert.equal(top.status, 200);
  assert.equal(top.headers.get('content-type'), OCI_INDEX);
  assert.deepEqual(Buffer.from(await top.arrayBuffer()), multi);
  const c = await fetch(`${base}/v2/app/images/multi/manifests/${sha256Digest(child)}`);
  assert.equal(c.headers.get('content-type'), OCI_MANIFEST);
  assert.deepEqual(Buffer.from(await c.arrayBuffer()), child);
});

test('an entry whose layer is missing is left out with a warning; the others stay served', async () => {
  const res = await fetch(`${base}/v2/app/images/broken/manifests/1`);
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  assert.ok(
    warnings.some((w) => /app\/images\/broken:1 is not served: .*not in the layout/.test(w)),
    warnings.join('\n'),
  );
});

test('concurrent first pulls of one blob copy it once; If-None-Match with its digest gives 304', async () => {
  const url = `${base}/v2/app/images/multi/blobs/${sha256Digest(layer)}`;
  const bodies = await Promise.all(
    [1, 2, 3].map(async () => Buffer.from(await (await fetch(url)).arrayBuffer())),
  );
  for (const b of bodies) assert.deepEqual(b, layer);
  assert.deepEqual(
    mem.opens.filter((d) => d === sha256Digest(layer)),
    [sha256Digest(layer)],
  );
  const again = await fetch(url, { headers: { 'if-none-match': `"${sha256Digest(layer)}"` } });
  assert.equal(again.status, 304);
  // A blob of another repository is not reachable through this one.
  const other = await fetch(`${base}/v2/app/images/broken/blobs/${sha256Digest(layer)}`);
  assert.equal(other.status, 404);
});
