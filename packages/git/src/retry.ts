import { MargoError, isMargoError } from '@margo-gitops/spec';
import type { Author, CommitResult, FileChanges, GitStore } from './store.js';

export interface UpdateWithRetryOptions {
  message: string | ((changes: FileChanges) => string);
  author: Author;
  trailers?: Record<string, string>;
  /** Attempts after the first one. Default 10. */
  retries?: number;
  /** Backoff base and cap in ms (exponential, full jitter). Defaults 10 and 1000. */
  baseMs?: number;
  maxMs?: number;
  /** Only files under this prefix are read and handed to `fn`. */
  prefix?: string;
  /** Injected for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface UpdateResult extends CommitResult {
  /** Number of attempts used (1 = no conflict). */
  attempts: number;
}

/** Full-jitter exponential backoff delay for attempt `n` (0-based). */
export function backoffDelay(n: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** n));
}

/**
 * Reads the current files of `ref`, asks `fn` for changes and commits them by compare-and-swap;
 * when another writer moved the ref in between, waits (exponential backoff with jitter) and
 * starts over from the new state. `fn` may return null or an empty map for "nothing to do".
 *
 * @example
 * await updateWithRetry(store, 'main', (files) => new Map([['a.txt', 'x']]), { message: 'add a', author });
 */
export async function updateWithRetry(
  store: GitStore,
  ref: string,
  fn: (
    currentFiles: Map<string, Buffer>,
    currentOid: string | null,
  ) => FileChanges | null | Promise<FileChanges | null>,
  opts: UpdateWithRetryOptions,
): Promise<UpdateResult> {
  const retries = opts.retries ?? 10;
  const baseMs = opts.baseMs ?? 10;
  const maxMs = opts.maxMs ?? 1000;
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    const current = await store.resolveRef(ref);
    const files = current ? await store.readFiles(current, opts.prefix) : new Map<string, Buffer>();
    const changes = await fn(files, current);
    if (!changes || changes.size === 0) return { oid: current ?? '', changed: false, attempts: attempt + 1 };
    try {
      const res = await store.commitFiles({
        ref,
        expectedOid: current,
        changes,
        message: typeof opts.message === 'function' ? opts.message(changes) : opts.message,
        author: opts.author,
        ...(opts.trailers ? { trailers: opts.trailers } : {}),
      });
      return { ...res, attempts: attempt + 1 };
    } catch (e) {
      if (!(isMargoError(e) && e.code === 'GIT_CAS_CONFLICT')) throw e;
      if (attempt >= retries) {
        throw new MargoError(
          'GIT_RETRIES_EXHAUSTED',
          `gave up updating ${ref} after ${attempt + 1} attempts`,
          {
            cause: e,
            data: { ref, attempts: attempt + 1 },
          },
        );
      }
      await sleep(backoffDelay(attempt, baseMs, maxMs, random));
    }
  }
}
