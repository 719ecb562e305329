/**
 * What the embedded registry serves, without knowing where it is stored: the catalog's Git
 * repository in `margo serve` (packages/cli/src/catalog-registry.ts), plain folders in tests.
 */
import type { Readable } from 'node:stream';

/** One OCI image layout (`index.json` + `blobs/sha256/*`) as the source holds it. */
export interface SourceLayout {
  /** Where the layout lives, for logs (e.g. `hello-world/1.0.0/oci`). Unique within a revision. */
  name: string;
  /** The bytes of its index.json (entries annotated as in docs/oci.md). */
  index: Buffer;
  /** Blobs present in the layout: digest -> size in bytes. */
  blobs: ReadonlyMap<string, number>;
}

export interface LayoutSource {
  /**
   * An id of the current content (the catalog's commit). The registry rebuilds its index when it
   * changes; undefined = nothing published yet.
   */
  revision(): Promise<string | undefined>;
  /** Every layout at `revision`. */
  layouts(revision: string): Promise<SourceLayout[]>;
  /** A blob of `layout`, whole (manifests and configs; callers bound the size by `blobs`). */
  readBlob(revision: string, layout: string, digest: string): Promise<Buffer>;
  /** A blob of `layout` as a stream (layers). The registry checks its digest before serving it. */
  openBlob(revision: string, layout: string, digest: string): Promise<Readable>;
}
