/**
 * Delay before the next attempt after `failures` consecutive failures: exponential from `baseMs`,
 * capped at `maxMs`, with jitter in [50%, 100%] so a fleet does not retry in lock-step.
 * @example retryDelay(3, 30_000, 300_000, Math.random) // between 120 s and 240 s
 */
export function retryDelay(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exp * (0.5 + 0.5 * random()));
}
