/**
 * Maintenance windows: when a change may reach a device (docs/rollout.md). Pure; time zones come
 * from Intl (the IANA database Node ships), so no dependency is needed.
 *
 * Semantics, chosen to be easy to say to an operator:
 * - A window governs the devices its selector matches. A device governed by no window is always
 *   open; a device in several groups is open when ANY of its windows is open (windows grant time,
 *   they never take it away, so adding a group can only widen a device's time).
 * - Slots are read on the local wall clock of the window's time zone: a slot is open while that
 *   clock shows a time in [start, end). An end before the start runs into the next day; the day
 *   list names the day the slot starts.
 * - Across DST this means: in the spring gap a slot starting at a time that does not exist opens
 *   when the clock jumps past it (02:30-04:00 opens at 03:00); in the autumn fold a slot inside
 *   the repeated hour is open both times the clock shows it.
 */
import { MargoError, WEEK_DAYS, type MaintenanceWindow, type WindowSlot } from '@margo-gitops/spec';
import { matchesSelector } from '../core/label-selector.js';

const DAY_MS = 86_400_000;
/** How far nextOpening looks: a week of slots plus slack for DST shifts. */
const HORIZON_DAYS = 9;

interface LocalTime {
  y: number;
  mo: number;
  d: number;
  /** 0 = Sunday, as WEEK_DAYS. */
  weekday: number;
  /** Minutes since local midnight, 0..1439. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (e) {
      throw new MargoError('ROLLOUT_WINDOW_TIMEZONE_INVALID', `time zone \`${tz}\` is not known`, {
        cause: e,
      });
    }
    formatters.set(tz, f);
  }
  return f;
}

/** Local wall-clock fields of instant `ms` in `tz`, with the local time as if it were UTC. */
function wallClock(tz: string, ms: number): { fields: LocalTime; asUtc: number } {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(ms)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const hour = p.hour! % 24; // some ICU versions write midnight as 24
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, hour, p.minute!, p.second!);
  return {
    fields: {
      y: p.year!,
      mo: p.month!,
      d: p.day!,
      weekday: new Date(Date.UTC(p.year!, p.month! - 1, p.day!)).getUTCDay(),
      minutes: hour * 60 + p.minute!,
    },
    asUtc,
  };
}

/** Offset of local time from UTC at `ms`, in ms (Europe/Berlin in summer: +7_200_000). */
function offsetAt(tz: string, ms: number): number {
  return wallClock(tz, ms).asUtc - Math.floor(ms / 1000) * 1000;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function slotOpen(slot: WindowSlot, t: LocalTime): boolean {
  const start = minutesOf(slot.start);
  const end = minutesOf(slot.end);
  const today = WEEK_DAYS[t.weekday]!;
  if (start < end) return slot.days.includes(today) && t.minutes >= start && t.minutes < end;
  const yesterday = WEEK_DAYS[(t.weekday + 6) % 7]!;
  return (
    (slot.days.includes(today) && t.minutes >= start) || (slot.days.includes(yesterday) && t.minutes < end)
  );
}

/** True when `window` is open at instant `now` (ms since the epoch). */
export function windowOpenAt(window: MaintenanceWindow, now: number): boolean {
  const { fields } = wallClock(window.timeZone, now);
  return window.schedule.some((s) => slotOpen(s, fields));
}

/** The windows whose selector matches a device's labels (its groups). */
export function windowsFor(
  windows: readonly MaintenanceWindow[],
  labels: Readonly<Record<string, string>>,
): MaintenanceWindow[] {
  return windows.filter((w) => matchesSelector(labels, w.selector));
}

/**
 * True when a change may reach a device with `labels` at `now`: it is in no window's group, or
 * one of its windows is open.
 *
 * @example
 * isOpen([nights], { line: 'a' }, Date.parse('2026-03-02T23:00:00Z')); // true for a Berlin 22:00-04:00 window
 */
export function isOpen(
  windows: readonly MaintenanceWindow[],
  labels: Readonly<Record<string, string>>,
  now: number,
): boolean {
  const mine = windowsFor(windows, labels);
  return mine.length === 0 || mine.some((w) => windowOpenAt(w, now));
}

/** Instants at which the local wall clock of `tz` shows y-mo-d at `minutes` (0 in a DST gap, 2 in a fold). */
function instantsOfLocal(tz: string, y: number, mo: number, d: number, minutes: number): number[] {
  const naive = Date.UTC(y, mo - 1, d, 0, minutes);
  const offsets = new Set([
    offsetAt(tz, naive - DAY_MS / 2),
    offsetAt(tz, naive),
    offsetAt(tz, naive + DAY_MS / 2),
  ]);
  const out: number[] = [];
  for (const o of offsets) {
    const t = naive - o;
    if (offsetAt(tz, t) === o) out.push(t);
  }
  return out;
}

/** Instants in (from, to] at which the UTC offset of `tz` changes (DST), to the second. */
function offsetChanges(tz: string, from: number, to: number): number[] {
  const out: number[] = [];
  const step = DAY_MS / 4;
  for (let a = from; a < to; a += step) {
    const b = Math.min(a + step, to);
    const oa = offsetAt(tz, a);
    if (offsetAt(tz, b) === oa) continue;
    let lo = a;
    let hi = b;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (offsetAt(tz, mid) === oa) lo = mid;
      else hi = mid;
    }
    // offsetAt reads whole seconds, so the second `hi` falls in already has the new offset.
    out.push(Math.floor(hi / 1000) * 1000);
  }
  return out;
}

/**
 * The first instant at or after `now` at which a change may reach a device with `labels`: `now`
 * itself when it is open, undefined when none of its windows opens within nine days (which a
 * valid weekly schedule cannot do).
 *
 * Openings happen only where a slot starts on the local clock or where the clock jumps (DST), so
 * those instants are the candidates; each is checked with isOpen, which keeps the two functions
 * in agreement by construction.
 */
export function nextOpening(
  windows: readonly MaintenanceWindow[],
  labels: Readonly<Record<string, string>>,
  now: number,
): number | undefined {
  return nextOpeningOf(windowsFor(windows, labels), now);
}

/** nextOpening for a device whose windows (its groups) are already known. */
export function nextOpeningOf(mine: readonly MaintenanceWindow[], now: number): number | undefined {
  if (mine.length === 0 || mine.some((w) => windowOpenAt(w, now))) return now;
  const until = now + HORIZON_DAYS * DAY_MS;
  const candidates: number[] = [];
  for (const w of mine) {
    const today = wallClock(w.timeZone, now).fields;
    for (let k = -1; k <= HORIZON_DAYS; k++) {
      const day = new Date(Date.UTC(today.y, today.mo - 1, today.d + k));
      const name = WEEK_DAYS[day.getUTCDay()]!;
      for (const s of w.schedule) {
        if (!s.days.includes(name)) continue;
        const y = day.getUTCFullYear();
        candidates.push(
          ...instantsOfLocal(w.timeZone, y, day.getUTCMonth() + 1, day.getUTCDate(), minutesOf(s.start)),
        );
      }
    }
    candidates.push(...offsetChanges(w.timeZone, now, until));
  }
  candidates.sort((a, b) => a - b);
  for (const c of candidates) {
    if (c <= now || c > until) continue;
    if (mine.some((w) => windowOpenAt(w, c))) return c;
  }
  return undefined;
}
