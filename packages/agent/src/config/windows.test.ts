import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  activityAt,
  inWindow,
  msUntilActive,
  parseWindow,
  type Schedule,
  type TimeWindow,
} from './windows.js';

const w = (s: string): TimeWindow => {
  const r = parseWindow(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const at = (hhmm: string): Date => new Date(`2026-03-10T${hhmm}:00Z`);

test('parseWindow accepts valid windows and reports bad ones', () => {
  assert.deepEqual(w('06:00-22:00'), { start: 360, end: 1320, text: '06:00-22:00' });
  assert.deepEqual(w('22:30-02:00'), { start: 1350, end: 120, text: '22:30-02:00' });
  assert.equal(w('00:00-24:00').end, 1440);
  for (const bad of ['6-22', '25:00-01:00', '10:00-10:00', '10:60-11:00', '10:00-24:30', '']) {
    assert.equal(typeof parseWindow(bad), 'string', bad);
  }
});

test('inWindow: end exclusive, midnight crossing', () => {
  const cases: [string, string, boolean][] = [
    ['06:00-22:00', '06:00', true],
    ['06:00-22:00', '21:59', true],
    ['06:00-22:00', '22:00', false],
    ['06:00-22:00', '05:59', false],
    ['22:00-02:00', '23:30', true],
    ['22:00-02:00', '00:00', true],
    ['22:00-02:00', '01:59', true],
    ['22:00-02:00', '02:00', false],
    ['22:00-02:00', '12:00', false],
    ['00:00-24:00', '23:59', true],
  ];
  for (const [win, t, expected] of cases) {
    const [h, m] = t.split(':').map(Number) as [number, number];
    assert.equal(inWindow(h * 60 + m, w(win)), expected, `${t} in ${win}`);
  }
});

test('activityAt: downtime wins over polling window', () => {
  const s: Schedule = {
    pollingWindow: w('06:00-22:00'),
    downtimeWindows: [w('12:00-13:00'), w('23:00-01:00')],
    timeBase: 'utc',
  };
  assert.deepEqual(activityAt(at('07:00'), s), { active: true });
  assert.deepEqual(activityAt(at('12:30'), s), { active: false, reason: 'downtime', window: '12:00-13:00' });
  assert.deepEqual(activityAt(at('05:00'), s), {
    active: false,
    reason: 'outside-polling-window',
    window: '06:00-22:00',
  });
  assert.deepEqual(activityAt(at('00:30'), s), { active: false, reason: 'downtime', window: '23:00-01:00' });
  assert.deepEqual(activityAt(at('00:30'), { downtimeWindows: [], timeBase: 'utc' }), { active: true });
});

test('msUntilActive computes the wait to the next allowed minute', () => {
  const s: Schedule = {
    pollingWindow: w('06:00-22:00'),
    downtimeWindows: [w('12:00-13:00')],
    timeBase: 'utc',
  };
  assert.equal(msUntilActive(at('07:00'), s), 0);
  assert.equal(msUntilActive(at('12:30'), s), 30 * 60_000);
  assert.equal(msUntilActive(at('22:00'), s), 8 * 60 * 60_000);
  assert.equal(msUntilActive(at('10:00'), { downtimeWindows: [w('00:00-24:00')], timeBase: 'utc' }), null);
});
