import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ZERO_OID } from '../paths.js';
import { canUpdateRef, type RepoKind, type RepoRef } from './access.js';
import type { HookCall, HookVerdict } from './hook-service.js';
import {
  changedFiles,
  formatPushFinding,
  historyRewrites,
  oversizedObjects,
  parseHookInput,
  quarantineStats,
  readBlob,
  validationContext,
  type ChangedFile,
  type PushFinding,
  type PushValidator,
  type RefUpdate,
} from './push-validation.js';
import type { TokenInfo } from './token-store.js';
import { builtInFindings, type StatusLimits } from './tree-rules.js';
import type { OciLayoutLimits } from './oci-layout-rules.js';

/** The push a hook call belongs to (registered before git starts). */
export interface PendingPush {
  repo: RepoRef;
  token: TokenInfo;
}

export interface VerdictSettings {
  reposRoot: string;
  protectHistory: ReadonlySet<RepoKind>;
  maxObjectBytes: number;
  /** The catalog's larger bound for OCI layer blobs. */
  layerLimit: { test: (path: string) => boolean; maxBytes: number; code: string };
  statusLimits: StatusLimits;
  ociLimits: OciLayoutLimits;
  validators: Partial<Record<RepoKind, PushValidator | null>>;
}

const isError = (f: PushFinding): boolean => (f.severity ?? 'error') === 'error';

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * The pre-receive verdict for one push, in the server process: ref access rules, history
 * protection, object size limits, the built-in tree rules and the kind's validator, each step only
 * when the ones before found no error. A device status push costs two git processes here
 * (`cat-file --batch-all-objects` over the quarantine for object count and sizes, `ls-tree` of the
 * status tree); the path-aware size check runs only when a blob is too large, to name it.
 */
export async function pushVerdict(
  call: HookCall,
  ctx: PendingPush | undefined,
  s: VerdictSettings,
): Promise<HookVerdict> {
  const refuse = (m: string): HookVerdict => ({ ok: false, messages: [m] });
  if (!ctx) return refuse('margo: unknown push request; refused');
  if (real(call.gitDir) !== real(join(s.reposRoot, ctx.repo.name)))
    return refuse('margo: hook called for another repository; refused');
  if (call.hook !== 'pre-receive') return { ok: true, messages: [] };
  const updates = parseHookInput(call.stdin);
  const findings: PushFinding[] = [];
  for (const u of updates) {
    const d = canUpdateRef(ctx.token, ctx.repo, u.ref, u.after);
    if (!d.allow) findings.push({ code: d.code ?? 'GIT_ACCESS_DENIED', message: d.reason });
  }
  if (!findings.length && s.protectHistory.has(ctx.repo.kind))
    findings.push(...(await historyRewrites(call, updates)));
  let objectCount = 0;
  if (!findings.length) {
    const layers = ctx.repo.kind === 'catalog' ? s.layerLimit : undefined;
    // One pass over the quarantine gives every new object's size (and their count); a status
    // push has no layer paths, so only a blob over the bound needs the walk that names its path.
    const stats = ctx.repo.kind === 'device' ? await quarantineStats(call) : undefined;
    if (stats) objectCount = stats.objects;
    if (!stats || stats.largestBlob > s.maxObjectBytes) {
      const big = await oversizedObjects(call, updates, s.maxObjectBytes, layers);
      findings.push(...big);
      if (stats && !big.length)
        findings.push({
          code: 'GIT_OBJECT_TOO_LARGE',
          message: `this push brings a ${stats.largestBlob}-byte object; the server accepts at most ${s.maxObjectBytes} bytes per file`,
        });
    }
  }
  const changes = new Map<RefUpdate, Promise<ChangedFile[]>>();
  const changesOf = (u: RefUpdate) => {
    let c = changes.get(u);
    if (!c) changes.set(u, (c = changedFiles(call, u)));
    return c;
  };
  if (!findings.length) {
    const blob = (oid: string) => readBlob(call, oid);
    findings.push(
      ...(await builtInFindings(
        call,
        ctx.repo,
        updates,
        changesOf,
        blob,
        s.statusLimits,
        s.ociLimits,
        objectCount,
      )),
    );
  }
  const validator = s.validators[ctx.repo.kind];
  if (!findings.some(isError) && validator) {
    for (const u of updates) {
      if (u.after === ZERO_OID) continue;
      findings.push(
        ...(await validator(validationContext(call, ctx.repo, ctx.token, u, await changesOf(u)))),
      );
    }
  }
  const errors = findings.filter(isError);
  const lines = findings.map(formatPushFinding);
  if (errors.length)
    lines.push(
      `margo: push refused: ${errors.length} problem${errors.length === 1 ? '' : 's'}; nothing was stored`,
    );
  return { ok: errors.length === 0, messages: lines };
}
