import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RolloutSpec, RolloutWaveSpec } from '@margo-gitops/spec';
import { planWaves, REST_WAVE, type RolloutTarget } from './plan.js';

const gate = { healthySeconds: 0, manual: false };
const spec = (waves: Omit<RolloutWaveSpec, 'gate'>[]): RolloutSpec => ({
  waves: waves.map((w) => ({ ...w, gate })),
  failureThreshold: { count: 1 },
  onFailure: 'pause',
});
const fleet = (n: number, labels: (i: number) => Record<string, string> = () => ({})): RolloutTarget[] =>
  Array.from({ length: n }, (_, i) => ({
    deviceId: `edge-${String(i).padStart(3, '0')}`,
    labels: labels(i),
  }));

/** Deterministic shuffle (a fixed LCG), so the test itself is stable. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('planWaves', () => {
  const s = spec([
    { name: 'canary', devices: ['edge-007', 'edge-003'] },
    { name: 'ten', percent: 10 },
    { name: 'half', percent: 50 },
  ]);

  it('gives the same waves whatever the order of the targets', () => {
    const targets = fleet(40);
    const first = planWaves('web', targets, s);
    for (const seed of [1, 2, 3, 42]) assert.deepEqual(planWaves('web', shuffled(targets, seed), s), first);
  });

  it('takes percentages of the targets left, rounded up, and puts the rest in a last wave', () => {
    const plan = planWaves('web', fleet(40), s);
    assert.deepEqual(
      plan.waves.map((w) => [w.name, w.devices.length]),
      [
        ['canary', 2],
        ['ten', 4], // ceil(10% of 38)
        ['half', 17], // ceil(50% of 34)
        [REST_WAVE, 17],
      ],
    );
    assert.deepEqual(plan.waves[0]!.devices, ['edge-007', 'edge-003'], 'listed devices keep their order');
    const all = plan.waves.flatMap((w) => w.devices);
    assert.equal(new Set(all).size, 40, 'every target in exactly one wave');
  });

  it('rounds exact percentages exactly (10% of 30 is 3, not 4)', () => {
    const plan = planWaves(
      'web',
      fleet(30),
      spec([
        { percent: 10, name: 'a' },
        { percent: 100, name: 'b' },
      ]),
    );
    assert.deepEqual(
      plan.waves.map((w) => w.devices.length),
      [3, 27],
    );
  });

  it('spreads percentage waves by a hash of deployment and device, not by name', () => {
    const targets = fleet(100);
    const a = planWaves('web', targets, spec([{ name: 'c', percent: 5 }])).waves[0]!.devices;
    const b = planWaves('db', targets, spec([{ name: 'c', percent: 5 }])).waves[0]!.devices;
    assert.equal(a.length, 5);
    assert.notDeepEqual(a, ['edge-000', 'edge-001', 'edge-002', 'edge-003', 'edge-004']);
    assert.notDeepEqual(a, b, 'each deployment draws its own canaries');
  });

  it('keeps the relative order of devices when another joins', () => {
    const order = (n: number) =>
      planWaves('web', fleet(n), spec([{ name: 'all', percent: 100 }])).waves[0]!.devices;
    const before = order(50);
    const after = order(51).filter((d) => d !== 'edge-050');
    assert.deepEqual(after, before);
  });

  it('selects by label among the targets left, and reports listed devices that are not targets', () => {
    const targets = fleet(10, (i) => ({ site: i < 4 ? 'a' : 'b' }));
    const plan = planWaves(
      'web',
      targets,
      spec([
        { name: 'one', devices: ['edge-000', 'edge-999'] },
        { name: 'site-a', selector: { matchLabels: { site: 'a' } } },
        { name: 'none', selector: { matchLabels: { site: 'z' } } },
      ]),
    );
    assert.deepEqual(plan.notTargeted, ['edge-999']);
    assert.deepEqual(plan.waves[0]!.devices, ['edge-000']);
    assert.deepEqual([...plan.waves[1]!.devices].sort(), ['edge-001', 'edge-002', 'edge-003']);
    assert.deepEqual(plan.waves[2]!.devices, [], 'an empty wave stays, so wave numbers follow the spec');
    assert.equal(plan.waves[3]!.name, REST_WAVE);
    assert.equal(plan.waves[3]!.devices.length, 6);
  });

  it('has no rest wave when the spec places every target', () => {
    const plan = planWaves('web', fleet(3), spec([{ name: 'all', percent: 100 }]));
    assert.deepEqual(
      plan.waves.map((w) => w.name),
      ['all'],
    );
  });
});
