import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRollout, nextStep, summariseRollout } from '@margo-gitops/orchestrator';
import { renderRollout, renderRolloutList } from './rollout-render.js';

const T = Date.parse('2026-03-02T08:00:00Z');

describe('rollout status text', () => {
  it('shows each wave, why devices wait (window with its opening, hold with reason, cap) and the gate', () => {
    const s0 = createRollout({
      deployment: 'web',
      to: '2222',
      spec: {
        waves: [
          { name: 'canary', devices: ['a'], gate: { healthySeconds: 600, manual: false } },
          { name: 'rest', devices: ['b', 'c', 'd'], gate: { healthySeconds: 0, manual: true } },
        ],
        onFailure: 'pause',
        failureThreshold: { count: 1 },
        maxConcurrent: 1,
      },
      targets: ['a', 'b', 'c', 'd'].map((deviceId) => ({ deviceId, labels: {} })),
      now: T,
    }).state;
    const told = nextStep(s0, {}, T, { budget: 10 });
    const gated = nextStep(told.state, { a: { revision: '2222', state: 'installed' } }, T + 1000, {
      budget: 10,
    });
    const view = {
      name: 'web',
      live: true,
      commit: 'abcdef0123456789',
      state: gated.state,
      summary: summariseRollout(gated.state, gated),
      waiting: [
        { deviceId: 'b', reason: 'window' as const, until: Date.parse('2026-03-02T22:00:00Z') },
        { deviceId: 'c', reason: 'hold' as const, hold: 'crew on site' },
        { deviceId: 'd', reason: 'cap' as const },
      ],
      ...(gated.gate ? { gate: gated.gate } : {}),
    };
    const text = renderRollout(view, false);
    assert.match(text, /^rollout web {2}progressing {2}\(fleet commit abcdef012345\)\n/);
    assert.match(text, /revision \(none: first installation\) -> 2222/);
    assert.match(
      text,
      /canary +waiting for gate \(health until 2026-03-02T08:10:01Z\) +healthy 600s +1 +healthy 1/,
    );
    assert.match(text, /rest +later +promote +3 +waiting 3/);
    assert.match(
      text,
      /devices waiting\n {2}b {2}maintenance window \(opens 2026-03-02T22:00:00Z\)\n {2}c {2}on-site hold: crew on site\n {2}d {2}cap/,
    );
    assert.doesNotMatch(text, /live view unavailable|failed devices/);
  });

  it('lists rollouts one per line', () => {
    const text = renderRolloutList(
      {
        live: true,
        rollouts: [
          {
            name: 'web',
            phase: 'paused',
            to: '2',
            wave: 'rest',
            wavesPassed: 1,
            waves: 2,
            total: 4,
            counts: { healthy: 1, waiting: 3 },
            failures: 0,
            failureLimit: 1,
            waiting: 2,
          },
        ],
      },
      false,
    );
    assert.match(
      text,
      /^ROLLOUT +PHASE +WAVE +WAVES DONE +HEALTHY +FAILED +WAITING +NEXT LOOK\nweb +paused +rest +1\/2 +1\/4 +0 +2 +-\n$/,
    );
  });
});
