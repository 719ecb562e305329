// Helpers of the agent's OCI tests: Compose packages as tar.gz layers (optionally with an entry
// `../<name>`, what a hostile packer writes) and pushing them as Compose artifacts in the layout
// `margo app publish` writes (empty config, one layer), with @margo-gitops/oci's client.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import {
  composeArtifact,
  EMPTY_CONFIG,
  OCI_MANIFEST,
  pushBlob,
  pushManifest,
  type RegistryTarget,
} from '@margo-gitops/oci';
import { tempDir } from './helpers.ts';

/** A Compose package folder as tar.gz; `hostile` adds an entry `../<hostile>` outside the folder. */
export async function composeLayer(files: Record<string, string>, hostile?: string): Promise<Buffer> {
  const dir = tempDir('oci-layer-');
  try {
    mkdirSync(join(dir, 'pkg'));
    for (const [p, v] of Object.entries(files)) writeFileSync(join(dir, 'pkg', p), v);
    const names = Object.keys(files);
    if (hostile) {
      writeFileSync(join(dir, hostile), 'outside');
      names.push(`../${hostile}`);
    }
    const out = join(dir, 'layer.tar.gz');
    await tar.c(
      { file: out, gzip: true, portable: true, cwd: join(dir, 'pkg'), preservePaths: !!hostile },
      names,
    );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pushes `layer` as a Compose artifact `name:tag`; returns the manifest and layer digests. */
export async function pushComposeArtifact(
  t: RegistryTarget,
  name: string,
  tag: string,
  layer: Buffer,
): Promise<{ manifest: string; layer: string }> {
  await pushBlob(t, name, EMPTY_CONFIG);
  const l = await pushBlob(t, name, layer);
  const m = composeArtifact(l.digest, l.size, tag.replace(/_/g, '+'));
  return { manifest: await pushManifest(t, name, tag, m.bytes, OCI_MANIFEST), layer: l.digest };
}
