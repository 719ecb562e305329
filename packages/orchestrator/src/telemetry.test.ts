import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fanOutTelemetry,
  guardTelemetry,
  noTelemetry,
  type OrchestratorTelemetry,
  type PassResult,
} from './telemetry.js';

/** Telemetry that records every call as a line. */
function recorder(tag: string, lines: string[]): OrchestratorTelemetry {
  return {
    passStarted: (i) => {
      lines.push(`${tag} start ${i.reason}`);
      return { end: (r) => lines.push(`${tag} end ${r.outcome} ${r.commits}`) };
    },
    committed: (e) => lines.push(`${tag} commit ${e.repo} ${e.kind} ${e.commit}`),
    rolloutStep: (e) => lines.push(`${tag} step ${e.name} ${e.phase}`),
    fleetChanged: (e) => lines.push(`${tag} changed ${e.reason} ${e.deviceIds?.join(',') ?? ''}`),
  };
}

const throwing: OrchestratorTelemetry = {
  passStarted: () => {
    throw new Error('start');
  },
  committed: () => {
    throw new Error('commit');
  },
  rolloutStep: () => {
    throw new Error('step');
  },
  fleetChanged: () => {
    throw new Error('changed');
  },
};

const ok: PassResult = { outcome: 'ok', devicesWritten: 1, commits: 2 };

test('fan-out calls every member in order, spans included', () => {
  const lines: string[] = [];
  const t = fanOutTelemetry(recorder('a', lines), recorder('b', lines));
  const span = t.passStarted({ reason: 'manual' });
  t.committed({ repo: 'device', kind: 'desired-state', deviceId: 'd1', commit: 'c1' });
  t.rolloutStep({ name: 'web', phase: 'progressing', events: [], startedAt: 1, endedAt: 2 });
  t.fleetChanged({ reason: 'pass', deviceIds: ['d1'] });
  span.end(ok);
  assert.deepEqual(lines, [
    'a start manual',
    'b start manual',
    'a commit device desired-state c1',
    'b commit device desired-state c1',
    'a step web progressing',
    'b step web progressing',
    'a changed pass d1',
    'b changed pass d1',
    'a end ok 2',
    'b end ok 2',
  ]);
});

test('a throwing member neither throws into the caller nor stops the others', () => {
  const lines: string[] = [];
  const t = fanOutTelemetry(throwing, recorder('b', lines));
  const span = t.passStarted({ reason: 'x' });
  t.committed({ repo: 'fleet', kind: 'rollout', commit: 'c' });
  t.rolloutStep({ name: 'n', phase: 'done', events: ['e'], startedAt: 0, endedAt: 0 });
  t.fleetChanged({ reason: 'seen' });
  span.end(ok);
  assert.deepEqual(lines, [
    'b start x',
    'b commit fleet rollout c',
    'b step n done',
    'b changed seen ',
    'b end ok 2',
  ]);
});

test('guardTelemetry reports what a callback throws, and a span whose end throws', () => {
  const errors: string[] = [];
  const t = guardTelemetry(throwing, (e) => errors.push((e as Error).message));
  t.passStarted({ reason: 'r' }).end(ok);
  t.committed({ repo: 'fleet', kind: 'other', commit: 'c' });
  t.fleetChanged({ reason: 'status' });
  const badEnd = guardTelemetry(
    {
      ...noTelemetry,
      passStarted: () => ({
        end: () => {
          throw new Error('end');
        },
      }),
    },
    (e) => errors.push((e as Error).message),
  );
  badEnd.passStarted({ reason: 'r' }).end(ok);
  assert.deepEqual(errors, ['start', 'commit', 'changed', 'end']);
});

test('fan-out of nothing (or only noTelemetry) is noTelemetry', () => {
  assert.equal(fanOutTelemetry(), noTelemetry);
  assert.equal(fanOutTelemetry(noTelemetry, noTelemetry), noTelemetry);
  assert.doesNotThrow(() => noTelemetry.passStarted({ reason: 'r' }).end(ok));
});
