import type { LabelMatchExpression, ParamValue } from '../model.js';
import type { RolloutSpec } from './rollout-types.js';

/** apiVersion written on fleet documents (optional when reading). */
export const FLEET_API_VERSION = 'fleet.margo-gitops.io/v1alpha1';

/** Roles a fleet device may declare; they decide the deployment profile type it receives. */
export type FleetDeviceRole = 'standalone-device' | 'standalone-cluster' | 'cluster-leader';

/** Facts recorded when a device was enrolled (all optional, informational). */
export interface DeviceEnrolment {
  /** ISO 8601 time of enrolment. */
  enrolledAt?: string;
  /** Who or what approved it (user, token id). */
  approvedBy?: string;
  /** `sha256:<hex>` fingerprint of the device certificate. */
  certificateFingerprint?: string;
  serialNumber?: string;
  vendor?: string;
  modelNumber?: string;
}

/** `devices/<id>.yaml` in the fleet repository. */
export interface FleetDevice {
  kind: 'Device';
  id: string;
  description?: string;
  labels: Record<string, string>;
  /** Declared role; when absent the orchestrator uses the roles the device reports. */
  role?: FleetDeviceRole;
  /** The device is shown `unknown` when its status branch is older than this. Default 300. */
  expectedReportSeconds: number;
  enrolment?: DeviceEnrolment;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelMatchExpression[];
}

export interface DeploymentTargets {
  /** Explicit device ids. */
  devices: string[];
  /** Label selector over the fleet devices' labels; `{}` selects every device. */
  selector?: LabelSelector;
}

/**
 * A secret parameter value, sealed separately for each device it may go to (never plaintext in
 * the fleet repository). Each value is `sealed:v1:<base64>` as produced by the trust package.
 */
export interface SealedSecret {
  sealed: Record<string, string>;
}

/** `deployments/<name>.yaml` in the fleet repository: a deployment intent. */
export interface DeploymentIntent {
  kind: 'Deployment';
  name: string;
  description?: string;
  application: {
    id: string;
    /** An exact catalog version (`1.2.3`, `1.0`) or a semver range (`^1.2`, `>=2 <3`, `*`). */
    version: string;
  };
  targets: DeploymentTargets;
  /** Preferred profile type; used when the device can run it. */
  profile?: 'helm.v3' | 'compose';
  /** Kubernetes namespace / Compose project; default: the deployment name. */
  namespace?: string;
  /** Parameter name -> value, overriding the package defaults. */
  parameters: Record<string, ParamValue>;
  /** Parameter name -> sealed values per device. */
  secrets: Record<string, SealedSecret>;
  /** Names of deployments to install first (carried to the device as an annotation). */
  dependsOn: string[];
  /** Progressive rollout (docs/rollout.md): changes reach the targets in waves. */
  rollout?: RolloutSpec;
}
