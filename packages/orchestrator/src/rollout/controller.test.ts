import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeploymentIntent, RolloutSpec } from '@margo-gitops/spec';
import { beginRollouts, IMPLICIT_ROLLOUT, stepRollouts, type GovernedDeployment } from './controller.js';
import { revisionOf } from './revision.js';
import { abortRollout, createRollout, type RolloutState } from './state.js';

const T0 = Date.parse('2026-03-02T08:00:00Z');
const spec: RolloutSpec = {
  waves: [{ name: 'all', percent: 100, gate: { healthySeconds: 0, manual: false } }],
  failureThreshold: { count: 1 },
  onFailure: 'pause',
};
const targets = (...ids: string[]) => ids.map((deviceId) => ({ deviceId, labels: {} }));
const gov = (revision: string, ...ids: string[]): GovernedDeployment => ({
  name: 'web',
  revision,
  version: `v-${revision}`,
  blob: `blob-${revision}`,
  targets: targets(...ids),
  spec,
});
const stateOf = (from: string | undefined, to: string, phase: RolloutState['phase']): RolloutState => {
  const s = createRollout({
    deployment: 'web',
    ...(from ? { from } : {}),
    to,
    spec,
    targets: targets('a'),
    now: T0,
  }).state;
  s.phase = phase;
  s.toBlob = `blob-${to}`;
  s.toVersion = `v-${to}`;
  if (from) Object.assign(s, { fromBlob: `blob-${from}`, fromVersion: `v-${from}` });
  return s;
};

describe('beginRollouts', () => {
  it('first installation: no state, no baseline: from nothing', () => {
    const r = beginRollouts({
      deployments: [gov('r1', 'a')],
      stored: new Map(),
      baseline: new Map(),
      now: T0,
    });
    const s = r.states.get('web')!;
    assert.equal(s.from, undefined);
    assert.equal(s.to, 'r1');
    assert.equal(s.toBlob, 'blob-r1');
    assert.deepEqual([...r.changed], ['web']);
  });
  it('no state: from the baseline (what the fleet ran); the same revision needs no rollout', () => {
    const baseline = new Map([['web', { revision: 'r0', version: '1.0.0', blob: 'b0' }]]);
    const s = beginRollouts({
      deployments: [gov('r1', 'a')],
      stored: new Map(),
      baseline,
      now: T0,
    }).states.get('web')!;
    assert.deepEqual([s.from, s.fromVersion, s.fromBlob], ['r0', '1.0.0', 'b0']);
    const same = beginRollouts({ deployments: [gov('r0', 'a')], stored: new Map(), baseline, now: T0 });
    assert.equal(same.states.size, 0);
  });
  it('a done rollout: the next one starts from its to; an unfinished one: from its from', () => {
    const done = stateOf('r0', 'r1', 'done');
    const next = beginRollouts({
      deployments: [gov('r2', 'a')],
      stored: new Map([['web', done]]),
      baseline: new Map(),
      now: T0,
    });
    assert.equal(next.states.get('web')!.from, 'r1');
    assert.equal(next.states.get('web')!.fromBlob, 'blob-r1');
    for (const phase of ['progressing', 'paused', 'rollingBack', 'rolledBack'] as const) {
      const prev = stateOf('r0', 'r1', phase);
      const r = beginRollouts({
        deployments: [gov('r2', 'a')],
        stored: new Map([['web', prev]]),
        baseline: new Map(),
        now: T0,
      });
      assert.equal(r.states.get('web')!.from, 'r0', phase);
      assert.equal(r.started[0]!.superseded, prev);
    }
  });
  it('same revision: the stored state is kept (retargeted when targets change)', () => {
    const prev = stateOf('r0', 'r1', 'progressing');
    const same = beginRollouts({
      deployments: [gov('r1', 'a')],
      stored: new Map([['web', prev]]),
      baseline: new Map(),
      now: T0,
    });
    assert.equal(same.states.get('web'), prev);
    assert.equal(same.changed.size, 0);
    const more = beginRollouts({
      deployments: [gov('r1', 'a', 'b')],
      stored: new Map([['web', prev]]),
      baseline: new Map(),
      now: T0,
    });
    assert.deepEqual(Object.keys(more.states.get('web')!.devices).sort(), ['a', 'b']);
    assert.deepEqual([...more.changed], ['web']);
  });
  it('going back to what a rolled-back rollout started from needs no rollout', () => {
    const prev = stateOf('r0', 'r1', 'rolledBack');
    const r = beginRollouts({
      deployments: [gov('r0', 'a')],
      stored: new Map([['web', prev]]),
      baseline: new Map(),
      now: T0,
    });
    assert.equal(r.states.size, 0);
  });
});

describe('stepRollouts', () => {
  it('shares the fleet-wide cap between rollouts after they observed', () => {
    const mk = (name: string) => {
      const s = createRollout({
        deployment: name,
        to: 'r1',
        spec: IMPLICIT_ROLLOUT,
        targets: targets('a', 'b', 'c'),
        now: T0,
      }).state;
      return s;
    };
    const states = new Map([
      ['api', mk('api')],
      ['web', mk('web')],
    ]);
    const r = stepRollouts({ states, observations: new Map(), now: T0, cap: 4 });
    assert.equal(r.get('api')!.change.length, 3);
    assert.equal(r.get('web')!.change.length, 1);
    assert.ok(r.get('web')!.waiting.every((w) => w.reason === 'cap'));
    // web's devices installed: their slots are free for api's... and the rest of web.
    const next = new Map([...r].map(([n, x]) => [n, x.state]));
    const obs = new Map([['api', { a: { state: 'installed' as const, revision: 'r1' } }]]);
    const r2 = stepRollouts({ states: next, observations: obs, now: T0 + 1, cap: 4 });
    assert.equal(r2.get('web')!.change.length, 1);
  });
  it('a rollout rolling back sends devices back without a budget', () => {
    const s = abortRollout(
      (() => {
        const x = createRollout({
          deployment: 'web',
          from: 'r0',
          to: 'r1',
          spec,
          targets: targets('a'),
          now: T0,
        }).state;
        x.devices.a!.status = 'changing';
        return x;
      })(),
      T0,
    );
    const r = stepRollouts({ states: new Map([['web', s]]), observations: new Map(), now: T0, cap: 0 });
    assert.deepEqual(r.get('web')!.revert, ['a']);
  });
});

describe('revisionOf', () => {
  const intent: DeploymentIntent = {
    kind: 'Deployment',
    name: 'web',
    application: { id: 'hello', version: '^1.0' },
    targets: { devices: ['a'] },
    parameters: { greeting: 'hi' },
    secrets: {},
    dependsOn: [],
  };
  it('changes with what devices run, not with the rollout block, description, targets or range', () => {
    const r = revisionOf(intent, '1.0.0');
    assert.match(r, /^[0-9a-f]{16}$/);
    assert.equal(
      revisionOf({ ...intent, rollout: spec, description: 'x', targets: { devices: ['b'] } }, '1.0.0'),
      r,
    );
    assert.equal(revisionOf({ ...intent, application: { id: 'hello', version: '1.0.0' } }, '1.0.0'), r);
    assert.notEqual(revisionOf(intent, '1.1.0'), r);
    assert.notEqual(revisionOf({ ...intent, parameters: { greeting: 'bye' } }, '1.0.0'), r);
  });
});
