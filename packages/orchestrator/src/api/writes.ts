/**
 * The write side of the Workload Management API (rc.2): `POST /api/v1/deployments/{id}/status`,
 * `PUT` and `DELETE /api/v1/capabilities/{deviceId}`. Each accepted change becomes ONE commit on
 * the caller's own `status` branch, in the layout our agent pushes over Git, so the orchestrator
 * (readDeviceStatus, the fleet roll-up, `margo status`) reads REST reports exactly like Git ones.
 * The server signs what it writes as an API witness (trust's api-witness.ts) and records who
 * asked in the commit: author "<deviceId> (api)", trailers Margo-Transport/Margo-Peer/
 * Margo-Peer-Serial. Unchanged content writes nothing (200, or 204 for DELETE).
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  CAPABILITIES_FILE,
  DEPLOYMENT_STATUS_DIR,
  buildDeviceHold,
  holdFromValue,
  HOLD_FILE,
  isMargoError,
  MargoError,
  OBSERVED_FILE,
  checkDeploymentStatus,
  checkDeviceCapabilities,
  checkManifestVersion,
  parseObserved,
  statusFileDigest,
  validateAgainstSchema,
  type Code,
  type Finding,
} from '@margo-gitops/spec';
import { ensureDeviceRepo } from '@margo-gitops/git';
import { signWitness, type IdentifiedPeer } from '@margo-gitops/trust';
import { manifestFacts, MANIFEST_FILE, type StatusVerifier } from '../io/device-repo.js';
import {
  buildTree,
  readCommit,
  readRef,
  readTreeFiles,
  updateRef,
  writeCommit,
  writeObject,
} from '../io/git-objects.js';
import { loadDeviceStates } from '../io/state-store.js';
import type { ApiWrite } from './handler.js';
import { sendProblem } from './problem.js';
import type { DeviceStateReader } from './reader.js';
import type { ApiStateCache } from './state-cache.js';
import { isUnchanged, lastSeqOf, nextSeq, nextStatusTree, NO_COMMIT } from './status-tree.js';

/** Largest request body taken (rc.2 documents are a few KiB). */
export const MAX_WRITE_BODY_BYTES = 1024 * 1024;
/** How often a write is tried again when the ref moved under it (a Git push in between). */
const CAS_ATTEMPTS = 5;
/** How far back the desired commit of an adoptedManifestVersion is looked for. */
const VERSION_SEARCH_DEPTH = 64;

export interface ApiWritesOptions {
  /** `<data>/repos`: device repositories are `devices/<id>.git` under it. */
  reposRoot: string;
  /** The data folder, for the highest status `seq` the orchestrator accepted (state/). */
  dataDir?: string;
  cache: ApiStateCache;
  reader: DeviceStateReader;
  /** The server SVID: the API witness key. */
  witness: { keyPem: string; certPem: string };
  /** The orchestrator's status verifier: only files it would accept are carried into a new commit. */
  verifier?: StatusVerifier;
  maxBodyBytes?: number;
  now?(): Date;
  /** Called after a commit (margo serve: the orchestrator re-reads that device's status). */
  onWrite?(deviceId: string): void;
}

type FieldErrors = { field: string; message: string }[];
/** A refusal the write answers itself: the HTTP status travels in `data`. */
const problem = (status: number, code: Code, detail: string, errors?: FieldErrors): MargoError =>
  new MargoError(code, detail, { data: { status, ...(errors ? { errors } : {}) } });

