/**
 * File names of a device's `status` branch (docs/CONTRACTS.md), shared by the agent that writes
 * them and the orchestrator that reads them. signatures.json is the trust package's
 * (SIGNATURES_FILE).
 */

/** DeviceCapabilities of the device. */
export const CAPABILITIES_FILE = 'capabilities.json';
/**
 * `{"commit": "<oid>", "seq": "<n>", "files": {...}}`: the last desired-state commit the agent acted
 * on (applied or refused), a per-device sequence and the digests of the commit's other status files
 * (status-freshness.ts).
 */
export const OBSERVED_FILE = 'observed.json';
/** Folder of one DeploymentStatus per deployment: `deployments/<deploymentId>.json`. */
export const DEPLOYMENT_STATUS_DIR = 'deployments/';
