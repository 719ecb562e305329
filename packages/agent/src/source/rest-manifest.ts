/**
 * The pure half of the REST desired source: reading an rc.2 `UnsignedAppStateManifest` (with its
 * `manifestVersion` to the exact digit, beyond 2^53), the opaque version token, the replay rule
 * and the layout of fetched documents as the Git tree the verifier and the planner already know.
 * No I/O here: rest-source.ts fetches, this decides.
 */
import { createHash } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import { MANIFEST_FILE } from '@margo-gitops/trust/device';

/** Our extension member on the manifest (the server's API_EXTENSIONS). */
export const API_EXTENSIONS = 'x-margo-gitops-extensions';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.margo.manifest.v1+json';
export const DEPLOYMENTS_PATH = '/api/v1/deployments';

const SAFE_ID = /^[A-Za-z0-9._~-]{1,253}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const VERSION = /^[1-9][0-9]{0,19}$/;
const MAX_VERSION = (1n << 64n) - 1n;

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface ManifestEntry {
  deploymentId: string;
  digest: string;
  sizeBytes: number;
  /** Path on the same server (`/api/v1/...`); never another host. */
  url: string;
}

/** What the agent reads of a state manifest. */
export interface StateManifest {
  /** Exact decimal digits in [1, 2^64-1]. */
  manifestVersion: string;
  deployments: ManifestEntry[];
  bundle: { digest: string; sizeBytes: number; url: string } | null;
  /** `x-margo-gitops-extensions.signedManifest` (our orchestrator's), when present. */
  signedManifest?: unknown;
  /** `x-margo-gitops-extensions.commit`: the Git commit the server derived the manifest from. */
  commit?: string;
}

function invalid(message: string): MargoError {
  return new MargoError('AGENT_API_ANSWER_INVALID', `state manifest: ${message}`);
}

/**
 * The exact digits of the top-level `manifestVersion` member of a JSON text. JSON.parse rounds
 * numbers beyond 2^53, so the text is scanned: strings are skipped, depth is counted, and only a
 * key of the outermost object counts (a nested `manifestVersion` or one inside a string does not).
 * Throws AGENT_API_ANSWER_INVALID unless it is an integer in [1, 2^64-1] written as plain digits.
 */
export function readManifestVersion(text: string): string {
  let depth = 0;
  let found: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      const key = text.slice(start + 1, i);
      let j = i + 1;
      while (/\s/.test(text[j] ?? '')) j++;
      if (text[j] !== ':' || key !== 'manifestVersion') continue;
      j++;
      while (/\s/.test(text[j] ?? '')) j++;
      const m = /^-?[0-9][0-9.eE+-]*/.exec(text.slice(j, j + 40));
      if (found !== undefined) throw invalid('manifestVersion appears twice');
      found = m?.[0] ?? '';
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  if (found === undefined) throw invalid('no manifestVersion');
  if (!VERSION.test(found) || BigInt(found) > MAX_VERSION)
    throw invalid(`manifestVersion ${found.slice(0, 40)} is not an integer in [1, 2^64-1]`);
  return found;
}

