import { MargoError } from '@margo-gitops/spec';
import { execGit } from '../exec-git.js';
import { ZERO_OID } from '../paths.js';
import { parseCatFileBatch } from '../native-git-store.js';
import type { RepoRef } from './access.js';
import type { TokenInfo } from './token-store.js';

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export interface RefUpdate {
  ref: string;
  before: string;
  after: string;
}

export interface ChangedFile {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  /** New blob id (the old one for deleted files). */
  oid: string;
  /** New file mode (`100644`, `100755`, `120000` symlink, `160000` gitlink; the old one for deleted files). */
  mode?: string;
}

/** One problem with a push, shown to the pusher as `file:line:col CODE message`. */
export interface PushFinding {
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** Default 'error'; only errors refuse the push. */
  severity?: 'error' | 'warning' | 'info';
}

/** What a validator sees for one updated ref (deletions are not validated). */
export interface PushValidationContext {
  repo: RepoRef;
  token: TokenInfo;
  update: RefUpdate;
  changes: ChangedFile[];
  /** Reads a blob pushed (or already stored). */
  readBlob(oid: string): Promise<Buffer>;
  /** Reads a file at the pushed commit; null when absent. */
  readFile(path: string): Promise<Buffer | null>;
  /** Lists files at the pushed commit (optionally under a prefix). */
  listFiles(prefix?: string): Promise<string[]>;
}

export type PushValidator = (ctx: PushValidationContext) => PushFinding[] | Promise<PushFinding[]>;

/** `file:line:col CODE message` (parts that are unknown are left out). */
export function formatPushFinding(f: PushFinding): string {
  let where = f.file ?? '';
  if (f.file && f.line !== undefined) where += `:${f.line}:${f.column ?? 1}`;
  const sev = f.severity && f.severity !== 'error' ? `${f.severity} ` : '';
  return `${where ? `${where} ` : ''}${sev}${f.code} ${f.message}`;
}

/** Parses pre-/post-receive stdin (`old new ref` lines). */
export function parseHookInput(stdin: string): RefUpdate[] {
  return stdin
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter((p) => p.length === 3)
    .map(([before, after, ref]) => ({ before: before!, after: after!, ref: ref! }));
}

/** Environment that lets git see the objects of a push still in quarantine. */
export interface QuarantineEnv {
  gitDir: string;
  objectDirectory?: string;
  alternates?: string;
  quarantine?: string;
}

export function envOf(q: QuarantineEnv): Record<string, string> {
  const env: Record<string, string> = { GIT_DIR: q.gitDir };
  if (q.objectDirectory) env.GIT_OBJECT_DIRECTORY = q.objectDirectory;
  if (q.alternates) env.GIT_ALTERNATE_OBJECT_DIRECTORIES = q.alternates;
  if (q.quarantine) env.GIT_QUARANTINE_PATH = q.quarantine;
  return env;
}

/**
 * Blobs larger than `maxBytes` among the objects a push adds; blobs first seen at a path that
 * `other.test` accepts (OCI layer blobs of the catalog) are held to `other.maxBytes` instead.
 */
export async function oversizedObjects(
  q: QuarantineEnv,
  updates: RefUpdate[],
  maxBytes: number,
  other?: { test: (path: string) => boolean; maxBytes: number; code: string },
): Promise<PushFinding[]> {
  const tips = updates.filter((u) => u.after !== ZERO_OID).map((u) => u.after);
  if (!tips.length) return [];
  const env = envOf(q);
  const list = await execGit(['rev-list', '--objects', ...tips, '--not', '--all'], { env, cwd: q.gitDir });
  if (!list.stdout.length) return [];
  const check = await execGit(
    ['cat-file', '--batch-check=%(objecttype) %(objectsize) %(objectname) %(rest)'],
    {
      env,
      cwd: q.gitDir,
      input: list.stdout,
    },
  );
  const out: PushFinding[] = [];
  for (const line of check.stdout.toString('utf8').split('\n')) {
    const [type, size, , ...rest] = line.split(' ');
    const path = rest.join(' ');
    const limit = other && path && other.test(path) ? other : undefined;
    if (type === 'blob' && Number(size) > (limit?.maxBytes ?? maxBytes)) {
      out.push({
        code: limit?.code ?? 'GIT_OBJECT_TOO_LARGE',
        file: path || undefined,
        message: `file is ${size} bytes; the server accepts at most ${limit?.maxBytes ?? maxBytes} bytes per ${limit ? 'layer' : 'file'}`,
      });
    }
  }
  return out;
}

