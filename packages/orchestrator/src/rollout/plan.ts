/**
 * Wave planning: which targets of a deployment change in which wave (docs/rollout.md). Pure and
 * stable: the same targets and spec always give the same waves, whatever order the targets come in.
 */
import { createHash } from 'node:crypto';
import type { RolloutGate, RolloutSpec } from '@margo-gitops/spec';
import { matchesSelector } from '../core/label-selector.js';

/** A target of the deployment with its fleet labels. */
export interface RolloutTarget {
  deviceId: string;
  labels: Readonly<Record<string, string>>;
}

/** A planned wave: its devices in the order they are told to change. */
export interface PlannedWave {
  name: string;
  devices: string[];
  gate: RolloutGate;
}

export interface WavePlan {
  waves: PlannedWave[];
  /** Devices named in a wave's `devices` that are not targets of the deployment (left out). */
  notTargeted: string[];
}

/** Name of the wave that takes the targets no wave of the spec placed. */
export const REST_WAVE = '(rest)';

/**
 * A device's place in percentage waves: a hash of deployment name and device id. Hashing spreads
 * canaries over the fleet instead of taking the alphabetically first devices (often one site), a
 * device keeps its place when others join or leave, and each deployment draws its own canaries.
 */
export function rolloutRank(deployment: string, deviceId: string): string {
  return createHash('sha256').update(`${deployment}\0${deviceId}`).digest('hex').slice(0, 16);
}

/**
 * Plans the waves of a rollout over `targets`. Waves are taken in spec order, each from the targets
 * no earlier wave placed: `devices` in their listed order, `selector` matches and `percent` (rounded
 * up) in rank order (rolloutRank, then device id). Targets left at the end form a last wave
 * `(rest)` with no gate. A wave may be empty (a selector matching none); it stays in the plan so
 * wave numbers follow the spec.
 *
 * @example
 * planWaves('web', [{ deviceId: 'a', labels: {} }, { deviceId: 'b', labels: {} }], spec).waves.map((w) => w.devices);
 */
export function planWaves(
  deployment: string,
  targets: readonly RolloutTarget[],
  spec: RolloutSpec,
): WavePlan {
  const byId = new Map<string, RolloutTarget>();
  for (const t of targets) byId.set(t.deviceId, t);
  const ranked = [...byId.values()]
    .map((t) => ({ t, rank: rolloutRank(deployment, t.deviceId) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.t.deviceId < b.t.deviceId ? -1 : 1))
    .map((x) => x.t);
  let remaining = ranked;
  const notTargeted: string[] = [];
  const waves: PlannedWave[] = [];
  for (const w of spec.waves) {
    let members: string[];
    if (w.devices) {
      const left = new Set(remaining.map((t) => t.deviceId));
      members = w.devices.filter((d) => left.has(d));
      for (const d of w.devices) if (!byId.has(d)) notTargeted.push(d);
    } else if (w.selector) {
      const sel = w.selector;
      members = remaining.filter((t) => matchesSelector(t.labels, sel)).map((t) => t.deviceId);
    } else {
      // The small epsilon keeps e.g. 10% of 30 at 3 despite floating point (30 * 10 / 100 = 3.0000000000000004).
      const n = Math.ceil(((w.percent ?? 0) * remaining.length) / 100 - 1e-9);
      members = remaining.slice(0, n).map((t) => t.deviceId);
    }
    const taken = new Set(members);
    remaining = remaining.filter((t) => !taken.has(t.deviceId));
    waves.push({ name: w.name, devices: members, gate: { ...w.gate } });
  }
  if (remaining.length) {
    waves.push({
      name: REST_WAVE,
      devices: remaining.map((t) => t.deviceId),
      gate: { healthySeconds: 0, manual: false },
    });
  }
  return { waves, notTargeted: [...new Set(notTargeted)].sort() };
}
