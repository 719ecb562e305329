import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMargoError, type MaintenanceWindow, type WeekDay } from '@margo-gitops/spec';
import { isOpen, nextOpening, windowOpenAt } from './windows.js';

// The clock is injected: every check takes the instant as an argument.
const at = (iso: string) => Date.parse(iso);

function win(
  name: string,
  timeZone: string,
  days: WeekDay[],
  start: string,
  end: string,
  matchLabels: Record<string, string> = {},
): MaintenanceWindow {
  return {
    kind: 'MaintenanceWindow',
    name,
    selector: { matchLabels },
    timeZone,
    schedule: [{ days, start, end }],
  };
}

describe('maintenance windows', () => {
  it('opens at its start and closes at its end, to the second (UTC)', () => {
    const w = [win('day', 'UTC', ['mon'], '09:00', '17:00')];
    // 2026-03-02 is a Monday.
    assert.equal(isOpen(w, {}, at('2026-03-02T08:59:59Z')), false);
    assert.equal(isOpen(w, {}, at('2026-03-02T09:00:00Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-02T16:59:59Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-02T17:00:00Z')), false);
    assert.equal(isOpen(w, {}, at('2026-03-03T10:00:00Z')), false, 'Tuesday is not listed');
    assert.equal(nextOpening(w, {}, at('2026-03-02T17:00:00Z')), at('2026-03-09T09:00:00Z'));
  });

  it('a slot ending before its start runs into the next day; days name the day it starts', () => {
    const w = [win('nights', 'Europe/Berlin', ['mon'], '22:00', '04:00')];
    // Berlin is UTC+1 in early March.
    assert.equal(isOpen(w, {}, at('2026-03-02T20:59:59Z')), false);
    assert.equal(isOpen(w, {}, at('2026-03-02T21:00:00Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-03T02:59:59Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-03T03:00:00Z')), false);
    assert.equal(isOpen(w, {}, at('2026-03-03T21:30:00Z')), false, 'Tuesday night is not listed');
    assert.equal(isOpen(w, {}, at('2026-03-02T02:00:00Z')), false, 'Sunday night is not listed');
  });

  it('reads the same instant in each window’s own time zone', () => {
    const chicago = win('chi', 'America/Chicago', ['mon'], '08:00', '09:00');
    const tokyo = win('tyo', 'Asia/Tokyo', ['mon'], '08:00', '09:00');
    // 2026-03-02 14:30Z = 08:30 in Chicago (UTC-6), 23:30 in Tokyo.
    assert.equal(windowOpenAt(chicago, at('2026-03-02T14:30:00Z')), true);
    assert.equal(windowOpenAt(tokyo, at('2026-03-02T14:30:00Z')), false);
    // Monday 08:30 in Tokyo is Sunday 23:30Z.
    assert.equal(windowOpenAt(tokyo, at('2026-03-01T23:30:00Z')), true);
    assert.equal(nextOpening([tokyo], {}, at('2026-03-02T14:30:00Z')), at('2026-03-08T23:00:00Z'));
  });

  it('00:00-24:00 is the whole listed day', () => {
    const w = [win('sat', 'UTC', ['sat'], '00:00', '24:00')];
    assert.equal(isOpen(w, {}, at('2026-03-06T23:59:59Z')), false);
    assert.equal(isOpen(w, {}, at('2026-03-07T00:00:00Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-07T23:59:59Z')), true);
    assert.equal(isOpen(w, {}, at('2026-03-08T00:00:00Z')), false);
  });

  describe('DST (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)', () => {
    it('spring gap: a slot starting at a time that does not exist opens when the clock jumps past it', () => {
      const w = [win('gap', 'Europe/Berlin', ['sun'], '02:30', '04:00')];
      assert.equal(isOpen(w, {}, at('2026-03-29T00:59:59Z')), false, '01:59:59 CET');
      assert.equal(isOpen(w, {}, at('2026-03-29T01:00:00Z')), true, '03:00 CEST');
      assert.equal(isOpen(w, {}, at('2026-03-29T02:00:00Z')), false, '04:00 CEST');
      assert.equal(nextOpening(w, {}, at('2026-03-28T23:00:00Z')), at('2026-03-29T01:00:00Z'));
    });

    it('spring gap: a slot wholly inside the missing hour does not open that day', () => {
      const w = [win('lost', 'Europe/Berlin', ['sun'], '02:00', '02:30')];
      assert.equal(
        nextOpening(w, {}, at('2026-03-28T23:00:00Z')),
        at('2026-04-05T00:00:00Z'),
        'next Sunday 02:00 CEST',
      );
    });

    it('autumn fold: a slot inside the repeated hour is open both times', () => {
      const w = [win('fold', 'Europe/Berlin', ['sun'], '02:15', '02:45')];
      assert.equal(isOpen(w, {}, at('2026-10-25T00:15:00Z')), true, '02:15 CEST');
      assert.equal(isOpen(w, {}, at('2026-10-25T00:45:00Z')), false, '02:45 CEST');
      assert.equal(nextOpening(w, {}, at('2026-10-25T00:50:00Z')), at('2026-10-25T01:15:00Z'), '02:15 CET');
      assert.equal(isOpen(w, {}, at('2026-10-25T01:44:59Z')), true, '02:44:59 CET');
    });

    it('autumn fold: a slot ending inside the repeated hour reopens when the clock goes back', () => {
      const w = [win('early', 'Europe/Berlin', ['sun'], '01:00', '02:15')];
      assert.equal(isOpen(w, {}, at('2026-10-25T00:30:00Z')), false, '02:30 CEST');
      assert.equal(nextOpening(w, {}, at('2026-10-25T00:30:00Z')), at('2026-10-25T01:00:00Z'), '02:00 CET');
    });
  });

  describe('device groups', () => {
    const windows = [
      win('line-a', 'UTC', ['mon'], '08:00', '10:00', { line: 'a' }),
      win('site-x', 'UTC', ['mon'], '12:00', '14:00', { site: 'x' }),
    ];
    it('a device in two groups is open when either window is', () => {
      const both = { line: 'a', site: 'x' };
      assert.equal(isOpen(windows, both, at('2026-03-02T09:00:00Z')), true);
      assert.equal(isOpen(windows, both, at('2026-03-02T11:00:00Z')), false);
      assert.equal(isOpen(windows, both, at('2026-03-02T13:00:00Z')), true);
      assert.equal(nextOpening(windows, both, at('2026-03-02T11:00:00Z')), at('2026-03-02T12:00:00Z'));
    });
    it('a device in one group follows only its window', () => {
      assert.equal(isOpen(windows, { line: 'a' }, at('2026-03-02T13:00:00Z')), false);
      assert.equal(
        nextOpening(windows, { line: 'a' }, at('2026-03-02T11:00:00Z')),
        at('2026-03-09T08:00:00Z'),
      );
    });
    it('a device in no group is always open', () => {
      assert.equal(isOpen(windows, { line: 'b' }, at('2026-03-03T03:00:00Z')), true);
      assert.equal(
        nextOpening(windows, { line: 'b' }, at('2026-03-03T03:00:00Z')),
        at('2026-03-03T03:00:00Z'),
      );
    });
  });

  it('nextOpening agrees with a minute-by-minute scan of isOpen', () => {
    const windows = [
      win('a', 'Europe/Berlin', ['sun', 'wed'], '02:30', '03:10', { g: 'a' }),
      win('b', 'America/New_York', ['fri'], '23:00', '01:30', { g: 'a' }),
      { ...win('c', 'Australia/Lord_Howe', ['sat'], '01:45', '02:15', { g: 'a' }) },
    ];
    // Deterministic instants around the 2026 DST changes of all three zones.
    const starts = [
      '2026-03-27T12:00:00Z',
      '2026-03-07T10:00:00Z',
      '2026-04-03T10:00:00Z',
      '2026-10-03T00:00:00Z',
      '2026-10-24T20:00:00Z',
      '2026-10-31T20:00:00Z',
    ].map(at);
    for (const s of starts) {
      let scan: number | undefined;
      for (let t = s; t <= s + 9 * 86_400_000; t += 60_000) {
        if (isOpen(windows, { g: 'a' }, t)) {
          scan = t;
          break;
        }
      }
      assert.ok(scan !== undefined);
      const next = nextOpening(windows, { g: 'a' }, s);
      assert.ok(next !== undefined);
      // The scan moves in whole minutes; openings fall on whole minutes in these zones.
      assert.equal(new Date(next).toISOString(), new Date(scan).toISOString(), new Date(s).toISOString());
    }
  });

  it('an unknown time zone is a typed error', () => {
    assert.throws(
      () => isOpen([win('x', 'Mars/Olympus', ['mon'], '01:00', '02:00')], {}, 0),
      (e: unknown) => isMargoError(e) && e.code === 'ROLLOUT_WINDOW_TIMEZONE_INVALID',
    );
  });
});
