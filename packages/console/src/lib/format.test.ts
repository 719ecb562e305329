import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  absoluteTime,
  countsText,
  errorText,
  freshness,
  freshnessWord,
  parameterText,
  relativeTime,
  shortCommit,
  showTime,
  stateTone,
  stateWord,
  upToDateText,
  waitingText,
} from './format.js';

const T0 = Date.parse('2026-12-03T08:00:00Z');

test('relativeTime in words, past and future', () => {
  assert.equal(relativeTime(T0 - 2_000, T0), 'just now');
  assert.equal(relativeTime(T0 - 42_000, T0), '42 s ago');
  assert.equal(relativeTime(T0 - 5 * 60_000 - 59_000, T0), '5 min ago');
  assert.equal(relativeTime(T0 - 3 * 3_600_000, T0), '3 h ago');
  assert.equal(relativeTime(T0 - 2 * 86_400_000, T0), '2 d ago');
  assert.equal(relativeTime(T0 + 90_000, T0), 'in 1 min');
  assert.equal(relativeTime('2026-01-01T00:00:00Z', T0), '2026-01-01');
  assert.equal(relativeTime('not a time', T0), 'unknown time');
});

test('absoluteTime and showTime', () => {
  assert.equal(absoluteTime(T0), '2026-12-03 08:00:00 UTC');
  assert.equal(absoluteTime('2026-12-03T09:30:05.123+01:00'), '2026-12-03 08:30:05 UTC');
  assert.equal(showTime(undefined, T0), undefined);
  assert.equal(showTime(null, T0), undefined);
  assert.equal(showTime('garbage', T0), undefined);
  assert.deepEqual(showTime(T0 - 60_000, T0), {
    relative: '1 min ago',
    absolute: '2026-12-03 07:59:00 UTC',
    iso: '2026-12-03T07:59:00.000Z',
  });
});

test('states: word always shown, tone by word, unknown for anything else', () => {
  assert.equal(stateWord(undefined), 'unknown');
  assert.equal(stateWord(' '), 'unknown');
  assert.equal(stateWord('installed'), 'installed');
  assert.equal(stateTone('Installed'), 'good');
  assert.equal(stateTone('failed'), 'bad');
  assert.equal(stateTone('pending'), 'busy');
  assert.equal(stateTone('rollingBack'), 'busy');
  assert.equal(stateTone('removed'), 'idle');
  assert.equal(stateTone('something new'), 'unknown');
  assert.equal(stateTone(null), 'unknown');
});

test('freshness: reporting, stale, never', () => {
  assert.equal(freshness({ reporting: true }), 'reporting');
  assert.equal(freshness({ reporting: false, lastReportAt: '2026-12-01T00:00:00Z' }), 'stale');
  assert.equal(freshness({ reporting: false, lastSeenAt: '2026-12-01T00:00:00Z' }), 'stale');
  assert.equal(freshness({ reporting: false, lastReportAt: null }), 'never');
  assert.equal(freshnessWord('never'), 'never reported');
  assert.deepEqual([true, false, null, undefined].map(upToDateText), ['yes', 'no', 'unknown', 'unknown']);
});

test('countsText worst first; shortCommit; errorText; secrets never shown', () => {
  assert.equal(
    countsText({ installed: 7, failed: 1, pending: 0, installing: 2 }),
    'failed 1 · installing 2 · installed 7',
  );
  assert.equal(countsText({}), 'none');
  assert.equal(countsText({ zeta: 1, installed: 1 }), 'installed 1 · zeta 1');
  assert.equal(shortCommit('0123456789abcdef'), '0123456');
  assert.equal(shortCommit(null), '—');
  assert.equal(errorText({ code: 'AGENT_PULL', message: 'no such image' }), 'AGENT_PULL: no such image');
  assert.equal(errorText('plain'), 'plain');
  assert.equal(errorText(undefined), '');
  assert.equal(errorText({ other: 1 }), '{"other":1}');
  assert.equal(parameterText({ value: 'hunter2', secret: true }), '•••• (sealed)');
  assert.equal(parameterText({ value: null, secret: true }), '•••• (sealed)');
  assert.equal(parameterText({ value: 'Hi', secret: false }), 'Hi');
  assert.equal(parameterText({ value: 3, secret: false }), '3');
  assert.equal(parameterText({ value: null, secret: false }), '—');
});

test('waitingText says why a device waits', () => {
  assert.equal(waitingText(undefined), '');
  assert.equal(
    waitingText({ reason: 'window', until: '2026-12-03T22:00:00Z' }),
    'waiting for a maintenance window until 2026-12-03 22:00:00 UTC',
  );
  assert.equal(waitingText({ reason: 'hold', hold: 'cleaning' }), 'waiting: on-site hold (cleaning)');
  assert.equal(waitingText({ reason: 'cap' }), 'waiting for the fleet-wide cap');
  assert.equal(waitingText({ reason: 'something', until: 'garbage' }), 'waiting for something');
});
