/**
 * Per-device request budgets for the Workload Management API: a token bucket per device and kind
 * (reads, writes). A conformant device polls every few seconds at most and posts a handful of
 * status changes per deployment change; a client stuck in a loop, or a stolen SVID used to flood,
 * gets 429 with Retry-After instead of taking the server's CPU from every other device (a changing
 * status write costs a signed Git commit). Pure apart from the injected clock; bounded memory.
 */
export interface RateBudget {
  /** Requests allowed at once (bucket size). */
  burst: number;
  /** Requests per second the bucket refills at. */
  perSecond: number;
}

export interface ApiRateLimits {
  read: RateBudget;
  write: RateBudget;
}

/** Generous for devices (the bench's 1,000 devices poll ~9/s each), tight enough to stop a loop. */
export const DEFAULT_API_RATE_LIMITS: ApiRateLimits = {
  read: { burst: 120, perSecond: 20 },
  write: { burst: 60, perSecond: 5 },
};

interface Bucket {
  tokens: number;
  at: number;
}

export class ApiRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: ApiRateLimits = DEFAULT_API_RATE_LIMITS,
    private readonly opts: { now?: () => number; maxKeys?: number } = {},
  ) {}

  /** Takes one request of `kind` for `deviceId`: 0 when allowed, else the seconds to wait (>= 1). */
  take(deviceId: string, kind: keyof ApiRateLimits): number {
    const budget = this.limits[kind];
    const now = this.opts.now?.() ?? Date.now();
    const key = `${kind}\0${deviceId}`;
    const b = this.buckets.get(key) ?? { tokens: budget.burst, at: now };
    b.tokens = Math.min(budget.burst, b.tokens + ((now - b.at) / 1000) * budget.perSecond);
    b.at = now;
    // Most recently used last, so the oldest idle device is the one forgotten past maxKeys.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    const max = this.opts.maxKeys ?? 100_000;
    while (this.buckets.size > max) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / budget.perSecond));
  }
}
