/**
 * Pulling from an OCI Distribution registry: manifests (verified against a digest reference and
 * against the registry's Docker-Content-Digest) and blobs (hashed while they stream, bounded by
 * `maxBytes`, optionally written to a file that appears only once verified).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { MargoError } from '@margo-gitops/spec';
import { isDigest, sha256Digest } from '../layout.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../media-types.js';
import { registryRequest, unreachable, type RegistryTarget } from './http.js';

export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
/** Manifests are small; the distribution spec lets registries refuse over 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface PulledManifest {
  bytes: Buffer;
  /** `sha256:<hex>` of `bytes` (equal to the reference when it was a digest). */
  digest: string;
  mediaType: string;
}

function checkName(name: string, reference: string): void {
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(name))
    throw new MargoError('OCI_NAME_INVALID', `${JSON.stringify(name)} is not an OCI repository name`);
  if (!isDigest(reference) && !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(reference))
    throw new MargoError(
      'OCI_NAME_INVALID',
      `${JSON.stringify(reference)} is neither a tag nor a sha256 digest`,
    );
}

/** GET a manifest by tag or digest. */
export async function pullManifest(
  t: RegistryTarget,
  name: string,
  reference: string,
  o: { accept?: string } = {},
): Promise<PulledManifest> {
  checkName(name, reference);
  const what = `${name}${isDigest(reference) ? '@' : ':'}${reference}`;
  const res = await registryRequest(t, {
    method: 'GET',
    path: `/v2/${name}/manifests/${reference}`,
    headers: { accept: o.accept ?? MANIFEST_ACCEPT },
    what,
  });
  const { bytes } = await readBody(t, res, what, MAX_MANIFEST_BYTES);
  const digest = sha256Digest(bytes);
  const announced = res.headers.get('docker-content-digest');
  const expected = isDigest(reference) ? reference : announced && isDigest(announced) ? announced : undefined;
  if (expected && digest !== expected)
    throw new MargoError(
      'OCI_DIGEST_MISMATCH',
      `${what} from ${t.host}: the manifest has digest ${digest}, expected ${expected}`,
      { data: { host: t.host, expected, actual: digest } },
    );
  let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  try {
    const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof mt === 'string') mediaType = mt;
  } catch {
    throw new MargoError('OCI_LAYOUT_INVALID', `${what} from ${t.host}: the manifest is not JSON`);
  }
  return { bytes, digest, mediaType };
}

export interface PulledBlob {
  digest: string;
  size: number;
  /** The bytes, when no `toFile` was given. */
  bytes?: Buffer;
  /** The file written (== `toFile`), when given. */
  path?: string;
}

/**
 * GET a blob, hashing while it streams. Over `maxBytes` -> OCI_LAYER_TOO_LARGE (checked against
 * Content-Length first, then while reading); wrong bytes -> OCI_DIGEST_MISMATCH. With `toFile`
 * the blob is written to a temporary sibling and renamed into place only once verified.
 */
export async function pullBlob(
  t: RegistryTarget,
  name: string,
  digest: string,
  o: { maxBytes: number; toFile?: string },
): Promise<PulledBlob> {
  checkName(name, digest);
  if (!isDigest(digest)) throw new MargoError('OCI_DIGEST_INVALID', `${digest} is not a sha256 digest`);
  const what = `${name}@${digest}`;
  const res = await registryRequest(t, { method: 'GET', path: `/v2/${name}/blobs/${digest}`, what });
  if (!o.toFile) {
    const { bytes } = await readBody(t, res, what, o.maxBytes);
    verify(t, what, digest, sha256Digest(bytes));
    return { digest, size: bytes.length, bytes };
  }
  const tmp = `${o.toFile}.partial-${randomBytes(6).toString('hex')}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    const hash = createHash('sha256');
    const size = await consume(t, res, what, o.maxBytes, async (chunk) => {
      hash.update(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
    });
    out.end();
    await once(out, 'finish');
    verify(t, what, digest, `sha256:${hash.digest('hex')}`);
    await rename(tmp, o.toFile);
    return { digest, size, path: o.toFile };
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}

function verify(t: RegistryTarget, what: string, expected: string, actual: string): void {
  if (actual !== expected)
    throw new MargoError('OCI_DIGEST_MISMATCH', `${what} from ${t.host}: the blob has digest ${actual}`, {
      data: { host: t.host, expected, actual },
    });
}

async function readBody(
  t: RegistryTarget,
  res: Response,
  what: string,
  maxBytes: number,
): Promise<{ bytes: Buffer }> {
  const chunks: Buffer[] = [];
  await consume(t, res, what, maxBytes, (c) => {
    chunks.push(Buffer.from(c));
  });
  return { bytes: Buffer.concat(chunks) };
}

/** Streams a response body to `onChunk`, refusing more than `maxBytes`; returns the size. */
async function consume(
  t: RegistryTarget,
  res: Response,
  what: string,
  maxBytes: number,
  onChunk: (c: Uint8Array) => void | Promise<void>,
): Promise<number> {
  const tooLarge = (n?: number) =>
    new MargoError(
      'OCI_LAYER_TOO_LARGE',
      `${what} from ${t.host} is larger than the ${maxBytes} bytes accepted${n ? ` (${n} bytes)` : ''}`,
      {
        data: { host: t.host, maxBytes },
      },
    );
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(declared);
  }
  if (!res.body) return 0;
  const reader = res.body.getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge();
      await onChunk(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof MargoError) throw e;
    throw unreachable(t, what, e);
  }
  return size;
}

/** GET /v2/<name>/tags/list (first page: registries return every tag unless asked to page). */
export async function listTags(t: RegistryTarget, name: string): Promise<string[]> {
  checkName(name, 'latest');
  const res = await registryRequest(t, {
    method: 'GET',
    path: `/v2/${name}/tags/list`,
    what: `${name} tags`,
  });
  const { bytes } = await readBody(t, res, `${name} tags`, MAX_MANIFEST_BYTES);
  const j = JSON.parse(bytes.toString('utf8')) as { tags?: unknown };
  return Array.isArray(j.tags) ? j.tags.filter((x): x is string => typeof x === 'string') : [];
}
