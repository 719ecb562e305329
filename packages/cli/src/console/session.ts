import { createHash, randomBytes } from 'node:crypto';

/** Idle time after which a console session ends. */
export const SESSION_IDLE_MS = 12 * 3600_000;
export const SESSION_COOKIE = 'margo_session';

/**
 * One signed-in browser. The token is kept in memory only (never on disk, never logged): the
 * session is checked against the token store with it on every request, so a revoked or expired
 * token ends the session, and console changes are pushed with it like a CLI push.
 */
export interface ConsoleSession {
  token: string;
  tokenId: string;
  createdAt: number;
  lastUsedAt: number;
}

const key = (id: string) => createHash('sha256').update(id).digest('base64url');

/**
 * Console sessions by cookie value (kept as sha256, so a heap dump shows no cookie). Idle sessions
 * expire after `idleMs`; at most `max` sessions exist (the least recently used one goes first).
 * Pure apart from the random id; `now` is injectable.
 */
export class SessionStore {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(opts: { idleMs?: number; max?: number; now?: () => number } = {}) {
    this.idleMs = opts.idleMs ?? SESSION_IDLE_MS;
    this.max = opts.max ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** A new session; returns its cookie value (32 random bytes, base64url). */
  create(token: string, tokenId: string): string {
    this.sweep();
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    this.sessions.set(key(id), { token, tokenId, createdAt: t, lastUsedAt: t });
    return id;
  }

  /** The live session of a cookie value (and marks it used), or undefined. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (!id || id.length > 100) return undefined;
    const k = key(id);
    const s = this.sessions.get(k);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastUsedAt > this.idleMs) {
      this.sessions.delete(k);
      return undefined;
    }
    s.lastUsedAt = t;
    // Map order = least recently used first.
    this.sessions.delete(k);
    this.sessions.set(k, s);
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(key(id));
  }

  /** Ends every session signed in with this token id (e.g. once it is found revoked). */
  deleteForToken(tokenId: string): void {
    for (const [k, s] of this.sessions) if (s.tokenId === tokenId) this.sessions.delete(k);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) {
      if (t - s.lastUsedAt <= this.idleMs) break; // LRU order: the rest are fresher
      this.sessions.delete(k);
    }
  }
}

/** The Set-Cookie value for a session (or, with `id` undefined, one that clears it). Pure. */
export function sessionCookie(id: string | undefined, opts: { secure: boolean }): string {
  const parts = [
    `${SESSION_COOKIE}=${id ?? ''}`,
    'HttpOnly',
    'SameSite=Strict',
    'Path=/ui',
    // A browser-session cookie: the server ends it after 12 h idle; clearing sets Max-Age=0.
    ...(id ? [] : ['Max-Age=0']),
  ];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
