import type { DeploymentStatus, DeviceCapabilities, DeviceHold, ParamValue } from '@margo-gitops/spec';
import {
  CAPABILITIES_FILE,
  DEPLOYMENT_STATUS_DIR,
  HOLD_FILE,
  parseDeviceHold,
  MargoError,
  OBSERVED_FILE,
  parseObserved,
  statusFileDigest,
  toMargoError,
  type Observed,
} from '@margo-gitops/spec';
import { parse } from 'yaml';
import type { CurrentDeployment } from '../core/desired-state.js';
import { normaliseCapabilities, normaliseStatus } from '../spec-adapter.js';
import {
  buildTree,
  parseTree,
  readCommit,
  readObject,
  readRef,
  readTreeFiles,
  updateRef,
  writeCommit,
  writeObject,
  type Signature,
} from './git-objects.js';

export const MANIFEST_FILE = 'margo-manifest.json';

/**
 * The desired-state branch of a device as it is now, UNVERIFIED: anyone with write access to the
 * Git host can have put it there. The orchestrator uses it only to compare with what it decided
 * and, through its auditor, to recognise a commit it signed itself; never as an input to signing.
 */
export interface DeviceMain {
  oid: string | null;
  /** Oid of the `deployments/` folder; null when there is none. */
  deploymentsTree: string | null;
  /** Deployment name -> current ApplicationDeployment. */
  current: Map<string, CurrentDeployment>;
  /** Every regular file of the tree (margo-manifest.json included), for the auditor. */
  files: Map<string, Buffer>;
  /** Entries that are not regular files or folders (symlinks, gitlinks): never in a tree the orchestrator wrote. */
  irregular: string[];
}

/**
 * Version and expiry of a margo-manifest.json the orchestrator's own signer just produced
 * (trust's `{ manifest: { version, expiresAt } }`): the version stays a decimal string, exact for
 * every 64-bit value. Never use it on bytes read from a repository: those are unverified.
 */
export function manifestFacts(bytes: Buffer | undefined): {
  manifestVersion?: string;
  manifestExpiresAt?: number;
} {
  if (!bytes) return {};
  try {
    const m = (JSON.parse(bytes.toString('utf8')) as { manifest?: Record<string, unknown> }).manifest;
    if (!m || typeof m !== 'object') return {};
    const out: { manifestVersion?: string; manifestExpiresAt?: number } = {};
    if (typeof m.version === 'string' && /^[1-9][0-9]{0,19}$/.test(m.version))
      out.manifestVersion = m.version;
    const e = typeof m.expiresAt === 'string' ? Date.parse(m.expiresAt) : NaN;
    if (Number.isFinite(e)) out.manifestExpiresAt = e;
    return out;
  } catch {
    return {};
  }
}

function parametersOf(bytes: Buffer): Record<string, ParamValue> | undefined {
  try {
    const doc = parse(bytes.toString('utf8')) as {
      spec?: { parameters?: Record<string, { value?: ParamValue }> };
    };
    const out: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(doc?.spec?.parameters ?? {}))
      if (v && v.value !== undefined) out[k] = v.value;
    return out;
  } catch {
    return undefined;
  }
}

/** The deployments of a desired tree's files (`deployments/<name>.yaml`), by name. */
export function currentDeployments(files: ReadonlyMap<string, Buffer>): Map<string, CurrentDeployment> {
  const out = new Map<string, CurrentDeployment>();
  for (const [path, bytes] of files) {
    const m = /^deployments\/([^/]+)\.yaml$/.exec(path);
    if (!m) continue;
    const parameters = parametersOf(bytes);
    out.set(m[1]!, { bytes, ...(parameters ? { parameters } : {}) });
  }
  return out;
}

/** Reads a commit of a device repository's `main`: its deployments and every file of its tree. */
export async function readDeviceMain(gitdir: string, oid: string | null): Promise<DeviceMain> {
  const out: DeviceMain = { oid, deploymentsTree: null, current: new Map(), files: new Map(), irregular: [] };
  if (!oid) return out;
  const commit = await readCommit(gitdir, oid);
  const walk = async (treeOid: string, path: string) => {
    const t = await readObject(gitdir, treeOid);
    if (!t) throw new MargoError('ORCH_GIT_FAILED', `tree ${treeOid} missing in ${gitdir}`);
    for (const item of parseTree(t.content)) {
      const p = path ? `${path}/${item.name}` : item.name;
      if (item.mode === '40000') {
        if (p === 'deployments') out.deploymentsTree = item.oid;
        await walk(item.oid, p);
      } else if (item.mode === '100644' || item.mode === '100755') {
        const b = await readObject(gitdir, item.oid);
        if (!b) throw new MargoError('ORCH_GIT_FAILED', `blob ${item.oid} missing in ${gitdir}`);
        out.files.set(p, b.content);
      } else out.irregular.push(`${p} (mode ${item.mode})`);
    }
  };
  await walk(commit.tree, '');
  out.current = currentDeployments(out.files);
  return out;
}

