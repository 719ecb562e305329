import type {
  ApplicationDescription,
  DeploymentProfile,
  DeviceCapabilities,
  DeviceRole,
  FleetDeviceRole,
  ProfileType,
} from '@margo-gitops/spec';
import { matchesSelector } from './label-selector.js';
import { unmetRequirements } from './match-capabilities.js';
import { unmetPropertySelector } from './property-selector.js';

/** What the orchestrator knows about one device when matching. */
export interface DeviceFacts {
  id: string;
  labels: Record<string, string>;
  /** Role declared in the fleet repository; wins over reported roles. */
  role?: FleetDeviceRole;
  /** Capabilities from the device's status branch; undefined when none were reported yet. */
  capabilities?: DeviceCapabilities;
}

export type ProfileChoice =
  | { ok: true; profile: DeploymentProfile }
  /**
   * `hold`: the device cannot be judged yet (no capabilities): what it already runs is kept.
   * Otherwise the device does not fit and gets nothing.
   */
  | { ok: false; code: 'ORCH_NO_CAPABILITIES' | 'ORCH_NOT_MATCHED'; reason: string; hold: boolean };

const TYPES_BY_ROLE: Record<string, ProfileType[]> = {
  'standalone-cluster': ['helm.v3'],
  'cluster-leader': ['helm.v3'],
  'standalone-device': ['compose'],
};

/** Profile types a device can run, from its declared role, else from the roles it reports. */
export function runnableTypes(device: DeviceFacts): { types: ProfileType[]; role: string | undefined } {
  const roles: (DeviceRole | FleetDeviceRole)[] = device.role
    ? [device.role]
    : (device.capabilities?.roles ?? []);
  const types = new Set<ProfileType>();
  for (const r of roles) for (const t of TYPES_BY_ROLE[r] ?? []) types.add(t);
  return { types: [...types], role: roles.join(', ') || undefined };
}

/**
 * Chooses the deployment profile of `app` for one device: `helm.v3` for Kubernetes roles
 * (standalone-cluster, cluster-leader), `compose` for standalone devices; the intent's preferred
 * type first when the device can run it; then the first profile of a runnable type whose
 * requirements and eligibility rules the device's capabilities satisfy.
 * A device with no capabilities report is not matched (and keeps what it runs) until it reports.
 *
 * @example
 * const c = chooseProfile(app, { id: 'e1', labels: {}, role: 'standalone-device', capabilities }, 'compose');
 * if (!c.ok) console.log(c.reason); // "needs 4Gi memory, device reports 2Gi"
 */
export function chooseProfile(
  app: ApplicationDescription,
  device: DeviceFacts,
  preferred?: ProfileType,
): ProfileChoice {
  const caps = device.capabilities;
  if (!caps)
    return { ok: false, code: 'ORCH_NO_CAPABILITIES', reason: 'no capabilities reported', hold: true };
  const { types, role } = runnableTypes(device);
  if (!types.length) {
    return {
      ok: false,
      code: 'ORCH_NOT_MATCHED',
      reason: `device role ${role ?? '(none)'} runs no Margo workloads`,
      hold: false,
    };
  }
  const order =
    preferred && types.includes(preferred) ? [preferred, ...types.filter((t) => t !== preferred)] : types;
  const candidates = order.flatMap((t) => app.profiles.filter((p) => p.type === t));
  if (!candidates.length) {
    return {
      ok: false,
      code: 'ORCH_NOT_MATCHED',
      reason: `application ${app.id} has no ${types.join(' or ')} profile for device role ${role}`,
      hold: false,
    };
  }
  let first: string[] | undefined;
  for (const p of candidates) {
    const unmet = [...unmetRequirements(p.requirements, caps), ...unmetEligibility(p, device)];
    if (!unmet.length) return { ok: true, profile: p };
    first ??= unmet;
  }
  return { ok: false, code: 'ORCH_NOT_MATCHED', reason: first!.join('; '), hold: false };
}

function unmetEligibility(p: DeploymentProfile, device: DeviceFacts): string[] {
  if (!p.eligibility?.length) return [];
  // Rules are alternatives (any one suffices); within a rule both selectors must hold. Label
  // selectors see the fleet labels plus the labels the device reports; property selectors are JSON
  // pointers into the reported capabilities.
  const capLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(device.capabilities?.labels ?? {})) capLabels[k] = String(v);
  const labels = { ...capLabels, ...device.labels };
  let first: string[] | undefined;
  for (const rule of p.eligibility) {
    const unmet: string[] = [];
    if (rule.labelSelector && !matchesSelector(labels, { matchExpressions: rule.labelSelector })) {
      unmet.push(`device labels do not satisfy the label selector of profile ${p.id}`);
    }
    if (rule.propertySelector)
      unmet.push(...unmetPropertySelector(device.capabilities?.original, rule.propertySelector));
    if (!unmet.length) return [];
    first ??= unmet;
  }
  return first ?? [];
}
