export interface RateLimitOptions {
  /** Bucket size: requests allowed in a burst. */
  burst: number;
  /** Refill rate, requests per second. */
  perSecond: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { burst: 120, perSecond: 20 };

/** Token buckets keyed by token id. Pure apart from the injected clock. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request from `key`'s bucket; when empty, says how many seconds until one is available. */
  take(key: string): { ok: true } | { ok: false; retryAfterSec: number } {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.opts.burst, at: t };
    b.tokens = Math.min(this.opts.burst, b.tokens + ((t - b.at) / 1000) * this.opts.perSecond);
    b.at = t;
    if (this.buckets.size > 50_000) this.prune(t);
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond)) };
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.opts.perSecond >= this.opts.burst) this.buckets.delete(k);
    }
  }
}