/** What a device reported on its `status` branch. */
export interface DeviceReport {
  oid: string | null;
  /** Committer time of the status head, in ms; undefined when the device never reported. */
  reportedAt?: number;
  capabilities?: DeviceCapabilities;
  /** The last `main` commit the agent acted on (`observed.json`), when it reports one. */
  observedCommit?: string;
  /** deploymentId -> status. */
  statuses: Map<string, DeploymentStatus>;
  /** Files ignored: unreadable (ORCH_STATUS_INVALID) or refused by the status verifier (TRUST_STATUS_*). */
  problems: StatusProblem[];
  /** The sequence number of the signed observed.json, when the report has one. */
  seq?: bigint;
  /** The head is older than a report already accepted from the device (TRUST_STATUS_REPLAYED). */
  replayed?: boolean;
  /**
   * The on-site hold (`margo-agent hold`): the device applies no change until released. From the
   * status file `hold.json` (Git: signed by the device; REST: written by the server from the
   * capabilities extension). Absent when not held.
   */
  hold?: DeviceHold;
}

export interface StatusProblem {
  path: string;
  code: string;
  message: string;
}

/**
 * Checks the signatures of a status tree: returns the files that verified and the refused ones.
 * (trust's createStatusVerifier fits.)
 */
export type StatusVerifier = (
  deviceId: string,
  files: ReadonlyMap<string, Buffer>,
) => Promise<{ files: Map<string, Buffer>; refused: StatusProblem[] }>;

/** The DeviceCapabilities file on a device's status branch. */
export { CAPABILITIES_FILE };
/** How far back the status history is searched for genuine capabilities (the agent keeps a few). */
const GENUINE_SEARCH_DEPTH = 16;

/**
 * The newest capabilities.json on the first-parent history that verifies: when the latest report's
 * capabilities are ignored (unsigned, forged), matching goes on with the last genuine ones.
 */
async function lastGenuineCapabilities(
  gitdir: string,
  parents: string[],
  verify: { deviceId: string; verifier: StatusVerifier },
): Promise<Buffer | undefined> {
  let next = parents[0];
  for (let i = 0; next && i < GENUINE_SEARCH_DEPTH; i++) {
    const c = await readCommit(gitdir, next).catch(() => undefined);
    if (!c) return undefined;
    const r = await verify.verifier(verify.deviceId, await readTreeFiles(gitdir, c.tree));
    const caps = r.files.get(CAPABILITIES_FILE);
    if (caps) return caps;
    next = c.parents[0];
  }
  return undefined;
}

/** The status-binding file and the device's sequence number, when the report carries them. */
function checkObserved(files: Map<string, Buffer>, minSeq: bigint, out: DeviceReport): 'ok' | 'replayed' {
  const bytes = files.get(OBSERVED_FILE);
  let observed: Observed | undefined;
  if (bytes) {
    try {
      observed = parseObserved(bytes);
    } catch (e) {
      // An agent before 0.2 wrote {commit} only: it binds nothing, so it is accepted only from a
      // device that never sent a sequence number.
      const legacy = legacyObservedCommit(bytes);
      if (legacy === undefined || minSeq > 0n) {
        out.problems.push({
          path: OBSERVED_FILE,
          code: legacy === undefined ? toMargoError(e).code : 'TRUST_STATUS_REPLAYED',
          message:
            legacy === undefined ? toMargoError(e).message : 'observed.json carries no sequence number',
        });
        files.delete(OBSERVED_FILE);
      } else out.observedCommit = legacy;
    }
  }
  if (!observed) {
    if (minSeq === 0n) return 'ok';
    for (const path of files.keys())
      out.problems.push({
        path,
        code: 'TRUST_STATUS_REPLAYED',
        message: `this status commit carries no signed sequence number; the device sent ${minSeq} before`,
      });
    return 'replayed';
  }
  if (observed.seq < minSeq) {
    for (const path of files.keys())
      out.problems.push({
        path,
        code: 'TRUST_STATUS_REPLAYED',
        message: `status sequence ${observed.seq} is older than ${minSeq}, already accepted from this device`,
      });
    return 'replayed';
  }
  out.seq = observed.seq;
  out.observedCommit = observed.commit;
  for (const [path, bytes] of [...files]) {
    if (path === OBSERVED_FILE) continue;
    if (observed.files.get(path) !== statusFileDigest(bytes)) {
      files.delete(path);
      out.problems.push({
        path,
        code: 'TRUST_STATUS_STALE',
        message: `${path} is not listed with this digest in the signed observed.json of the same commit`,
      });
    }
  }
  return 'ok';
}

