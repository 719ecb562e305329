import {
  CAPABILITIES_FILE,
  DEPLOYMENT_STATUS_DIR,
  HOLD_FILE,
  OBSERVED_FILE,
  parseSource,
} from '@margo-gitops/spec';
import { execGit } from '../exec-git.js';
import { ZERO_OID } from '../paths.js';
import type { RepoRef } from './access.js';
import { ociLayoutFindings, type OciLayoutLimits } from './oci-layout-rules.js';
import type { ChangedFile, PushFinding, QuarantineEnv, RefUpdate } from './push-validation.js';
import { envOf } from './push-validation.js';

/**
 * Rules the server applies to every push whatever validators it was given: no links in any tree,
 * published catalog versions never change, catalog folders match their margo.yaml, and a device's
 * status branch holds only status files, is bounded in size and is never deleted.
 */

/** Limits of a device repository's status branch. */
export interface StatusLimits {
  /** Largest status file. Default 1 MiB. */
  maxFileBytes: number;
  /** Most objects one push may bring (counted in quarantine, reachable or not). Default 10 000. */
  maxObjects: number;
}

export const DEFAULT_STATUS_LIMITS: StatusLimits = { maxFileBytes: 1024 * 1024, maxObjects: 10_000 };

export const STATUS_REF = 'refs/heads/status';
/** The trust package's SIGNATURES_FILE (git may not import trust). */
const SIGNATURES_FILE = 'signatures.json';
const DEPLOYMENT_STATUS_RE = new RegExp(
  `^${DEPLOYMENT_STATUS_DIR.replace(/\//g, '\\/')}[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.json$`,
);

/** May `path` be on a status branch? */
export function isStatusPath(path: string): boolean {
  return (
    path === CAPABILITIES_FILE ||
    path === OBSERVED_FILE ||
    path === SIGNATURES_FILE ||
    path === HOLD_FILE ||
    (DEPLOYMENT_STATUS_RE.test(path) && !path.includes('..'))
  );
}

const LINK_MODES: Record<string, string> = { '120000': 'a symbolic link', '160000': 'a gitlink (submodule)' };

/** Symlinks and gitlinks among the added or changed entries. */
export function linkFindings(changes: readonly ChangedFile[]): PushFinding[] {
  return changes
    .filter((c) => c.status !== 'deleted' && c.mode !== undefined && LINK_MODES[c.mode])
    .map((c) => ({
      code: 'GIT_LINK_REFUSED',
      file: c.path,
      message: `${c.path} is ${LINK_MODES[c.mode!]} (mode ${c.mode}); only regular files are accepted`,
    }));
}

/** `<app>/<version>/` of a path two or more levels deep, else undefined. */
export function versionFolder(path: string): string | undefined {
  const m = /^([^/]+)\/([^/]+)\//.exec(path);
  return m ? `${m[1]}/${m[2]}/` : undefined;
}

export const YANK_FILE = 'yanked.yaml';
const MARGO_YAML_RE = /^([^/]+)\/([^/]+)\/margo\.ya?ml$/;

/**
 * Published versions are immutable: once `<app>/<version>/margo.yaml` is on the branch, nothing
 * under `<app>/<version>/` may be added, changed or deleted, except adding the yank record once.
 * `published` lists the version folders that had a margo.yaml before the push.
 */
export function immutabilityFindings(
  changes: readonly ChangedFile[],
  published: ReadonlySet<string>,
): PushFinding[] {
  const out: PushFinding[] = [];
  for (const c of changes) {
    const folder = versionFolder(c.path);
    if (!folder || !published.has(folder)) continue;
    if (c.path === `${folder}${YANK_FILE}` && c.status === 'added') continue;
    const what = c.status === 'deleted' ? 'deletes' : c.status === 'added' ? 'adds' : 'changes';
    out.push({
      code: c.path.endsWith(`/${YANK_FILE}`) ? 'GIT_CATALOG_YANK_INVALID' : 'GIT_CATALOG_VERSION_IMMUTABLE',
      file: c.path,
      message: `this push ${what} ${c.path}, but ${folder.slice(0, -1)} is published and cannot change; publish a new version${c.path.endsWith(`/${YANK_FILE}`) ? ' (a yank is recorded once)' : ' or yank this one'}`,
    });
  }
  return out;
}

