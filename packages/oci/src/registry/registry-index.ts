/**
 * The registry's view of a source revision: per repository its tags, its manifests (bytes kept in
 * memory: they are small and verified once here) and the blobs it may serve (only those its
 * manifests reference, as in any registry: a blob is reachable through a repository).
 */
import { MargoError } from '@margo-gitops/spec';
import { parseLayoutIndex, parseManifest, sha256Digest } from '../layout.js';
import type { LayoutSource } from './source.js';

/** Largest manifest the registry reads (the Distribution spec suggests registries accept 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** How deep an image index may nest (index -> manifest is 1). */
const MAX_NESTING = 2;

export interface ServedManifest {
  bytes: Buffer;
  mediaType: string;
}

export interface ServedBlob {
  /** The layout that holds it (a name from the source). */
  layout: string;
  size: number;
}

export interface RepositoryEntry {
  tags: Map<string, string>;
  manifests: Map<string, ServedManifest>;
  blobs: Map<string, ServedBlob>;
}

export interface RegistryIndex {
  revision: string;
  repositories: Map<string, RepositoryEntry>;
}

/**
 * Reads every layout of `revision`. A layout or entry that cannot be served (bad JSON, a blob
 * missing, a digest that does not match) is left out and reported through `warn`, so one broken
 * package never takes the others down. Entries pushed to an external registry are not served.
 */
export async function buildRegistryIndex(
  source: LayoutSource,
  revision: string,
  warn: (message: string) => void = () => {},
): Promise<RegistryIndex> {
  const repositories = new Map<string, RepositoryEntry>();
  for (const layout of await source.layouts(revision)) {
    let entries;
    try {
      entries = parseLayoutIndex(layout.index, `${layout.name}/index.json`);
    } catch (e) {
      warn((e as Error).message);
      continue;
    }
    for (const entry of entries) {
      if (entry.registry !== undefined) continue;
      const found = new Map<string, ServedManifest>();
      const blobs = new Map<string, ServedBlob>();
      const readManifest = async (digest: string, mediaType: string, depth: number): Promise<void> => {
        const size = layout.blobs.get(digest);
        if (size === undefined)
          throw new MargoError('OCI_BLOB_MISSING', `${layout.name}: manifest ${digest} is not in the layout`);
        if (size > MAX_MANIFEST_BYTES)
          throw new MargoError('OCI_LAYOUT_INVALID', `${layout.name}: manifest ${digest} is over 4 MiB`);
        const bytes = await source.readBlob(revision, layout.name, digest);
        if (sha256Digest(bytes) !== digest)
          throw new MargoError('OCI_DIGEST_MISMATCH', `${layout.name}: manifest ${digest} has other bytes`);
        const m = parseManifest(bytes, `${layout.name} manifest ${digest}`);
        // Content-Type: the manifest's own mediaType, else the one its descriptor gives.
        const own = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
        found.set(digest, { bytes, mediaType: typeof own === 'string' ? own : mediaType });
        blobs.set(digest, { layout: layout.name, size: bytes.length });
        if (m.manifests) {
          if (depth >= MAX_NESTING)
            throw new MargoError('OCI_LAYOUT_INVALID', `${layout.name}: image index nested too deep`);
          for (const child of m.manifests) await readManifest(child.digest, child.mediaType, depth + 1);
          return;
        }
        for (const d of [m.config!, ...m.layers]) {
          const have = layout.blobs.get(d.digest);
          if (have === undefined)
            throw new MargoError('OCI_BLOB_MISSING', `${layout.name}: blob ${d.digest} is not in the layout`);
          if (have !== d.size)
            throw new MargoError(
              'OCI_LAYOUT_INVALID',
              `${layout.name}: blob ${d.digest} has ${have} bytes, the manifest says ${d.size}`,
            );
          blobs.set(d.digest, { layout: layout.name, size: have });
        }
      };
      try {
        await readManifest(entry.descriptor.digest, entry.descriptor.mediaType, 0);
      } catch (e) {
        warn(`${entry.repository}:${entry.tag} is not served: ${(e as Error).message}`);
        continue;
      }
      let repo = repositories.get(entry.repository);
      if (!repo) {
        repo = { tags: new Map(), manifests: new Map(), blobs: new Map() };
        repositories.set(entry.repository, repo);
      }
      // The same tag in two package versions (a bundled image): the later layout wins; both
      // manifests stay reachable by digest.
      repo.tags.set(entry.tag, entry.descriptor.digest);
      for (const [d, m] of found) repo.manifests.set(d, m);
      for (const [d, b] of blobs) if (!repo.blobs.has(d)) repo.blobs.set(d, b);
    }
  }
  return { revision, repositories };
}
