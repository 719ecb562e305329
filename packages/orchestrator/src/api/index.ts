export {
  createWorkloadApiHandler,
  accepts,
  noneMatch,
  routeOf,
  WELL_KNOWN_PATH,
  TRUST_BUNDLE_PATH,
  type ApiHandlerOptions,
  type ApiRequestEvent,
  type ApiWrite,
} from './handler.js';
export { ApiStateCache, type ApiStateCacheOptions } from './state-cache.js';
export {
  ApiRateLimiter,
  DEFAULT_API_RATE_LIMITS,
  type ApiRateLimits,
  type RateBudget,
} from './rate-limit.js';
export { createApiWrites, MAX_WRITE_BODY_BYTES, type ApiWritesOptions } from './writes.js';
export { GitDeviceStateReader, type DeviceStateReader } from './reader.js';
export { problemBody, sendProblem as sendApiProblem, INVALID_REQUEST_TYPE } from './problem.js';
export {
  buildStateManifest,
  deploymentDocs,
  deploymentIdOf,
  bundleOf,
  MANIFEST_MEDIA_TYPE,
  BUNDLE_MEDIA_TYPE,
  DEPLOYMENT_MEDIA_TYPE,
  API_EXTENSIONS,
  type DesiredSnapshot,
  type DeploymentDoc,
  type StateManifest,
} from './state-manifest.js';
