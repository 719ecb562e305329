/**
 * A container image from the local Docker engine -> an OCI image artifact, so that a package can
 * carry its own images (air-gapped devices pull them from the embedded registry). `docker save`
 * of Docker 20.10 writes the legacy format (manifest.json, <id>.json config, uncompressed
 * <id>/layer.tar); newer engines write blobs/sha256/... with the same manifest.json. Either way the
 * config is kept byte for byte (its diff_ids name the uncompressed layers, which stay the same) and
 * each layer is gzipped deterministically, so the same image gives the same digests on every run.
 * Layers are held in memory: this is for the small images edge packages ship.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { MargoError } from '@margo-gitops/spec';
import { jsonBytes, ociName, sha256Digest } from '../layout.js';
import { OCI_MANIFEST } from '../media-types.js';
import type { PackedArtifact, PackedBlob } from './compose.js';
import { gzipDeterministic } from './tar.js';

export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

const run = promisify(execFile);

export interface PackedImage extends PackedArtifact {
  /** Last path component of the image name (`docker.io/library/busybox` -> `busybox`). */
  name: string;
  /** The image's tag (`latest` when the reference has none). */
  tag: string;
}

/** `[registry/]path/name[:tag]` -> name and tag; digests (`@sha256:`) are not accepted. */
export function imageNameAndTag(ref: string): { name: string; tag: string } {
  const m = /^([a-z0-9][a-z0-9._:/-]*?)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$/.exec(ref);
  if (!m || ref.includes('@'))
    throw new MargoError('OCI_NAME_INVALID', `${JSON.stringify(ref)} is not an image reference (name[:tag])`);
  return { name: ociName(m[1]!.split('/').pop()!), tag: m[2] ?? 'latest' };
}

/** Builds the artifact from the files of an unpacked `docker save` (pure). */
export function imageFromSave(
  manifestJson: Buffer,
  readEntry: (path: string) => Buffer,
  ref: string,
): PackedImage {
  let items: { Config?: string; Layers?: string[] }[];
  try {
    items = JSON.parse(manifestJson.toString('utf8')) as typeof items;
  } catch {
    throw new MargoError('OCI_PACK_INVALID', `docker save of ${ref}: manifest.json is not JSON`);
  }
  const it = items?.[0];
  if (!it?.Config || !Array.isArray(it.Layers))
    throw new MargoError(
      'OCI_PACK_INVALID',
      `docker save of ${ref}: manifest.json names no config and layers`,
    );
  const safe = (p: string) => {
    const n = posix.normalize(p);
    if (n.startsWith('../') || n.startsWith('/'))
      throw new MargoError('OCI_PACK_PATH_OUTSIDE', `docker save of ${ref}: ${p} is outside the archive`);
    return n;
  };
  const cfgBytes = readEntry(safe(it.Config));
  const config: PackedBlob = {
    bytes: cfgBytes,
    digest: sha256Digest(cfgBytes),
    size: cfgBytes.length,
    mediaType: OCI_IMAGE_CONFIG,
  };
  const layers: PackedBlob[] = it.Layers.map((l) => {
    const raw = readEntry(safe(l));
    const gz = raw[0] === 0x1f && raw[1] === 0x8b ? raw : gzipDeterministic(raw);
    return { bytes: gz, digest: sha256Digest(gz), size: gz.length, mediaType: OCI_LAYER_GZIP };
  });
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  return {
    manifest: { bytes: manifest, digest: sha256Digest(manifest), mediaType: OCI_MANIFEST },
    config,
    layers,
    ...imageNameAndTag(ref),
  };
}

/** `docker save REF`, converted (throws OCI_PACK_INVALID when docker cannot save it). */
export async function packImage(
  ref: string,
  o: { docker?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<PackedImage> {
  imageNameAndTag(ref); // refuses anything that is not a plain reference (never an option)
  const dir = await mkdtemp(join(tmpdir(), 'margo-image-'));
  try {
    const file = join(dir, 'image.tar');
    try {
      await run(o.docker ?? 'docker', ['save', '-o', file, ref], { env: o.env ?? process.env });
    } catch (e) {
      const why = String((e as { stderr?: string }).stderr ?? (e as Error).message)
        .trim()
        .slice(0, 300);
      throw new MargoError('OCI_PACK_INVALID', `docker save ${ref} failed: ${why}`, {
        hint: 'The image must be in the local Docker engine (docker pull or docker build it first).',
      });
    }
    const x = join(dir, 'x');
    await mkdir(x);
    await run('tar', ['-xf', file, '-C', x, '--no-same-owner', '--no-same-permissions']);
    const entries = new Map<string, Buffer>();
    const read = async (p: string) => entries.set(p, await readFile(join(x, p)));
    const manifestJson = await readFile(join(x, 'manifest.json'));
    const items = JSON.parse(manifestJson.toString('utf8')) as { Config?: string; Layers?: string[] }[];
    for (const p of [items[0]?.Config, ...(items[0]?.Layers ?? [])])
      if (typeof p === 'string' && !posix.normalize(p).startsWith('..')) await read(posix.normalize(p));
    return imageFromSave(manifestJson, (p) => entries.get(p) ?? Buffer.alloc(0), ref);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