/** Version folders among `folders` that hold a margo.yaml at `commit` (zero id: none). */
export async function publishedFolders(
  q: QuarantineEnv,
  commit: string,
  folders: readonly string[],
): Promise<Set<string>> {
  if (commit === ZERO_OID || !folders.length) return new Set();
  const specs = folders.flatMap((f) => [`${f}margo.yaml`, `${f}margo.yml`]);
  const res = await execGit(['ls-tree', '-r', '-z', '--name-only', '--full-tree', commit, '--', ...specs], {
    env: envOf(q),
    cwd: q.gitDir,
  });
  return new Set(
    res.stdout
      .toString('utf8')
      .split('\0')
      .filter(Boolean)
      .map((p) => versionFolder(p)!),
  );
}

/** The scalar at `pointer` as written (or its plain value), with its position. */
function field(src: ReturnType<typeof parseSource>, pointer: string, value: unknown) {
  const text = src.sourceText(pointer) ?? (value === undefined || value === null ? undefined : String(value));
  return { text, at: src.locate(pointer) };
}

/**
 * An added or changed `<app>/<version>/margo.yaml` must declare `metadata.id` = app and
 * `metadata.version` = version (the orchestrator would otherwise hold every deployment of it).
 */
export function pathMismatchFindings(path: string, content: Buffer): PushFinding[] {
  const m = MARGO_YAML_RE.exec(path);
  if (!m) return [];
  const src = parseSource(content, { file: path });
  const data = src.data as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object') return []; // the document validator reports what is wrong
  // Two shapes: top-level id/version, or metadata.id/metadata.version (2024).
  const meta =
    data.metadata && typeof data.metadata === 'object' ? (data.metadata as Record<string, unknown>) : {};
  const out: PushFinding[] = [];
  for (const [name, want] of [
    ['id', m[1]!],
    ['version', m[2]!],
  ] as const) {
    const top = data[name] !== undefined;
    const f = field(src, top ? `/${name}` : `/metadata/${name}`, top ? data[name] : meta[name]);
    if (f.text === undefined || f.text === want) continue;
    out.push({
      code: 'GIT_CATALOG_PATH_MISMATCH',
      file: path,
      ...(f.at ? { line: f.at.line, column: f.at.column } : {}),
      message: `${top ? '' : 'metadata.'}${name} is "${f.text.slice(0, 80)}" but the folder says "${want}"; a package lives in <id>/<version>/`,
    });
  }
  return out;
}

/**
 * A yank record `<app>/<version>/yanked.yaml`: `reason` (1-1000 characters) for a version that is
 * published in the same tree. Returns findings; empty when valid.
 */
export function yankRecordFindings(path: string, content: Buffer, versionPublished: boolean): PushFinding[] {
  const bad = (message: string, at?: { line: number; column: number }): PushFinding[] => [
    {
      code: 'GIT_CATALOG_YANK_INVALID',
      file: path,
      message,
      ...(at ? { line: at.line, column: at.column } : {}),
    },
  ];
  if (!versionPublished)
    return bad('a yank record needs a published version (a margo.yaml in the same folder)');
  const src = parseSource(content, { file: path, maxBytes: 64 * 1024 });
  const data = src.data as { kind?: unknown; reason?: unknown } | undefined;
  if (!data || typeof data !== 'object')
    return bad('a yank record is a YAML mapping with kind: Yank and reason');
  if (data.kind !== 'Yank') return bad('kind must be Yank', src.locate('/kind'));
  const reason = data.reason;
  if (typeof reason !== 'string' || !reason.trim() || reason.length > 1000)
    return bad('reason must be a non-empty text of at most 1000 characters', src.locate('/reason'));
  return [];
}

