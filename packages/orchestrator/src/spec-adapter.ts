/** The few spec calls the orchestrator's I/O shell makes, in one place. */
import {
  normaliseApplicationDescription,
  normaliseDeploymentStatus,
  normaliseDeviceCapabilities,
  type ApplicationDescription,
  type DeploymentStatus,
  type DeviceCapabilities,
} from '@margo-gitops/spec';

/** Parsed margo.yaml data -> normalised ApplicationDescription. */
export function normaliseApplication(data: unknown): ApplicationDescription {
  return normaliseApplicationDescription(data);
}

/** Parsed capabilities.json (any era's shape) -> normalised DeviceCapabilities. */
export function normaliseCapabilities(data: unknown): DeviceCapabilities {
  return normaliseDeviceCapabilities(data);
}

/** Parsed deployments/<id>.json from a status branch -> normalised DeploymentStatus. */
export function normaliseStatus(data: unknown): DeploymentStatus {
  return normaliseDeploymentStatus(data);
}