/** The body as UTF-8 text, after the media type and size checks (415, 413, 400). */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<{ text: string; value: unknown }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw problem(415, 'API_UNSUPPORTED_MEDIA_TYPE', 'send the document as application/json');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw problem(413, 'API_BODY_TOO_LARGE', `the body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw problem(413, 'API_BODY_TOO_LARGE', `the body exceeds ${limit} bytes`);
    chunks.push(c);
  }
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    value = JSON.parse(text);
  } catch {
    throw problem(400, 'API_BODY_INVALID', 'the body is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw problem(400, 'API_BODY_INVALID', 'the body is not a JSON object');
  return { text, value };
}

/**
 * 422 with errors[] unless the document validates as `kind`: the spec package's schema and rules
 * on the parsed value (what `margo validate` checks, without the source positions it computes for
 * people, which cost milliseconds per document).
 */
function validate(kind: 'DeploymentStatus' | 'DeviceCapabilities', value: unknown, extra: Finding[]): void {
  const rules = kind === 'DeploymentStatus' ? checkDeploymentStatus : checkDeviceCapabilities;
  const errors = [...validateAgainstSchema(kind, value), ...rules(value), ...extra]
    .filter((f) => f.severity === 'error')
    .map((f) => ({ field: f.path || '/', message: `${f.code}: ${f.message}` }));
  if (errors.length)
    throw problem(
      422,
      'API_DOCUMENT_INVALID',
      `the body is not a valid ${kind} document`,
      errors.slice(0, 50),
    );
}

/** A finding for a field that contradicts the request (path, caller). */
const mismatch = (path: string, message: string): Finding => ({
  code: 'SPEC_VALUE_NOT_ALLOWED',
  severity: 'error',
  message,
  path,
});

/** The exact digits of a JSON number member (it may exceed 2^53), when the text has it. */
function versionText(text: string, value: unknown): string | undefined {
  const v = (value as Record<string, unknown>).adoptedManifestVersion;
  if (typeof v === 'string' && /^[1-9][0-9]{0,19}$/.test(v)) return v;
  if (typeof v !== 'number') return undefined;
  const m = /"adoptedManifestVersion"\s*:\s*([0-9]+)/.exec(text);
  return m?.[1] ?? String(v);
}

interface Change {
  changes: Map<string, Buffer | null>;
  /** Commit message subject. */
  subject: string;
  /** observed.json commit for this change (else the branch's, else main's head). */
  commit?: string;
}

/**
 * The write endpoints for createWorkloadApiHandler's `writes` option.
 *
 * @example
 * createWorkloadApiHandler({ ..., writes: createApiWrites({ reposRoot, dataDir, cache, reader, witness: svid, verifier }) });
 */
export function createApiWrites(o: ApiWritesOptions): {
  postStatus: ApiWrite;
  putCapabilities: ApiWrite;
  deleteCapabilities: ApiWrite;
} {
  const limit = o.maxBodyBytes ?? MAX_WRITE_BODY_BYTES;
  const now = () => o.now?.() ?? new Date();
  /** Highest seq written per device by this process (with the orchestrator's persisted one: the replay floor). */
  const written = new Map<string, bigint>();
  /** Per device: what the last head seen vouches for (observed.json seq, files it binds). */
  const vouched = new Map<string, { head: string; seq: bigint; carried: Set<string> }>();
  const gitdir = (id: string) => join(o.reposRoot, 'devices', `${id}.git`);

  /** Answers the error of a write as a problem body; anything unexpected goes to the handler (500). */
  const guarded =
    (fn: ApiWrite): ApiWrite =>
    async (peer, req, res, params) => {
      try {
        await fn(peer, req, res, params);
      } catch (e) {
        const d = isMargoError(e)
          ? (e.data as { status?: number; errors?: FieldErrors } | undefined)
          : undefined;
        if (!isMargoError(e) || typeof d?.status !== 'number') throw e;
        // The rest of an unread body would be taken as the next request: close instead.
        if (!req.readableEnded) res.setHeader('connection', 'close');
        sendProblem(res, d.status, e.code, {
          instance: (req.url ?? '').split('?')[0]!,
          detail: e.message,
          ...(d.errors ? { errors: d.errors } : {}),
        });
        if (!req.readableEnded) req.resume();
      }
    };

  async function floorSeq(deviceId: string): Promise<bigint> {
    let floor = written.get(deviceId) ?? 0n;
    if (o.dataDir) {
      const s = (await loadDeviceStates(o.dataDir)).get(deviceId)?.statusSeq;
      if (s && /^[0-9]{1,20}$/.test(s) && BigInt(s) > floor) floor = BigInt(s);
    }
    return floor;
  }

  /**
   * Paths of the head the new observed.json may vouch for: verified files bound by the head's own
   * verified observed.json, and only when its seq is not below what was already accepted (a
   * replayed old report pushed with a stolen Git token is not revived by an API write).
   */
  async function carriedOf(
    deviceId: string,
    head: string | null,
    files: ReadonlyMap<string, Buffer>,
  ): Promise<Set<string>> {
    const all = [...files.keys()].filter((p) => p !== OBSERVED_FILE && p !== 'signatures.json');
    if (!o.verifier) return new Set(all);
    const floor = await floorSeq(deviceId);
    // The head this process wrote itself (or checked before) is not verified again.
    const known = vouched.get(deviceId);
    if (known && known.head === head) return known.seq < floor ? new Set() : known.carried;
    const r = await o.verifier(deviceId, files);
    const bytes = r.files.get(OBSERVED_FILE);
    let observed;
    try {
      observed = bytes ? parseObserved(bytes) : undefined;
    } catch {
      observed = undefined;
    }
    const carried = new Set(
      all.filter((p) => r.files.has(p) && observed?.files.get(p) === statusFileDigest(r.files.get(p)!)),
    );
    if (head) vouched.set(deviceId, { head, seq: observed?.seq ?? 0n, carried });
    return !observed || observed.seq < floor ? new Set() : carried;
  }

  /** One commit on the status branch (compare-and-swap, again when a Git push moved the ref). */
  async function commitChange(
    peer: IdentifiedPeer,
    plan: (files: ReadonlyMap<string, Buffer>) => Promise<Change | undefined>,
  ): Promise<{ wrote: boolean; existed: Map<string, boolean> }> {
    const dir = gitdir(peer.deviceId);
    // The caller holds an SVID our CA issued and not revoked: its repository is made as the
    // orchestrator's next pass would (never by writing objects into a folder that is not one).
    if (!existsSync(join(dir, 'HEAD'))) await ensureDeviceRepo(o.reposRoot, peer.deviceId);
    for (let attempt = 1; ; attempt++) {
      const head = await readRef(dir, 'status');
      const current = head
        ? await readTreeFiles(dir, (await readCommit(dir, head)).tree)
        : new Map<string, Buffer>();
      const change = await plan(current);
      const existed = new Map([...(change?.changes.keys() ?? [])].map((p) => [p, current.has(p)]));
      if (!change) return { wrote: false, existed };
      const carried = await carriedOf(peer.deviceId, head, current);
      if (isUnchanged({ current, carried, changes: change.changes })) return { wrote: false, existed };
      const t = now();
      const seq = nextSeq(
        [lastSeqOf(current), written.get(peer.deviceId) ?? 0n, await floorSeq(peer.deviceId)].reduce(
          (a, b) => (a > b ? a : b),
        ),
        t.getTime(),
      );
      const commit =
        change.commit ?? observedCommitOf(current) ?? (await o.reader.head(peer.deviceId)) ?? NO_COMMIT;
      const tree = nextStatusTree({
        current,
        carried,
        changes: change.changes,
        commit,
        seq,
        sign: (path, bytes) =>
          signWitness(bytes, { deviceId: peer.deviceId, path, peer: peer.spiffeId, ...o.witness }),
      });
      const treeOid = (await buildTree(dir, tree)) ?? (await writeObject(dir, 'tree', Buffer.alloc(0)));
      const when = Math.floor(t.getTime() / 1000);
      const oid = await writeCommit(dir, {
        tree: treeOid,
        parents: head ? [head] : [],
        author: {
          name: `${peer.deviceId} (api)`,
          email: `${peer.deviceId}@devices.margo-gitops`,
          timestamp: when,
        },
        committer: { name: 'margo serve (api)', email: 'api@margo-gitops.invalid', timestamp: when },
        message: [
          `${change.subject} (api)`,
          '',
          'Margo-Transport: rest',
          `Margo-Peer: ${peer.spiffeId}`,
          `Margo-Peer-Serial: ${peer.serial}`,
          '',
        ].join('\n'),
      });
      try {
        await updateRef(dir, 'status', head, oid);
      } catch (e) {
        if (isMargoError(e) && e.code === 'ORCH_REF_CONFLICT' && attempt < CAS_ATTEMPTS) continue;
        if (isMargoError(e) && e.code === 'ORCH_REF_CONFLICT')
          throw new MargoError(
            'API_UNAVAILABLE',
            'the status branch is being written by another push; try again',
            {
              cause: e,
              retry: 'later',
              data: { retryAfterSeconds: 2 },
            },
          );
        throw e;
      }
      written.set(peer.deviceId, seq);
      const listed = [...tree.keys()].filter((p) => change.changes.has(p) || carried.has(p));
      vouched.set(peer.deviceId, { head: oid, seq, carried: new Set(listed) });
      o.onWrite?.(peer.deviceId);
      return { wrote: true, existed };
    }
  }

  /** Desired deployment ids, main's head, and the commit of a manifest version (undefined: not found). */
  async function desired(deviceId: string): Promise<{
    head: string | null;
    ids: Set<string>;
    commitOf(v: string): Promise<string | undefined>;
    /** Of two desired commits, the later on main (`b` when `a` is not found in recent history). */
    newer(a: string | undefined, b: string | undefined): Promise<string | undefined>;
  }> {
    const head = await o.reader.head(deviceId);
    if (!head) return { head, ids: new Set(), commitOf: async () => undefined, newer: async (_a, b) => b };
    const m = await o.cache.manifest(deviceId);
    return {
      head: m.commit,
      ids: new Set(m.docs.map((d) => d.deploymentId)),
      newer: async (a, b) => {
        if (!a || !b || a === b) return b ?? a;
        const history = await o.reader.ancestors(deviceId, m.commit, VERSION_SEARCH_DEPTH);
        const ia = history.indexOf(a);
        const ib = history.indexOf(b);
        return ia >= 0 && (ib < 0 || ia < ib) ? a : b;
      },
      commitOf: async (v) => {
        if (v === m.version) return m.commit;
        const history = await o.reader.ancestors(deviceId, m.commit, VERSION_SEARCH_DEPTH);
        for (const [i, c] of history.entries()) {
          const files = await o.reader.files(deviceId, c);
          // Signed mode: the version of the orchestrator's manifest; unsigned: the commit count.
          const version = files.has(MANIFEST_FILE)
            ? manifestFacts(files.get(MANIFEST_FILE)).manifestVersion
            : String(BigInt(m.version) - BigInt(i));
          if (version === v) return c;
        }
        return undefined;
      },
    };
  }

  const postStatus: ApiWrite = async (peer, req, res, params) => {
    const deploymentId = params.deploymentId!;
    const { text, value } = await readJsonBody(req, limit);
    const body = value as Record<string, unknown>;
    const extra: Finding[] = [];
    if (body.deploymentId !== undefined && body.deploymentId !== deploymentId)
      extra.push(mismatch('/deploymentId', 'differs from the deploymentId in the path'));
    const adopted = versionText(text, value);
    if (body.adoptedManifestVersion === undefined)
      extra.push({
        code: 'SPEC_REQUIRED_FIELD',
        severity: 'error',
        message: 'missing required field "adoptedManifestVersion" (rc.2)',
        path: '/adoptedManifestVersion',
      });
    extra.push(...checkManifestVersion(adopted, '/adoptedManifestVersion'));
    validate('DeploymentStatus', value, extra);
    if (body.deviceId !== undefined && body.deviceId !== peer.deviceId)
      throw problem(403, 'API_FORBIDDEN', 'a client reports the status of its own device only');
    const want = await desired(peer.deviceId);
    const path = `${DEPLOYMENT_STATUS_DIR}${deploymentId}.json`;
    const state = String((body.status as { state?: unknown }).state ?? '').toLowerCase();
    const r = await commitChange(peer, async (current) => {
      // Nothing disclosed: another device's deployment looks exactly like one that never existed.
      if (!want.ids.has(deploymentId) && !current.has(path))
        throw problem(404, 'API_NOT_FOUND', 'this device has no such deployment');
      const removedForGood = state === 'removed' && !want.ids.has(deploymentId);
      // observed.json: the desired commit the device says it adopted, else main's head; never an
      // older one than it already names (an unchanged deployment's status keeps the version it was
      // applied at, and posting it must not make the device look behind again).
      const adoptedCommit = (adopted ? await want.commitOf(adopted) : undefined) ?? want.head ?? undefined;
      const commit = await want.newer(observedCommitOf(current), adoptedCommit);
      return {
        changes: new Map([[path, removedForGood ? null : Buffer.from(text, 'utf8')]]),
        subject: `status ${deploymentId}: ${state}`,
        ...(commit ? { commit } : {}),
      };
    });
    answer(res, r.wrote && r.existed.get(path) === false ? 201 : 200);
  };

  const own = (peer: IdentifiedPeer, params: Record<string, string>) => {
    if (params.deviceId !== peer.deviceId)
      throw problem(403, 'API_FORBIDDEN', "a client reads and writes its own device's resources only");
  };

  const putCapabilities: ApiWrite = async (peer, req, res, params) => {
    own(peer, params);
    const { text, value } = await readJsonBody(req, limit);
    const id = ((value as { properties?: { id?: unknown } }).properties ?? {}).id;
    validate(
      'DeviceCapabilities',
      value,
      id !== undefined && id !== peer.deviceId
        ? [mismatch('/properties/id', 'differs from the deviceId in the path')]
        : [],
    );
    // The on-site hold travels in the capabilities extension (rc.2 has no resource for it); it is
    // kept as hold.json, where a Git device pushes it, so the orchestrator reads both alike.
    const hold = holdFromValue(
      ((value as Record<string, unknown>)['x-margo-gitops-extensions'] as { hold?: unknown } | undefined)
        ?.hold,
    );
    const r = await commitChange(peer, async () => ({
      changes: new Map<string, Buffer | null>([
        [CAPABILITIES_FILE, Buffer.from(text, 'utf8')],
        [HOLD_FILE, hold ? Buffer.from(buildDeviceHold(hold), 'utf8') : null],
      ]),
      subject: hold ? `capabilities (on-site hold: ${hold.reason})` : 'capabilities',
    }));
    answer(res, r.existed.get(CAPABILITIES_FILE) === false && r.wrote ? 201 : 200);
  };

  const deleteCapabilities: ApiWrite = async (peer, req, res, params) => {
    own(peer, params);
    req.resume();
    await commitChange(peer, async (current) =>
      current.has(CAPABILITIES_FILE)
        ? { changes: new Map([[CAPABILITIES_FILE, null]]), subject: 'capabilities removed' }
        : undefined,
    );
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  };

  return {
    postStatus: guarded(postStatus),
    putCapabilities: guarded(putCapabilities),
    deleteCapabilities: guarded(deleteCapabilities),
  };
}

function observedCommitOf(files: ReadonlyMap<string, Buffer>): string | undefined {
  try {
    return parseObserved(files.get(OBSERVED_FILE) ?? '').commit;
  } catch {
    return undefined;
  }
}

function answer(res: ServerResponse, status: 200 | 201): void {
  res.writeHead(status, { 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}