function legacyObservedCommit(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> | null;
    if (
      doc &&
      Object.keys(doc).length === 1 &&
      typeof doc.commit === 'string' &&
      /^[0-9a-f]{40}$/.test(doc.commit)
    )
      return doc.commit;
  } catch {
    /* not JSON */
  }
  return undefined;
}

/**
 * Reads the `status` branch of a device repository. With a verifier, only files signed by this
 * device are used; the others are ignored and listed in `problems` with their codes. Signed files
 * count only when the same commit's signed observed.json lists their digest, and only when its
 * sequence number is not below `minSeq` (the highest the orchestrator accepted from the device):
 * otherwise the whole report is a replay (`replayed`), and nothing of it is used.
 */
export async function readDeviceStatus(
  gitdir: string,
  oid: string | null,
  verify?: { deviceId: string; verifier: StatusVerifier; minSeq?: bigint },
): Promise<DeviceReport> {
  const out: DeviceReport = { oid, statuses: new Map(), problems: [] };
  if (!oid) return out;
  const commit = await readCommit(gitdir, oid);
  if (commit.time !== undefined) out.reportedAt = commit.time * 1000;
  let files = await readTreeFiles(gitdir, commit.tree);
  if (verify) {
    const r = await verify.verifier(verify.deviceId, files);
    files = r.files;
    out.problems.push(...r.refused);
    if (checkObserved(files, verify.minSeq ?? 0n, out) === 'replayed') {
      out.replayed = true;
      return out;
    }
    // The history fallback predates signed sequence numbers: old signed capabilities there may be
    // exactly what a replay wants used, so a sequenced report falls back only to what the
    // orchestrator itself accepted earlier (kept in memory by the caller).
    if (out.seq === undefined && !verify.minSeq && out.problems.some((p) => p.path === CAPABILITIES_FILE)) {
      const genuine = await lastGenuineCapabilities(gitdir, commit.parents, verify);
      if (genuine) files.set(CAPABILITIES_FILE, genuine);
    }
  }
  for (const [path, bytes] of files) {
    try {
      if (path === CAPABILITIES_FILE)
        out.capabilities = normaliseCapabilities(JSON.parse(bytes.toString('utf8')));
      else if (path === HOLD_FILE) out.hold = parseDeviceHold(bytes);
      else if (path === OBSERVED_FILE) {
        if (verify) continue; // checked above
        const commit = (JSON.parse(bytes.toString('utf8')) as { commit?: unknown } | null)?.commit;
        if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit))
          throw new Error('observed.json carries no commit id');
        out.observedCommit = commit;
      } else if (/^deployments\/[^/]+\.json$/.test(path)) {
        const s = normaliseStatus(JSON.parse(bytes.toString('utf8')));
        const id = s.deploymentId || path.slice(DEPLOYMENT_STATUS_DIR.length, -'.json'.length);
        out.statuses.set(id, s);
      }
    } catch (e) {
      out.problems.push({
        path,
        code: 'ORCH_STATUS_INVALID',
        message: e instanceof Error ? e.message : String(e),
      });
    }
  }
  return out;
}

/** Oid of the `deployments/` folder the given files would make (hash only, nothing written). */
export async function deploymentsTreeOf(files: ReadonlyMap<string, Buffer>): Promise<string | null> {
  const subtrees = new Map<string, string>();
  await buildTree(null, files, subtrees);
  return subtrees.get('deployments') ?? null;
}

export interface WriteDeviceInput {
  gitdir: string;
  expectedOid: string | null;
  /** The complete tree of the new commit. */
  files: ReadonlyMap<string, Buffer>;
  message: string;
  author: Signature;
  committer: Signature;
}

/** Writes the complete desired tree as one commit on `main` (compare-and-swap on the old head). */
export async function writeDeviceMain(input: WriteDeviceInput): Promise<string> {
  const tree = (await buildTree(input.gitdir, input.files)) ?? (await writeEmptyTree(input.gitdir));
  const oid = await writeCommit(input.gitdir, {
    tree,
    parents: input.expectedOid ? [input.expectedOid] : [],
    author: input.author,
    committer: input.committer,
    message: input.message,
  });
  await updateRef(input.gitdir, 'main', input.expectedOid, oid);
  return oid;
}

function writeEmptyTree(gitdir: string): Promise<string> {
  return writeObject(gitdir, 'tree', Buffer.alloc(0));
}

export { readRef };