/**
 * Count and largest blob of the objects a push brought into quarantine (reachable or not), in one
 * `git cat-file --batch-all-objects` over the quarantine object folder alone; undefined when the
 * push is not quarantined (nothing to tell new objects from stored ones).
 */
export async function quarantineStats(
  q: QuarantineEnv,
): Promise<{ objects: number; largestBlob: number } | undefined> {
  if (!q.objectDirectory || !q.quarantine) return undefined;
  const res = await execGit(
    ['cat-file', '--batch-all-objects', '--batch-check=%(objecttype) %(objectsize)'],
    {
      env: {
        GIT_DIR: q.gitDir,
        GIT_OBJECT_DIRECTORY: q.objectDirectory,
        GIT_ALTERNATE_OBJECT_DIRECTORIES: undefined,
      },
      cwd: q.gitDir,
    },
  );
  let objects = 0;
  let largestBlob = 0;
  for (const line of res.stdout.toString('latin1').split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    objects++;
    if (line.startsWith('blob ')) largestBlob = Math.max(largestBlob, Number(line.slice(sp + 1)));
  }
  return { objects, largestBlob };
}

/** Files changed by one ref update (against the empty tree for a new ref). */
export async function changedFiles(q: QuarantineEnv, u: RefUpdate): Promise<ChangedFile[]> {
  const env = envOf(q);
  const base = u.before === ZERO_OID ? EMPTY_TREE : u.before;
  const res = await execGit(['diff-tree', '-r', '-z', '--no-renames', '--no-commit-id', base, u.after], {
    env,
    cwd: q.gitDir,
  });
  const parts = res.stdout.toString('utf8').split('\0');
  const out: ChangedFile[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = parts[i]!;
    const path = parts[i + 1]!;
    if (!meta.startsWith(':')) break;
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(' ');
    if (status === 'D') out.push({ path, status: 'deleted', oid: oldOid!, mode: oldMode! });
    else out.push({ path, status: status === 'A' ? 'added' : 'modified', oid: newOid!, mode: newMode! });
  }
  return out;
}

async function catBlob(q: QuarantineEnv, spec: string): Promise<Buffer | null> {
  const res = await execGit(['cat-file', '--batch'], { env: envOf(q), cwd: q.gitDir, input: `${spec}\n` });
  return parseCatFileBatch(res.stdout, 'blob')[0] ?? null;
}

/** A blob of the push (in quarantine) or already stored. */
export async function readBlob(q: QuarantineEnv, oid: string): Promise<Buffer> {
  const b = await catBlob(q, oid);
  if (!b) throw new MargoError('GIT_REF_NOT_FOUND', `blob ${oid} not found`);
  return b;
}

/** Builds the reader functions validators use, bound to the quarantine environment. */
export function validationContext(
  q: QuarantineEnv,
  repo: RepoRef,
  token: TokenInfo,
  update: RefUpdate,
  changes: ChangedFile[],
): PushValidationContext {
  const env = envOf(q);
  return {
    repo,
    token,
    update,
    changes,
    readBlob: (oid) => readBlob(q, oid),
    readFile: (path) => catBlob(q, `${update.after}:${path}`),
    listFiles: async (prefix) => {
      const res = await execGit(
        [
          'ls-tree',
          '-r',
          '-z',
          '--name-only',
          '--full-tree',
          update.after,
          ...(prefix ? ['--', prefix] : []),
        ],
        {
          env,
          cwd: q.gitDir,
        },
      );
      return res.stdout.toString('utf8').split('\0').filter(Boolean);
    },
  };
}

/**
 * Refuses updates that rewrite or delete history (checked in pre-receive so that, unlike git's own
 * receive.denyNonFastForwards, the objects of a refused push never leave quarantine).
 */
export async function historyRewrites(q: QuarantineEnv, updates: RefUpdate[]): Promise<PushFinding[]> {
  const out: PushFinding[] = [];
  for (const u of updates) {
    if (u.after === ZERO_OID) {
      out.push({
        code: 'GIT_NOT_FAST_FORWARD',
        message: `${u.ref}: deleting branches of this repository is not allowed`,
      });
      continue;
    }
    if (u.before === ZERO_OID) continue;
    const r = await execGit(['merge-base', '--is-ancestor', u.before, u.after], {
      env: envOf(q),
      cwd: q.gitDir,
      okCodes: [0, 1],
    });
    if (r.code !== 0) {
      out.push({
        code: 'GIT_NOT_FAST_FORWARD',
        message: `${u.ref}: the history of this repository cannot be rewritten (non-fast-forward); fetch, rebase and push again`,
      });
    }
  }
  return out;
}