/** a < b: -1, equal: 0, a > b: 1 (exact decimal manifest versions). */
export function compareVersions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The ETag without its quotes and weak prefix (what the version token carries). */
export function etagValue(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/**
 * The version token the rest of the agent sees: `<manifestVersion>:<etag>`, opaque to planning
 * and applying (they only compare it and record it). `invalid` stands for a manifest whose
 * version could not be read: it is still a version, so that its refusal is reported once.
 */
export function versionToken(manifestVersion: string | undefined, etag: string): string {
  return `${manifestVersion ?? 'invalid'}:${etagValue(etag)}`;
}

/** The last applied manifest: the floor a new one must be strictly above. */
export interface VersionFloor {
  manifestVersion: string;
  etag: string;
}

/**
 * Anti-replay (spec client loop): a manifest is accepted only with a `manifestVersion` strictly
 * greater than the last applied one. The very manifest already applied (same version and ETag)
 * may be checked again (a restart re-applies it); anything else at or below is refused.
 */
export function checkNotReplayed(
  manifestVersion: string,
  etag: string,
  floor: VersionFloor | undefined,
): void {
  if (!floor) return;
  const cmp = compareVersions(manifestVersion, floor.manifestVersion);
  if (cmp > 0 || (cmp === 0 && etagValue(etag) === etagValue(floor.etag))) return;
  throw new MargoError(
    'AGENT_MANIFEST_VERSION_REPLAYED',
    `manifestVersion ${manifestVersion} is not greater than the last applied ${floor.manifestVersion}`,
    { data: { manifestVersion, lastAppliedVersion: floor.manifestVersion } },
  );
}

function entryOf(v: unknown, what: string): ManifestEntry {
  const e = v as Partial<ManifestEntry> | null;
  if (!e || typeof e !== 'object') throw invalid(`${what} is not an object`);
  if (typeof e.deploymentId !== 'string' || !SAFE_ID.test(e.deploymentId))
    throw invalid(`${what}.deploymentId is not a valid id`);
  if (typeof e.digest !== 'string' || !DIGEST.test(e.digest)) throw invalid(`${what}.digest is not sha256`);
  if (typeof e.url !== 'string' || !/^\/api\/v1\/[A-Za-z0-9._~:/-]+$/.test(e.url) || e.url.includes('..'))
    throw invalid(`${what}.url is not a path of this API`);
  if (typeof e.sizeBytes !== 'number' || !Number.isSafeInteger(e.sizeBytes) || e.sizeBytes < 0)
    throw invalid(`${what}.sizeBytes is not a size`);
  return { deploymentId: e.deploymentId, digest: e.digest, sizeBytes: e.sizeBytes, url: e.url };
}

/** Parses and checks a manifest body (exact bytes). Throws AGENT_API_ANSWER_INVALID. */
export function parseStateManifest(body: Buffer): StateManifest {
  const text = body.toString('utf8');
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalid('not JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('not an object');
  const manifestVersion = readManifestVersion(text);
  if (!Array.isArray(doc.deployments)) throw invalid('deployments is not a list');
  const deployments = doc.deployments.map((d, i) => entryOf(d, `deployments[${i}]`));
  const ids = new Set(deployments.map((d) => d.deploymentId));
  if (ids.size !== deployments.length) throw invalid('a deploymentId appears twice');
  let bundle: StateManifest['bundle'] = null;
  if (doc.bundle !== null && doc.bundle !== undefined) {
    const b = entryOf({ ...(doc.bundle as object), deploymentId: 'bundle' }, 'bundle');
    bundle = { digest: b.digest, sizeBytes: b.sizeBytes, url: b.url };
  }
  const ext = doc[API_EXTENSIONS] as { signedManifest?: unknown; commit?: unknown } | undefined;
  return {
    manifestVersion,
    deployments,
    bundle,
    ...(ext && typeof ext === 'object' && ext.signedManifest !== undefined
      ? { signedManifest: ext.signedManifest }
      : {}),
    ...(ext && typeof ext.commit === 'string' ? { commit: ext.commit } : {}),
  };
}

/**
 * Lays fetched documents out as the desired-state tree (`deployments/<file>.yaml` and
 * `margo-manifest.json`), so the signed-manifest verifier and the planner run unchanged. The file
 * name of each document is the one the signed manifest lists with that very digest (the Git file
 * name may differ from the deploymentId); without a signed manifest, `<deploymentId>.yaml`.
 * `docs` holds bytes already checked against the manifest's digests.
 * Throws AGENT_API_ANSWER_INVALID when the signed manifest names another version than the API's.
 */
export function layoutDesiredFiles(m: StateManifest, docs: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const byDigest = new Map<string, string[]>();
  if (m.signedManifest !== undefined) {
    const signed = m.signedManifest as { manifest?: { version?: unknown; files?: unknown } } | null;
    if (signed?.manifest?.version !== m.manifestVersion)
      throw invalid(
        `the signed manifest is for version ${String(signed?.manifest?.version).slice(0, 40)}, not ${m.manifestVersion}`,
      );
    const listed = signed.manifest.files;
    if (listed && typeof listed === 'object') {
      for (const [p, d] of Object.entries(listed as Record<string, unknown>)) {
        if (typeof d !== 'string' || !/^deployments\/[^/]+\.yaml$/.test(p)) continue;
        byDigest.set(d, [...(byDigest.get(d) ?? []), p]);
      }
    }
    files.set(MANIFEST_FILE, Buffer.from(JSON.stringify(m.signedManifest, null, 2) + '\n', 'utf8'));
  }
  for (const e of m.deployments) {
    const bytes = docs.get(e.deploymentId);
    if (!bytes) throw invalid(`no document for ${e.deploymentId}`);
    const candidates = byDigest.get(e.digest) ?? [];
    const path = candidates.find((p) => !files.has(p)) ?? `deployments/${e.deploymentId}.yaml`;
    if (files.has(path)) throw invalid(`two documents at ${path}`);
    files.set(path, bytes);
  }
  return files;
}
