// Public API of @margo-gitops/orchestrator.
export {
  Orchestrator,
  type OrchestratorOptions,
  type ReconcileSummary,
  type PushNotice,
  type DesiredStateSigner,
} from './orchestrator.js';
export { type StatusVerifier, type StatusProblem } from './io/device-repo.js';
export { type RolloutView } from './rollouts.js';
export {
  fanOutTelemetry,
  guardTelemetry,
  noTelemetry,
  type CommitEvent,
  type FleetChange,
  type OrchestratorTelemetry,
  type PassInfo,
  type PassResult,
  type PassSpan,
  type RolloutStepEvent,
} from './telemetry.js';
export { type SignedStateAuditor } from './io/trusted-main.js';
export { createStatusHttpHandler, type StatusHttpOptions } from './status-http.js';
/** Reads a catalog repository as the orchestrator does (the CLI checks a deployment against it). */
export { CatalogReader } from './io/read-sources.js';

// Pure core (no I/O).
export {
  reconcile,
  prepareReconcile,
  type ReconcileInput,
  desiredForDevice,
  type Catalog,
  type CatalogEntry,
  type CurrentDeployment,
  type DeviceObservation,
  type DeviceDesired,
  type DeploymentOutcome,
  type OutcomeStatus,
  type ReconcileContext,
  type IntentResolution,
  type RolloutRender,
  rolloutSide,
} from './core/desired-state.js';
export {
  rollupFleetStatus,
  type FleetStatus,
  type DeploymentRollup,
  type DeploymentRow,
  type DeviceRow,
  type RowState,
  type StateCounts,
} from './core/fleet-status.js';
export { selectTargets, type TargetSelection } from './core/select-targets.js';
export { matchesSelector } from './core/label-selector.js';
export { resolveVersion, type VersionResolution } from './core/resolve-version.js';
export { chooseProfile, runnableTypes, type DeviceFacts, type ProfileChoice } from './core/choose-profile.js';
export { unmetRequirements, formatBytes } from './core/match-capabilities.js';
export { unmetPropertySelector } from './core/property-selector.js';
export {
  resolveParameters,
  type ResolvedParameter,
  type ParameterResolution,
  type ParameterValidator,
} from './core/resolve-parameters.js';
export {
  renderApplicationDeployment,
  packageRelativePath,
  DEPENDS_ON_ANNOTATION,
  APP_VERSION_ANNOTATION,
  type RenderInput,
} from './core/render-deployment.js';
export { deploymentIdFor, DEPLOYMENT_ID_NAMESPACE } from './core/deployment-id.js';

// Progressive rollouts and maintenance windows (pure decisions; the orchestrator wires them, docs/rollout.md).
export * from './rollout/index.js';

// Onboarding API (root CA, enrolment, OAuth2 token endpoint).
export * from './onboarding/index.js';

// The Margo Workload Management API (rc.2), read side.
export * from './api/index.js';
