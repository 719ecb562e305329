/**
 * Pure OCI image-layout and manifest logic shared by the packer (`margo app publish`), the embedded
 * registry and the orchestrator (which pins the manifest digest in the signed desired state). Every
 * function here is deterministic: same input, same bytes, same digest.
 */
import { createHash } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import {
  COMPOSE_ARTIFACT,
  COMPOSE_LAYER,
  OCI_EMPTY,
  OCI_EMPTY_DIGEST,
  OCI_INDEX,
  OCI_MANIFEST,
} from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

/** Annotation keys of index.json entries in a catalog package's `oci/` layout (docs/oci.md). */
export const ANNOTATION = {
  refName: 'org.opencontainers.image.ref.name',
  repository: 'io.margo-gitops.repository',
  component: 'io.margo-gitops.component',
  registry: 'io.margo-gitops.registry',
} as const;

/** The folder inside a package version that holds its OCI image layout. */
export const LAYOUT_DIR = 'oci';
export const OCI_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
/** OCI distribution-spec repository name component. */
const NAME_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && name.split('/').every((c) => NAME_COMPONENT_RE.test(c));
}

export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

/**
 * A name usable as one OCI repository path component: lower case, runs of other characters
 * become `-`. `Frontend_API` -> `frontend-api`. Throws OCI_NAME_INVALID when nothing is left.
 */
export function ociName(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!n || !NAME_COMPONENT_RE.test(n)) {
    throw new MargoError('OCI_NAME_INVALID', `${JSON.stringify(s)} cannot be made an OCI repository name`);
  }
  return n;
}

/** The OCI tag of a package version or SemVer revision: build metadata uses `_` (a tag cannot hold `+`). */
export function tagForVersion(version: string): string {
  const t = version.replace(/\+/g, '_');
  if (!isTag(t))
    throw new MargoError('OCI_NAME_INVALID', `version ${JSON.stringify(version)} is not a valid OCI tag`);
  return t;
}

/** Repository path (below the registry root) of a package component: `<appId>/<component>`. */
export function componentRepository(appId: string, component: string): string {
  return `${ociName(appId)}/${ociName(component)}`;
}

/** Canonical JSON bytes (keys in the order given: callers build objects in a fixed order). */
export function jsonBytes(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/**
 * The manifest of a Compose package artifact whose single layer is the package archive (tar.gz):
 * empty config, `artifactType` COMPOSE_ARTIFACT. The orchestrator and the embedded registry both
 * call this for legacy packages (a package-relative `packageLocation` tarball), so the digest the
 * desired state pins is the digest the registry serves.
 */
export function composeArtifact(
  layerDigest: string,
  layerSize: number,
  version: string,
): { bytes: Buffer; digest: string } {
  if (!isDigest(layerDigest))
    throw new MargoError('OCI_DIGEST_INVALID', `${layerDigest} is not a sha256 digest`);
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: COMPOSE_ARTIFACT,
    config: { mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2 },
    // margo/specification (application registry, Compose Component Registry): the layer names
    // its component type and version.
    layers: [
      {
        mediaType: COMPOSE_LAYER,
        digest: layerDigest,
        size: layerSize,
        annotations: { [COMPOSE_TYPE_ANNOTATION]: 'compose', [COMPOSE_VERSION_ANNOTATION]: version },
      },
    ],
  };
  const bytes = jsonBytes(m);
  return { bytes, digest: sha256Digest(bytes) };
}

/** Layer annotations a Compose Archive carries (margo/specification, application registry). */
export const COMPOSE_TYPE_ANNOTATION = 'org.margo.component.type';
export const COMPOSE_VERSION_ANNOTATION = 'org.margo.component.version';

/** The bytes of the empty config blob (`{}`). */
export const EMPTY_CONFIG = Buffer.from('{}');

export interface IndexEntry {
  descriptor: Descriptor;
  /** Repository below the registry root (annotation io.margo-gitops.repository). */
  repository: string;
  tag: string;
  component?: string;
  /** External registry `host[:port][/ns]` the artifact was pushed to; undefined = embedded. */
  registry?: string;
}

/**
 * Parses a layout's index.json into its entries. Throws OCI_LAYOUT_INVALID (with what is wrong)
 * for anything but an OCI index whose manifests carry a digest, size, repository and tag.
 */
