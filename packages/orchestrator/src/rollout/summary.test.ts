import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRollout } from './state.js';
import { nextStep } from './step.js';
import { summariseRollout } from './summary.js';

const gate = { healthySeconds: 0, manual: false };
const fleet = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ deviceId: `edge-${String(i).padStart(3, '0')}`, labels: {} }));

describe('summariseRollout', () => {
  it('tells each wave: passed, current with its gate and waiting devices, later; failed devices with errors', () => {
    const T = Date.parse('2026-03-02T08:00:00Z');
    const s0 = createRollout({
      deployment: 'web',
      from: '1',
      to: '2',
      spec: {
        waves: [
          { name: 'canary', devices: ['edge-000'], gate },
          { name: 'all', percent: 100, gate },
        ],
        onFailure: 'pause',
        failureThreshold: { count: 3 },
        maxConcurrent: 2,
      },
      targets: fleet(5),
      now: T,
    }).state;
    let r = nextStep(s0, {}, T, { budget: 10 });
    r = nextStep(r.state, { 'edge-000': { revision: '2', state: 'installed' } }, T + 1000, { budget: 10 });
    const failing = r.change[0]!;
    r = nextStep(
      r.state,
      { [failing]: { revision: '2', state: 'failed', error: 'image pull: 404' } },
      T + 2000,
      {
        budget: 10,
      },
    );
    const sum = summariseRollout(r.state, r);
    assert.equal(sum.phase, 'progressing');
    assert.deepEqual([sum.failures, sum.failureLimit], [1, 3]);
    assert.deepEqual(
      sum.waves.map((w) => [w.name, w.progress, w.devices]),
      [
        ['canary', 'passed', 1],
        ['all', 'current', 4],
      ],
    );
    const all = sum.waves[1]!;
    assert.deepEqual(all.failed, [{ deviceId: failing, error: 'image pull: 404' }]);
    assert.deepEqual(all.counts, { failed: 1, changing: 2, waiting: 1 });
    assert.deepEqual(all.waiting, { cap: 1 });
    assert.equal(all.gateWaitsFor, 'devices');
  });
});
