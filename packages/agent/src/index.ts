export {
  Agent,
  type AgentOptions,
  type PollResult,
  type Verifier,
  type VerifiedDesiredState,
} from './agent.js';
export { runAgentMain } from './main.js';
export { runHold, parseHoldArgs, HOLD_USAGE, type HoldRequest, type HoldIo } from './hold/hold-command.js';
export { readHold, placeHold, releaseHold, HOLD_STATE_FILE } from './hold/hold-file.js';
export {
  startDeviceAgent,
  manifestVerifier,
  defaultEnrolApi,
  type EnrolApi,
  type DeviceEnrolment,
  type StartDeviceAgentOptions,
  type RunningDeviceAgent,
} from './device-agent.js';
export { readEnrolmentString, REFUSE_ARGV_TOKEN_ENV, type EnrolmentInput } from './config/enrolment-input.js';
export { createAgentLogger } from './logger.js';
export {
  loadAgentConfig,
  envName,
  type ConfigSources,
  type ConfigProblem,
} from './config/load-agent-config.js';
export { DEFAULT_CONFIG, resolveTransport, type AgentConfig } from './config/agent-config.js';
export { RestClient, type RestClientOptions, type RestReply } from './source/rest-client.js';
export { RestDesiredSource, REST_STATE_FILE, type RestDesiredSourceOptions } from './source/rest-source.js';
export {
  RestStatusSink,
  REST_DELIVERED_FILE,
  type RestStatusSinkOptions,
} from './source/rest-status-sink.js';
export { createRestTransport, type RestTransportOptions } from './source/rest-transport.js';
export {
  parseWindow,
  inWindow,
  activityAt,
  msUntilActive,
  type TimeWindow,
  type Schedule,
  type Activity,
} from './config/windows.js';
export type {
  Driver,
  ComponentContext,
  RemoveContext,
  Observation,
  Progress,
  Prepared,
  RegistryCredentials,
} from './drivers/driver.js';
export { ComposeDriver, type ComposeDriverOptions } from './drivers/compose-driver.js';
export { HelmDriver, type HelmDriverOptions } from './drivers/helm-driver.js';
export { discoverCapabilities, type DiscoverOptions } from './capabilities/discover-capabilities.js';
export { planActions, type PlannedAction, type ActionKind, type Plan } from './plan/plan-actions.js';
export {
  fingerprintOf,
  DEPENDS_ON_ANNOTATION,
  REMOVE_VOLUMES_ANNOTATION,
  type DeploymentFingerprint,
} from './plan/fingerprint.js';
export { REGISTRY_POINTERS } from './desired/read-desired.js';
export { buildDeploymentStatus } from './status/build-status.js';
export {
  enrol,
  loadEnrolment,
  updateRepositoryToken,
  forgetEnrolment,
  identityPaths,
  type EnrolOptions,
  type Enrolment,
  type EnrolmentRecord,
} from './enrol/index.js';