export function parseLayoutIndex(bytes: Uint8Array, where = 'oci/index.json'): IndexEntry[] {
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new MargoError('OCI_LAYOUT_INVALID', `${where}: not JSON (${(e as Error).message})`);
  }
  const idx = j as Partial<ImageIndex>;
  if (!idx || typeof idx !== 'object' || idx.schemaVersion !== 2 || !Array.isArray(idx.manifests)) {
    throw new MargoError(
      'OCI_LAYOUT_INVALID',
      `${where}: not an OCI image index (schemaVersion 2, manifests[])`,
    );
  }
  if (idx.mediaType !== undefined && idx.mediaType !== OCI_INDEX) {
    throw new MargoError(
      'OCI_LAYOUT_INVALID',
      `${where}: mediaType ${String(idx.mediaType)} is not ${OCI_INDEX}`,
    );
  }
  return idx.manifests.map((d, i) => {
    const at = `${where} manifests[${i}]`;
    if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || !isDigest(d.digest)) {
      throw new MargoError('OCI_LAYOUT_INVALID', `${at}: digest must be sha256:<64 hex>`);
    }
    if (!Number.isSafeInteger(d.size) || d.size < 0) {
      throw new MargoError('OCI_LAYOUT_INVALID', `${at}: size must be a non-negative integer`);
    }
    if (typeof d.mediaType !== 'string' || !d.mediaType) {
      throw new MargoError('OCI_LAYOUT_INVALID', `${at}: mediaType is missing`);
    }
    const a = d.annotations ?? {};
    const repository = a[ANNOTATION.repository];
    const tag = a[ANNOTATION.refName];
    if (typeof repository !== 'string' || !isRepositoryName(repository)) {
      throw new MargoError(
        'OCI_LAYOUT_INVALID',
        `${at}: annotation ${ANNOTATION.repository} must be a repository name`,
      );
    }
    if (typeof tag !== 'string' || !isTag(tag)) {
      throw new MargoError('OCI_LAYOUT_INVALID', `${at}: annotation ${ANNOTATION.refName} must be a tag`);
    }
    const e: IndexEntry = { descriptor: d as Descriptor, repository, tag };
    if (typeof a[ANNOTATION.component] === 'string') e.component = a[ANNOTATION.component];
    if (typeof a[ANNOTATION.registry] === 'string') e.registry = a[ANNOTATION.registry];
    return e;
  });
}

/** index.json bytes for the given entries (sorted by repository then tag, so the bytes are stable). */
export function layoutIndex(entries: readonly IndexEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) =>
    a.repository === b.repository
      ? a.tag < b.tag
        ? -1
        : a.tag > b.tag
          ? 1
          : 0
      : a.repository < b.repository
        ? -1
        : 1,
  );
  const manifests = sorted.map((e) => {
    const annotations: Record<string, string> = {};
    if (e.component !== undefined) annotations[ANNOTATION.component] = e.component;
    if (e.registry !== undefined) annotations[ANNOTATION.registry] = e.registry;
    annotations[ANNOTATION.repository] = e.repository;
    annotations[ANNOTATION.refName] = e.tag;
    const d: Descriptor = {
      mediaType: e.descriptor.mediaType,
      digest: e.descriptor.digest,
      size: e.descriptor.size,
    };
    if (e.descriptor.artifactType) d.artifactType = e.descriptor.artifactType;
    d.annotations = annotations;
    return d;
  });
  const idx: ImageIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
  return jsonBytes(idx);
}

/**
 * Parses a manifest blob (OCI or Docker v2 image manifest). Throws OCI_LAYOUT_INVALID.
 * Index manifests (multi-platform) are returned with `layers` empty and `manifests` set.
 */
export function parseManifest(
  bytes: Uint8Array,
  where: string,
): {
  mediaType: string;
  config?: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
  artifactType?: string;
} {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new MargoError('OCI_LAYOUT_INVALID', `${where}: manifest is not JSON (${(e as Error).message})`);
  }
  if (!j || typeof j !== 'object' || j.schemaVersion !== 2) {
    throw new MargoError('OCI_LAYOUT_INVALID', `${where}: manifest schemaVersion must be 2`);
  }
  const desc = (v: unknown, at: string): Descriptor => {
    const d = v as Partial<Descriptor>;
    if (
      !d ||
      typeof d !== 'object' ||
      typeof d.digest !== 'string' ||
      !isDigest(d.digest) ||
      !Number.isSafeInteger(d.size)
    ) {
      throw new MargoError('OCI_LAYOUT_INVALID', `${where}: ${at} needs a sha256 digest and an integer size`);
    }
    return d as Descriptor;
  };
  const mediaType = typeof j.mediaType === 'string' ? j.mediaType : OCI_MANIFEST;
  if (Array.isArray(j.manifests)) {
    return { mediaType, layers: [], manifests: j.manifests.map((m, i) => desc(m, `manifests[${i}]`)) };
  }
  if (!Array.isArray(j.layers))
    throw new MargoError('OCI_LAYOUT_INVALID', `${where}: manifest has no layers[]`);
  const out: { mediaType: string; config?: Descriptor; layers: Descriptor[]; artifactType?: string } = {
    mediaType,
    config: desc(j.config, 'config'),
    layers: j.layers.map((l, i) => desc(l, `layers[${i}]`)),
  };
  if (typeof j.artifactType === 'string') out.artifactType = j.artifactType;
  return out;
}
