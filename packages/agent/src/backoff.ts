/**
 * Delay before the next attempt after `failures` consecutive failures: exponential from `baseMs`,
 * capped at `maxMs`, with jitter in [50%, 100%] so a fleet does not retry in lock-step.
 * @example retryDelay(3, 30_000, 300_000, Math.random) // between 120 s and 240 s
 */
export function retryDelay(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exp * (0.5 + 0.5 * random()));
}

/** What decides the wait before the agent's next poll (nextPollDelay). */
export interface PollTiming {
  intervalMs: number;
  /** How long the last poll took. */
  elapsedMs: number;
  /** The last poll: skipped by a window, failed to reach the server, or done. */
  outcome: 'skipped' | 'failed' | 'ok';
  /** Consecutive failed polls, this one included. */
  failures: number;
  maxBackoffMs: number;
  /** The server asked for this much quiet (Retry-After) on the failed poll. */
  retryAfterMs?: number;
  /** Epoch ms of a due retry of failed deployments (0: none). */
  retryAt: number;
  nowMs: number;
  /** Time until the polling window opens (null: never; skipped polls only). */
  untilActiveMs: () => number | null;
  random: () => number;
}

/**
 * Time until the next poll. A healthy loop polls at a fixed rate, one poll starting every interval
 * however long the last one took, so a change waits at most one interval to be seen; a failed one
 * backs off (and never sooner than the server's Retry-After); a skipped one waits for its window;
 * a due retry of failed deployments comes sooner than the interval.
 */
export function nextPollDelay(t: PollTiming): number {
  if (t.outcome === 'skipped') {
    const until = t.untilActiveMs();
    return Math.max(t.intervalMs, until === null ? 3_600_000 : until);
  }
  if (t.outcome === 'failed')
    return Math.max(retryDelay(t.failures, t.intervalMs, t.maxBackoffMs, t.random), t.retryAfterMs ?? 0);
  if (t.retryAt > 0) return Math.max(Math.min(t.intervalMs, t.retryAt - t.nowMs), 50);
  return Math.max(t.intervalMs - t.elapsedMs, 0);
}