/**
 * Checks the whole tree of a device's status branch at `commit`: status file names only, regular
 * files only, each at most `maxFileBytes`.
 */
export async function statusTreeFindings(
  q: QuarantineEnv,
  commit: string,
  limits: StatusLimits,
): Promise<PushFinding[]> {
  const res = await execGit(['ls-tree', '-r', '-z', '-l', '--full-tree', commit], {
    env: envOf(q),
    cwd: q.gitDir,
  });
  const out: PushFinding[] = [];
  for (const entry of res.stdout.toString('utf8').split('\0')) {
    if (!entry) continue;
    const tab = entry.indexOf('\t');
    const [mode, , , size] = entry.slice(0, tab).split(/\s+/);
    const path = entry.slice(tab + 1);
    if (mode && LINK_MODES[mode]) {
      out.push({
        code: 'GIT_LINK_REFUSED',
        file: path,
        message: `${path} is ${LINK_MODES[mode]}; only regular files are accepted`,
      });
    } else if (!isStatusPath(path)) {
      out.push({
        code: 'GIT_STATUS_PATH_REFUSED',
        file: path,
        message: `${path} is not a status file (${CAPABILITIES_FILE}, ${OBSERVED_FILE}, ${SIGNATURES_FILE}, ${HOLD_FILE}, ${DEPLOYMENT_STATUS_DIR}<id>.json)`,
      });
    } else if (Number(size) > limits.maxFileBytes) {
      out.push({
        code: 'GIT_STATUS_PATH_REFUSED',
        file: path,
        message: `${path} is ${size} bytes; a status file may have at most ${limits.maxFileBytes} bytes`,
      });
    }
    if (out.length >= 20) break; // enough to explain the refusal
  }
  return out;
}

/** Every built-in rule for one push to `repo` (after the ref access rules passed). */
export async function builtInFindings(
  q: QuarantineEnv,
  repo: RepoRef,
  updates: readonly RefUpdate[],
  changesOf: (u: RefUpdate) => Promise<ChangedFile[]>,
  readBlob: (oid: string) => Promise<Buffer>,
  limits: StatusLimits,
  ociLimits: OciLayoutLimits,
  /** Objects a device push brought into quarantine (quarantineStats; 0 when not quarantined). */
  objectCount: number,
): Promise<PushFinding[]> {
  const out: PushFinding[] = [];
  if (repo.kind === 'device') {
    for (const u of updates)
      if (u.after === ZERO_OID)
        out.push({
          code: 'GIT_STATUS_BRANCH_PROTECTED',
          message: `${u.ref}: branches of a device repository cannot be deleted`,
        });
    if (out.length) return out;
    if (objectCount > limits.maxObjects)
      return [
        {
          code: 'GIT_PUSH_TOO_LARGE',
          message: `this push brings ${objectCount} objects; a device repository accepts at most ${limits.maxObjects} per push`,
        },
      ];
  }
  for (const u of updates) {
    if (u.after === ZERO_OID) continue;
    if (repo.kind === 'device' && u.ref === STATUS_REF) {
      out.push(...(await statusTreeFindings(q, u.after, limits)));
      continue;
    }
    const changes = await changesOf(u);
    out.push(...linkFindings(changes));
    if (repo.kind !== 'catalog') continue;
    const touched = [...new Set(changes.map((c) => versionFolder(c.path)).filter((f) => f !== undefined))];
    const before = await publishedFolders(q, u.before, touched);
    out.push(...immutabilityFindings(changes, before));
    out.push(...(await ociLayoutFindings(q, u.after, changes, ociLimits)));
    for (const c of changes) {
      if (c.status === 'deleted' || (c.mode !== undefined && LINK_MODES[c.mode])) continue;
      if (MARGO_YAML_RE.test(c.path)) out.push(...pathMismatchFindings(c.path, await readBlob(c.oid)));
      const folder = versionFolder(c.path);
      if (folder && c.path === `${folder}${YANK_FILE}`)
        out.push(...yankRecordFindings(c.path, await readBlob(c.oid), before.has(folder)));
    }
  }
  return out;
}
