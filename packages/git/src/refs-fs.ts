import { open, readFile, readdir, rename, mkdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { ZERO_OID, fullRef, isOid } from './paths.js';

/**
 * Reads and writes refs straight from a git directory (loose files and packed-refs), using git's
 * own lock-file protocol, so it interoperates with a native git working on the same repository.
 */

export interface PackedRefs {
  refs: Map<string, string>;
  /** ref -> peeled commit for annotated tags (`^{}` lines). */
  peeled: Map<string, string>;
}

export async function readPackedRefs(gitdir: string): Promise<PackedRefs> {
  const refs = new Map<string, string>();
  const peeled = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(gitdir, 'packed-refs'), 'utf8');
  } catch {
    return { refs, peeled };
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('^')) {
      if (last) peeled.set(last, line.slice(1, 41));
      continue;
    }
    const oid = line.slice(0, 40);
    const name = line.slice(41);
    if (isOid(oid) && name) {
      refs.set(name, oid);
      last = name;
    }
  }
  return { refs, peeled };
}

async function readLoose(gitdir: string, ref: string): Promise<string | undefined> {
  try {
    return (await readFile(join(gitdir, ref), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Oid of a ref (following symbolic refs), or null when it does not exist. */
export async function readRef(gitdir: string, ref: string, depth = 0): Promise<string | null> {
  const name = fullRef(ref);
  const loose = await readLoose(gitdir, name);
  if (loose !== undefined) {
    if (loose.startsWith('ref: '))
      return depth > 5 ? null : readRef(gitdir, loose.slice(5).trim(), depth + 1);
    return isOid(loose) ? loose : null;
  }
  if (name === 'HEAD') return null;
  return (await readPackedRefs(gitdir)).refs.get(name) ?? null;
}

/** Where HEAD points: the symbolic target (`refs/heads/main`) if any. */
export async function readHeadTarget(gitdir: string): Promise<string | undefined> {
  const head = await readLoose(gitdir, 'HEAD');
  return head?.startsWith('ref: ') ? head.slice(5).trim() : undefined;
}

async function walkLoose(gitdir: string, rel: string, out: Map<string, string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(gitdir, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const name = `${rel}/${e.name}`;
    if (e.isDirectory()) await walkLoose(gitdir, name, out);
    else if (e.isFile() && !e.name.endsWith('.lock')) {
      const v = await readLoose(gitdir, name);
      if (v && isOid(v)) out.set(name, v);
    }
  }
}

/** Every ref under refs/ (loose refs override packed ones), sorted by name, plus peeled tags. */
export async function readAllRefs(gitdir: string): Promise<PackedRefs> {
  const packed = await readPackedRefs(gitdir);
  const loose = new Map<string, string>();
  await walkLoose(gitdir, 'refs', loose);
  const merged = new Map(packed.refs);
  const peeled = new Map(packed.peeled);
  for (const [k, v] of loose) {
    if (merged.get(k) !== v) peeled.delete(k);
    merged.set(k, v);
  }
  const refs = new Map([...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { refs, peeled };
}

/**
 * A ref lock is held for the milliseconds of one write + fsync + rename. One older than this was
 * left by a writer that was killed (`kill -9`, power loss) and would block the ref forever.
 */
export const STALE_LOCK_MS = 10_000;

/**
 * Removes `<ref>.lock` when it is older than `staleMs` (a crashed writer's). Returns true when one
 * was removed. Safe against a live writer: live locks are younger than any sensible `staleMs`.
 */
export async function removeStaleRefLock(
  gitdir: string,
  ref: string,
  staleMs = STALE_LOCK_MS,
): Promise<boolean> {
  const lock = `${join(gitdir, fullRef(ref))}.lock`;
  try {
    const st = await stat(lock);
    if (Date.now() - st.mtimeMs < staleMs) return false;
    await unlink(lock);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves `ref` to `newOid` only if it still points at `expected` (null = must not exist), with
 * git's lock protocol (`<ref>.lock` created exclusively, then renamed). `force` skips the check.
 */
export async function casUpdateRef(
  gitdir: string,
  ref: string,
  newOid: string,
  expected: string | null,
  opts: { force?: boolean; staleLockMs?: number } = {},
): Promise<void> {
  const name = fullRef(ref);
  const path = join(gitdir, name);
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  let fh;
  try {
    fh = await open(lock, 'wx').catch(async (e: NodeJS.ErrnoException) => {
      // A lock left by a killed writer is taken over (once); a live one is a conflict.
      if (e.code === 'EEXIST' && (await removeStaleRefLock(gitdir, name, opts.staleLockMs)))
        return open(lock, 'wx');
      throw e;
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new MargoError('GIT_CAS_CONFLICT', `ref ${name} is being updated by another writer`, {
        data: { ref: name },
      });
    }
    throw new MargoError('IO_ERROR', `cannot lock ref ${name}`, { cause: e });
  }
  let renamed = false;
  try {
    const current = await readRef(gitdir, name);
    if (!opts.force && (current ?? null) !== (expected === ZERO_OID ? null : expected)) {
      throw new MargoError(
        'GIT_CAS_CONFLICT',
        `ref ${name} moved: expected ${expected ?? 'no ref'}, found ${current ?? 'no ref'}`,
        { data: { ref: name, expected, current } },
      );
    }
    await fh.writeFile(`${newOid}\n`);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(lock, path);
    renamed = true;
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    if (!renamed) await unlink(lock).catch(() => undefined);
  }
}
