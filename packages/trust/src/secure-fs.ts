import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MargoError } from '@margo-gitops/spec';

/** Creates `dir` (and parents) with mode 0700 for the last component; tightens it when it exists. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * Writes `data` to `path` atomically (temporary file + fsync + rename) with `mode`.
 * Readers see either the old or the new content, never a half-written file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes a new file with `mode`; throws TRUST_PKI_EXISTS when it already exists. */
export async function writeFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new MargoError('TRUST_PKI_EXISTS', `refusing to overwrite ${path}`, { data: { path }, cause: e });
    }
    throw e;
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads a file, or returns undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Throws TRUST_PKI_INSECURE_PERMISSIONS when a key file is accessible by group or others (POSIX only). */
export async function assertOwnerOnly(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    throw new MargoError(
      'TRUST_PKI_INSECURE_PERMISSIONS',
      `${path} is accessible by other users (mode ${(st.mode & 0o777).toString(8)})`,
      {
        data: { path, mode: (st.mode & 0o777).toString(8) },
      },
    );
  }
}

const inProcess = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` while holding an exclusive lock on `path` (a `<path>.lock` file created with O_EXCL),
 * so that read-modify-write of a JSON state file is safe between processes (CLI and server) and
 * within one process. A lock older than `staleMs` is taken over (its holder crashed).
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const prev = inProcess.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(() => lockAndRun(path, fn, opts));
  inProcess.set(path, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(path) === run) inProcess.delete(path);
  }
}

async function lockAndRun<T>(
  path: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; staleMs?: number },
): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const staleMs = opts.staleMs ?? 30_000;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        const st = await stat(lock);
        if (Date.now() - st.mtimeMs > staleMs) {
          await rm(lock, { force: true });
          continue;
        }
      } catch {
        continue;
      }
      if (Date.now() > deadline) {
        throw new MargoError('IO_ERROR', `timed out waiting for the lock ${lock}`, {
          data: { path: lock },
          retry: 'backoff',
        });
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
