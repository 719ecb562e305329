import type { DeploymentIntent, FleetDevice } from '@margo-gitops/spec';
import { matchesSelector } from './label-selector.js';

export interface TargetSelection {
  /** Registered devices the intent targets, sorted. */
  deviceIds: string[];
  /** Device ids listed in `targets.devices` that have no `devices/<id>.yaml`. */
  unregistered: string[];
}

/**
 * The devices an intent targets: the union of `targets.devices` and the devices whose fleet
 * labels match `targets.selector`.
 *
 * @example
 * selectTargets(intent, fleet.devices).deviceIds; // ['edge-1', 'edge-7']
 */
export function selectTargets(
  intent: Pick<DeploymentIntent, 'targets'>,
  devices: ReadonlyMap<string, FleetDevice>,
): TargetSelection {
  const out = new Set<string>();
  const unregistered: string[] = [];
  for (const id of intent.targets.devices) {
    if (devices.has(id)) out.add(id);
    else unregistered.push(id);
  }
  const sel = intent.targets.selector;
  if (sel) {
    for (const [id, d] of devices) if (matchesSelector(d.labels, sel)) out.add(id);
  }
  return { deviceIds: [...out].sort(), unregistered: unregistered.sort() };
}
