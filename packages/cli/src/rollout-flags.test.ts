import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDeploymentIntent } from '@margo-gitops/spec';
import { toYaml } from './fleet-docs.js';
import { hasRolloutFlags, rolloutFromFlags, type RolloutFlags } from './rollout-flags.js';

/** The deployment YAML with this rollout, parsed back as the orchestrator parses it. */
function parsed(flags: RolloutFlags) {
  const text = toYaml({
    kind: 'Deployment',
    name: 'web',
    application: { id: 'web', version: '1.0.0' },
    targets: { devices: ['press-07', 'press-31'] },
    rollout: rolloutFromFlags(flags),
  });
  return { text, ...parseDeploymentIntent(text, 'deployments/web.yaml') };
}

describe('rollout flags -> rollout: block', () => {
  it('no flag: no block', () => {
    assert.equal(rolloutFromFlags({}), undefined);
    assert.equal(rolloutFromFlags({ canary: [], manualGate: false }), undefined);
    assert.equal(hasRolloutFlags({ waves: '100' }), true);
  });

  it('canary, waves, gates, cap, threshold and failure action', () => {
    const r = rolloutFromFlags({
      canary: ['press-07', 'press-31', 'press-07'],
      waves: '25,100',
      maxConcurrent: '20',
      healthSeconds: '600',
      manualGate: true,
      failureThreshold: '2',
      onFailure: 'rollback',
    });
    assert.deepEqual(r, {
      waves: [
        { name: 'canary', devices: ['press-07', 'press-31'], gate: { healthySeconds: 600, manual: true } },
        { percent: 25, gate: { healthySeconds: 600 } },
        { percent: 100, gate: { healthySeconds: 600 } },
      ],
      maxConcurrent: 20,
      failureThreshold: { count: 2 },
      onFailure: 'rollback',
    });
    const p = parsed({ canary: ['press-07'], waves: '25,100', failureThreshold: '5%', manualGate: true });
    assert.deepEqual(p.findings, []);
    assert.deepEqual(p.value!.rollout, {
      waves: [
        { name: 'canary', devices: ['press-07'], gate: { healthySeconds: 0, manual: true } },
        { name: 'wave-2', percent: 25, gate: { healthySeconds: 0, manual: false } },
        { name: 'wave-3', percent: 100, gate: { healthySeconds: 0, manual: false } },
      ],
      failureThreshold: { percent: 5 },
      onFailure: 'pause',
    });
  });

  it('without waves or canaries: one wave of every target (e.g. only a cap)', () => {
    assert.deepEqual(rolloutFromFlags({ maxConcurrent: '5' }), {
      waves: [{ percent: 100 }],
      maxConcurrent: 5,
    });
    assert.deepEqual(rolloutFromFlags({ manualGate: true }), {
      waves: [{ percent: 100, gate: { manual: true } }],
    });
    assert.deepEqual(rolloutFromFlags({ waves: '10%, 50' })!.waves, [{ percent: 10 }, { percent: 50 }]);
    assert.deepEqual(parsed({ maxConcurrent: '5' }).findings, []);
  });

  it('malformed values are usage errors; out-of-range ones are left to the fleet parser', () => {
    for (const f of [
      { waves: '10,,100' },
      { waves: 'ten' },
      { maxConcurrent: '-1' },
      { healthSeconds: '1.5' },
      { failureThreshold: 'x%' },
      { failureThreshold: '1.5' },
      { onFailure: 'explode' },
    ] as RolloutFlags[])
      assert.throws(() => rolloutFromFlags(f), { code: 'USAGE_ERROR' }, JSON.stringify(f));
    const p = parsed({ waves: '150', maxConcurrent: '0' });
    assert.deepEqual(
      p.findings.map((f) => [f.code, f.path]),
      [
        ['ORCH_FLEET_SCHEMA', '/rollout/maxConcurrent'],
        ['ORCH_FLEET_SCHEMA', '/rollout/waves/0/percent'],
      ],
    );
  });
});
