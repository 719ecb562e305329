/** Formatting of times, commits, states and values for the console (pure, locale-independent). */

/** How a time is shown: relative to now (`5 min ago`) and in full (ISO, UTC) for a tooltip. */
export interface ShownTime {
  relative: string;
  absolute: string;
  iso: string;
}

function toMillis(t: string | number | Date): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t;
  return Date.parse(t);
}

/**
 * A time relative to `now`, in words a fleet operator reads at a glance.
 *
 * @example
 * relativeTime('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:05:00Z')); // '5 min ago'
 */
export function relativeTime(t: string | number | Date, now: number): string {
  const ms = toMillis(t);
  if (!Number.isFinite(ms)) return 'unknown time';
  const d = now - ms;
  const future = d < 0;
  const s = Math.round(Math.abs(d) / 1000);
  let v: string;
  if (s < 5) return 'just now';
  if (s < 60) v = `${s} s`;
  else if (s < 3600) v = `${Math.floor(s / 60)} min`;
  else if (s < 86_400) v = `${Math.floor(s / 3600)} h`;
  else if (s < 86_400 * 60) v = `${Math.floor(s / 86_400)} d`;
  else return absoluteTime(ms).slice(0, 10);
  return future ? `in ${v}` : `${v} ago`;
}

/**
 * A time in full: `2026-01-01 00:05:00 UTC`.
 *
 * @example
 * absoluteTime(0); // '1970-01-01 00:00:00 UTC'
 */
export function absoluteTime(t: string | number | Date): string {
  const ms = toMillis(t);
  if (!Number.isFinite(ms)) return 'unknown time';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Both forms of a time; undefined for a missing one. */
export function showTime(t: string | number | null | undefined, now: number): ShownTime | undefined {
  if (t === null || t === undefined || t === '') return undefined;
  const ms = toMillis(t);
  if (!Number.isFinite(ms)) return undefined;
  return { relative: relativeTime(ms, now), absolute: absoluteTime(ms), iso: new Date(ms).toISOString() };
}

/** The 7-character abbreviation of a commit, as `git log --oneline` shows it. */
export function shortCommit(c: string | null | undefined): string {
  return c ? c.slice(0, 7) : '—';
}

/** How much attention a state needs, for its colour and shape (its word is always shown too). */
export type Tone = 'good' | 'busy' | 'bad' | 'idle' | 'unknown';

const TONES: Record<string, Tone> = {
  installed: 'good',
  reporting: 'good',
  done: 'good',
  passed: 'good',
  pending: 'busy',
  installing: 'busy',
  removing: 'busy',
  progressing: 'busy',
  rollingback: 'busy',
  current: 'busy',
  waiting: 'busy',
  changing: 'busy',
  failed: 'bad',
  revertfailed: 'bad',
  aborted: 'bad',
  stale: 'bad',
  removed: 'idle',
  available: 'good',
  yanked: 'idle',
  held: 'idle',
  paused: 'idle',
  later: 'idle',
  rolledback: 'idle',
  never: 'unknown',
  unknown: 'unknown',
};

/**
 * The tone of a state word (case-insensitive); unknown words are `unknown`.
 *
 * @example
 * stateTone('Installed'); // 'good'
 */
export function stateTone(state: string | null | undefined): Tone {
  return TONES[(state ?? '').toLowerCase()] ?? 'unknown';
}

/** The state word shown for a state (missing: `unknown`). */
export function stateWord(state: string | null | undefined): string {
  const s = (state ?? '').trim();
  return s === '' ? 'unknown' : s;
}

/** The freshness of a device: reporting, stale (reported once, silent now) or never reported. */
export type Freshness = 'reporting' | 'stale' | 'never';

export function freshness(d: {
  reporting: boolean;
  lastReportAt?: string | null;
  lastSeenAt?: string | null;
}): Freshness {
  if (d.reporting) return 'reporting';
  return d.lastReportAt || d.lastSeenAt ? 'stale' : 'never';
}

/** The word for a freshness, as the console shows it. */
export function freshnessWord(f: Freshness): string {
  return f === 'never' ? 'never reported' : f;
}

/** Whether a device runs its desired state, in a word (`unknown` before it says). */
export function upToDateText(v: boolean | null | undefined): string {
  return v === true ? 'yes' : v === false ? 'no' : 'unknown';
}

/**
 * Deployment state counts in one line, worst first: `failed 1 · installing 2 · installed 7`.
 *
 * @example
 * countsText({ installed: 7, failed: 1 }); // 'failed 1 · installed 7'
 */
export function countsText(counts: Record<string, number> | null | undefined): string {
  const order = ['failed', 'unknown', 'removing', 'installing', 'pending', 'installed', 'removed'];
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  entries.sort(([a], [b]) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || a.localeCompare(b);
  });
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(' · ') : 'none';
}

/** Any error or problem value as one line of text (strings as they are, `{code, message}` joined). */
export function errorText(e: unknown): string {
  if (e === null || e === undefined || e === '') return '';
  if (typeof e === 'string') return e;
  if (typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const msg = typeof o.message === 'string' ? o.message : undefined;
    const code = typeof o.code === 'string' ? o.code : undefined;
    if (msg || code) return [code, msg].filter(Boolean).join(': ');
    try {
      return JSON.stringify(e);
    } catch {
      return String(e);
    }
  }
  return String(e);
}

/** The text of a parameter value; secrets are never shown. */
export function parameterText(p: { value: unknown; secret: boolean }): string {
  if (p.secret) return '•••• (sealed)';
  if (p.value === null || p.value === undefined) return '—';
  return typeof p.value === 'string' ? p.value : JSON.stringify(p.value);
}

/** `n item`/`n items`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * Why a device waits for a change: `waiting for a maintenance window until 2026-12-03 22:00:00 UTC`.
 *
 * @example
 * waitingText({ reason: 'hold', hold: 'line stopped for cleaning' }); // 'waiting: on-site hold (line stopped for cleaning)'
 */
export function waitingText(
  w: { reason: string; until?: string | number; hold?: string } | null | undefined,
): string {
  if (!w) return '';
  const why: Record<string, string> = {
    window: 'a maintenance window',
    hold: 'on-site hold',
    cap: 'the fleet-wide cap',
    wave: 'its wave',
  };
  const until = w.until !== undefined && w.until !== '' ? absoluteTime(w.until) : undefined;
  const base = w.reason === 'hold' ? 'waiting: on-site hold' : `waiting for ${why[w.reason] ?? w.reason}`;
  return `${base}${w.hold ? ` (${w.hold})` : ''}${until && until !== 'unknown time' ? ` until ${until}` : ''}`;
}
