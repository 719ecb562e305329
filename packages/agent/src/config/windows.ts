/**
 * Pure time-window logic for the Margo device-client settings "polling interval period" (hours of
 * the day when polling is allowed) and "downtime windows" (no polling, no retries, errors ignored).
 * Windows are `HH:MM-HH:MM` in the device's local time (or UTC); the end is exclusive and a window
 * whose end is before its start crosses midnight (`22:00-02:00`). `00:00-24:00` is the whole day.
 */

export interface TimeWindow {
  /** Minutes after midnight, inclusive. */
  start: number;
  /** Minutes after midnight, exclusive (1440 allowed). */
  end: number;
  text: string;
}

const WINDOW_RE = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/;

/**
 * Parses `HH:MM-HH:MM`; returns an error message instead of throwing.
 * @example parseWindow('22:00-02:00') // { start: 1320, end: 120, text: '22:00-02:00' }
 */
export function parseWindow(text: string): TimeWindow | string {
  const m = WINDOW_RE.exec(text.trim());
  if (!m) return `"${text}" is not a window of the form HH:MM-HH:MM`;
  const [h1, m1, h2, m2] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (h1 > 23 || m1 > 59) return `"${text}": start time out of range`;
  if (h2 > 24 || m2 > 59 || (h2 === 24 && m2 !== 0)) return `"${text}": end time out of range`;
  const start = h1 * 60 + m1;
  const end = h2 * 60 + m2;
  if (start === end) return `"${text}": start and end are equal (use 00:00-24:00 for the whole day)`;
  return { start, end, text: text.trim() };
}

/** True when minute-of-day `minute` lies in the window (midnight-crossing aware). */
export function inWindow(minute: number, w: TimeWindow): boolean {
  if (w.start < w.end) return minute >= w.start && minute < w.end;
  return minute >= w.start || minute < w.end;
}

export type TimeBase = 'local' | 'utc';

export function minuteOfDay(date: Date, base: TimeBase): number {
  return base === 'utc'
    ? date.getUTCHours() * 60 + date.getUTCMinutes()
    : date.getHours() * 60 + date.getMinutes();
}

export interface Schedule {
  /** Allowed polling hours; undefined = all day. */
  pollingWindow?: TimeWindow;
  downtimeWindows: TimeWindow[];
  timeBase: TimeBase;
}

export type Activity =
  | { active: true }
  | { active: false; reason: 'downtime' | 'outside-polling-window'; window: string };

/**
 * Whether the agent may talk to the server (poll, retry, push) at `now`.
 * @example activityAt(new Date(), { downtimeWindows: [parseWindow('00:00-24:00') as TimeWindow], timeBase: 'local' })
 */
export function activityAt(now: Date, s: Schedule): Activity {
  const minute = minuteOfDay(now, s.timeBase);
  for (const w of s.downtimeWindows)
    if (inWindow(minute, w)) return { active: false, reason: 'downtime', window: w.text };
  if (s.pollingWindow && !inWindow(minute, s.pollingWindow)) {
    return { active: false, reason: 'outside-polling-window', window: s.pollingWindow.text };
  }
  return { active: true };
}

/**
 * Milliseconds from `now` until the agent may be active again (0 when active now). Steps through
 * minute boundaries; at most 48 h ahead; returns null when it never becomes active (e.g. a
 * downtime window covering the whole polling window).
 */
export function msUntilActive(now: Date, s: Schedule): number | null {
  if (activityAt(now, s).active) return 0;
  const t = new Date(now.getTime());
  t.setUTCSeconds(0, 0);
  for (let i = 1; i <= 48 * 60; i++) {
    const cand = new Date(t.getTime() + i * 60_000);
    if (activityAt(cand, s).active) return cand.getTime() - now.getTime();
  }
  return null;
}
