/**
 * Pushing to an OCI Distribution registry: blobs (HEAD to skip what is there, then POST + one
 * monolithic PUT) and manifests (PUT by tag; the registry's Docker-Content-Digest is checked).
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { MargoError } from '@margo-gitops/spec';
import { isDigest, isTag, sha256Digest } from '../layout.js';
import { registryRequest, type RegistryTarget } from './http.js';

/** A blob to push: bytes in memory, or a file whose digest and size are already known. */
export type BlobSource = Uint8Array | { path: string; digest: string; size: number };

/** True when the registry already has the blob. */
export async function hasBlob(t: RegistryTarget, name: string, digest: string): Promise<boolean> {
  const res = await registryRequest(t, {
    method: 'HEAD',
    path: `/v2/${name}/blobs/${digest}`,
    what: `${name}@${digest}`,
    accept: [404],
  });
  await res.body?.cancel();
  return res.status !== 404;
}

/** Pushes one blob unless the registry has it; returns its digest and size and whether it was sent. */
export async function pushBlob(
  t: RegistryTarget,
  name: string,
  blob: BlobSource,
): Promise<{ digest: string; size: number; pushed: boolean }> {
  const mem = blob instanceof Uint8Array;
  const digest = mem ? sha256Digest(blob) : blob.digest;
  const size = mem ? blob.byteLength : blob.size;
  if (!isDigest(digest)) throw new MargoError('OCI_DIGEST_INVALID', `${digest} is not a sha256 digest`);
  // The HEAD also settles auth (a Bearer token is scoped: the POST may earn a push-scoped one).
  if (await hasBlob(t, name, digest)) return { digest, size, pushed: false };
  const what = `${name}@${digest}`;
  const start = await registryRequest(t, {
    method: 'POST',
    path: `/v2/${name}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    what: `upload of ${what}`,
  });
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location)
    throw new MargoError(
      'OCI_REGISTRY_ERROR',
      `registry ${t.host} answered ${start.status} without an upload location for ${what}`,
    );
  const url = new URL(location, `${t.plainHttp ? 'http' : 'https'}://${t.host}/`);
  url.searchParams.set('digest', digest);
  const done = await registryRequest(t, {
    method: 'PUT',
    path: url.toString(),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: mem
      ? blob
      : () => Readable.toWeb(createReadStream(blob.path)) as unknown as ReadableStream<Uint8Array>,
    what: `upload of ${what}`,
  });
  await done.body?.cancel();
  const stored = done.headers.get('docker-content-digest');
  if (stored && stored !== digest)
    throw new MargoError('OCI_DIGEST_MISMATCH', `registry ${t.host} stored ${what} as ${stored}`, {
      data: { host: t.host, expected: digest, actual: stored },
    });
  return { digest, size, pushed: true };
}

/** PUTs a manifest under `tag` (or its own digest); returns the manifest digest. */
export async function pushManifest(
  t: RegistryTarget,
  name: string,
  tag: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<string> {
  const digest = sha256Digest(bytes);
  if (!isTag(tag) && tag !== digest)
    throw new MargoError('OCI_NAME_INVALID', `${JSON.stringify(tag)} is not a valid OCI tag`);
  const what = `${name}:${tag}`;
  const res = await registryRequest(t, {
    method: 'PUT',
    path: `/v2/${name}/manifests/${tag}`,
    headers: { 'content-type': mediaType },
    body: bytes,
    what,
  });
  await res.body?.cancel();
  const stored = res.headers.get('docker-content-digest');
  if (stored && stored !== digest)
    throw new MargoError(
      'OCI_DIGEST_MISMATCH',
      `registry ${t.host} stored ${what} as ${stored}, not ${digest}`,
      {
        data: { host: t.host, expected: digest, actual: stored },
      },
    );
  return digest;
}
