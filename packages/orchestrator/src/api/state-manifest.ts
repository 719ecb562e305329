/**
 * The rc.2 UnsignedAppStateManifest of one device, derived from one commit of its desired-state
 * branch (pure: bytes in, bytes out). Same commit, same bytes, same ETag, on any server: the
 * version is the signed manifest's, the documents are the committed bytes, the bundle is a
 * deterministic tar.gz and the JSON is written in a fixed key order.
 */
import { createHash } from 'node:crypto';
import { tarGz } from '@margo-gitops/oci';
import { parse } from 'yaml';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.margo.manifest.v1+json';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.margo.bundle.v1+tar+gzip';
export const DEPLOYMENT_MEDIA_TYPE = 'application/yaml';
/** Our extension member on the manifest (the spec allows extra members; others ignore it). */
export const API_EXTENSIONS = 'x-margo-gitops-extensions';

/** One commit of a device's desired state, as the reader found it. */
export interface DesiredSnapshot {
  /** The commit the files come from. */
  commit: string;
  /** Every file of its tree (deployments/*.yaml, margo-manifest.json). */
  files: ReadonlyMap<string, Buffer>;
  /** manifestVersion: exact decimal string in [1, 2^64-1]. */
  version: string;
  /** margo-manifest.json as committed (signed mode), carried as our extension. */
  signedManifest?: Buffer;
}

/** One deployment document: its API id and exact bytes. */
export interface DeploymentDoc {
  deploymentId: string;
  path: string;
  bytes: Buffer;
  digest: string;
}

/** A derived manifest and everything it references, ready to serve. */
export interface StateManifest {
  commit: string;
  version: string;
  /** The exact JSON body. */
  body: Buffer;
  /** `sha256:<hex>` of body; the ETag is it quoted. */
  digest: string;
  docs: DeploymentDoc[];
  /** The bundle archive, null when there are no deployments (the spec forbids an empty one). */
  bundle: { bytes: Buffer; digest: string } | null;
}

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A deployment id as a URL path segment: rc.2's url pattern has no `%`, so only unreserved characters. */
const SAFE_ID = /^[A-Za-z0-9._~-]{1,253}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The deployment id of a committed document: its top-level `id` (current shape), else an older
 * shape's `metadata.annotations.id`, else the file's name (ids that cannot be a URL segment too).
 */
export function deploymentIdOf(path: string, bytes: Buffer): string {
  const stem = path.replace(/^.*\//, '').replace(/\.yaml$/, '');
  let doc: { id?: unknown; metadata?: { annotations?: { id?: unknown } } } | undefined;
  try {
    doc = parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    doc = undefined;
  }
  for (const c of [doc?.id, doc?.metadata?.annotations?.id])
    if (typeof c === 'string' && SAFE_ID.test(c)) return c;
  return stem;
}

/** The deployment documents of a tree (`deployments/*.yaml`), by path; later duplicates of an id are left out. */
export function deploymentDocs(files: ReadonlyMap<string, Buffer>): DeploymentDoc[] {
  const out: DeploymentDoc[] = [];
  const ids = new Set<string>();
  for (const path of [...files.keys()].sort()) {
    if (!/^deployments\/[^/]+\.yaml$/.test(path)) continue;
    const bytes = files.get(path)!;
    const deploymentId = deploymentIdOf(path, bytes);
    if (ids.has(deploymentId) || !SAFE_ID.test(deploymentId)) continue;
    ids.add(deploymentId);
    out.push({ deploymentId, path, bytes, digest: sha256(bytes) });
  }
  return out;
}

/** The bundle archive: `<deploymentId>.yaml` at the root for each document (deterministic tar.gz). */
export function bundleOf(docs: readonly DeploymentDoc[]): Buffer | null {
  if (!docs.length) return null;
  return tarGz(docs.map((d) => ({ path: `${d.deploymentId}.yaml`, type: 'file' as const, data: d.bytes })));
}

/**
 * Builds the manifest of a snapshot. The version is written as a bare JSON number with the exact
 * digits (it exceeds 2^53 in principle); the signed manifest travels as `x-margo-gitops-extensions`.
 */
export function buildStateManifest(s: DesiredSnapshot): StateManifest {
  if (!/^[1-9][0-9]{0,19}$/.test(s.version))
    throw new Error(`manifest version ${s.version} is not a decimal`);
  const docs = deploymentDocs(s.files);
  const tgz = bundleOf(docs);
  const bundle = tgz ? { bytes: tgz, digest: sha256(tgz) } : null;
  let signed: unknown;
  try {
    signed = s.signedManifest ? JSON.parse(s.signedManifest.toString('utf8')) : undefined;
  } catch {
    signed = undefined;
  }
  const doc = {
    manifestVersion: 0, // replaced by the exact digits below
    bundle: bundle
      ? {
          mediaType: BUNDLE_MEDIA_TYPE,
          digest: bundle.digest,
          sizeBytes: bundle.bytes.length,
          url: `/api/v1/bundles/${bundle.digest}`,
        }
      : null,
    deployments: docs.map((d) => ({
      deploymentId: d.deploymentId,
      digest: d.digest,
      sizeBytes: d.bytes.length,
      url: `/api/v1/deployments/${d.deploymentId}/${d.digest}`,
    })),
    ...(signed !== undefined ? { [API_EXTENSIONS]: { commit: s.commit, signedManifest: signed } } : {}),
  };
  const text = JSON.stringify(doc).replace('{"manifestVersion":0,', `{"manifestVersion":${s.version},`);
  const body = Buffer.from(text, 'utf8');
  return { commit: s.commit, version: s.version, body, digest: sha256(body), docs, bundle };
}
