export * from './types.js';
export { deviceSchema, deploymentSchema } from './schemas.js';
export {
  parseFleet,
  parseFleetDevice,
  parseDeploymentIntent,
  type Fleet,
  type FleetParseCache,
  type FleetParseResult,
} from './parse-fleet.js';
