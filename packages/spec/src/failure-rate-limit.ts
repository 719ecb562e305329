/**
 * Counts failures per key (remote address) in a sliding window and says when a key is blocked:
 * enrolment attempts, and wrong tokens or malformed requests on the Git server and catalog files.
 * Pure except for the injected clock; bounded memory (oldest keys are dropped past maxKeys).
 */
export class FailureRateLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly opts: { maxFailures: number; windowMs: number; maxKeys?: number; now?: () => number } = {
      maxFailures: 10,
      windowMs: 15 * 60_000,
    },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.opts.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds until `key` may try again, or 0 when it is not blocked. */
  retryAfterSeconds(key: string): number {
    const list = this.recent(key);
    if (list.length < this.opts.maxFailures) return 0;
    const oldest = list[list.length - this.opts.maxFailures]!;
    return Math.max(1, Math.ceil((oldest + this.opts.windowMs - this.now()) / 1000));
  }

  /** Records one failure of `key`. */
  fail(key: string): void {
    const list = this.recent(key);
    list.push(this.now());
    this.failures.delete(key);
    this.failures.set(key, list);
    const max = this.opts.maxKeys ?? 10_000;
    while (this.failures.size > max) this.failures.delete(this.failures.keys().next().value as string);
  }
}
