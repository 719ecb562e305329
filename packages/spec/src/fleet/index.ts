export * from './types.js';
export * from './rollout-types.js';
export { deviceSchema, deploymentSchema, maintenanceWindowSchema } from './schemas.js';
export { normaliseRollout, normaliseWindow, isKnownTimeZone, type Locate } from './parse-rollout.js';
export {
  parseFleet,
  parseFleetDevice,
  parseDeploymentIntent,
  parseMaintenanceWindow,
  type Fleet,
  type FleetParseCache,
  type FleetParseResult,
} from './parse-fleet.js';
