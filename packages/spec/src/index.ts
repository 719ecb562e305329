export * from './errors.js';
export * from './codes/index.js';
export type * from './model.js';
export * from './fleet/index.js';
export { DEVICE_ID_PATTERN, DEVICE_ID_PATTERN_SOURCE, DEVICE_ID_RULE, isValidDeviceId } from './device-id.js';
export { FailureRateLimiter } from './failure-rate-limit.js';
export {
  APP_VERSION_ANNOTATION,
  DEPENDS_ON_ANNOTATION,
  REMOVE_VOLUMES_ANNOTATION,
  REVISION_ANNOTATION,
} from './annotations.js';

// Documents: parse, validate, normalise.
export { parseDocument, validateDocument, type ParseOptions, type ParseResult } from './parse-document.js';
export { detectKind, kindByShape, type KindGuess } from './detect-kind.js';
export {
  parseSource,
  decodeInput,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  type SourceOptions,
  type ParsedSource,
  type Position,
} from './source.js';
export { validateAgainstSchema, precompileSchema, schemas } from './schemas.js';
export { checkDeploymentStatus, checkDeviceCapabilities, checkManifestVersion } from './rules-other.js';
export {
  normaliseApplicationDescription,
  normaliseConfiguration,
} from './normalise-application-description.js';
export { normaliseApplicationDeployment } from './normalise-application-deployment.js';
export { normaliseDeploymentStatus, normaliseDesiredStateManifest } from './normalise-status.js';
export { normaliseProblemDetail } from './normalise-problem-detail.js';
export { normaliseDeviceCapabilities, normaliseRole } from './normalise-device-capabilities.js';
export { normaliseProfileType, composePointer } from './normalise-profile.js';
export { isValidPointer } from './rules-profile.js';

// Findings.
export { formatFinding, hasErrors, sortFindings, finding } from './finding.js';
export { toPointer, fromPointer } from './json-pointer.js';

// Parameter values.
export {
  validateParameterValues,
  checkValueAgainstRule,
  settingsByParameter,
  type ParameterValueOptions,
} from './parameter-values.js';
export { compileSafeRegex, type SafeRegex } from './safe-regex.js';

// Emitters and status.
export {
  emitApplicationDeployment,
  applicationDeploymentDocument,
  APPLICATION_DEPLOYMENT_API_VERSION,
} from './emit-application-deployment.js';
export {
  emitCurrentApplicationDeployment,
  currentApplicationDeploymentDocument,
  componentOciRef,
  CURRENT_DEPLOYMENT_HEADER,
} from './emit-current-deployment.js';
export { MARGO_GITOPS_EXTENSIONS } from './normalise-profile.js';
export {
  aggregateState,
  parseDeploymentState,
  DEPLOYMENT_STATES,
  STATE_SEVERITY,
} from './deployment-state.js';
export {
  buildDeploymentStatus,
  emitDeploymentStatus,
  emitDeploymentStatusObject,
  DEPLOYMENT_STATUS_FLAVOURS,
  type BuildDeploymentStatusInput,
  type DeploymentStatusFlavour,
} from './deployment-status.js';
export { stringifyJsonExact } from './json-exact.js';

// Units.
export {
  parseQuantity,
  normaliseArchitecture,
  isKnownArchitecture,
  parseTimeout,
  formatTimeout,
} from './quantity.js';

// Files, folders and application packages (the only file-system code of this package).
export { validateContent, type ContentResult, type FileKind } from './validate-content.js';
export {
  validateApplicationPackage,
  validateFile,
  validatePaths,
  checkPackageResources,
  readBounded,
  PACKAGE_DESCRIPTION_FILE,
  type FileResult,
  type ValidateFilesOptions,
} from './validate-files.js';
export { CAPABILITIES_FILE, DEPLOYMENT_STATUS_DIR, OBSERVED_FILE } from './status-branch.js';
export {
  buildDeviceHold,
  holdFromValue,
  parseDeviceHold,
  sanitiseHoldReason,
  HOLD_FILE,
  HOLD_KIND,
  HOLD_NO_REASON,
  HOLD_REASON_MAX,
  type DeviceHold,
} from './device-hold.js';
export {
  buildObserved,
  parseObserved,
  statusFileDigest,
  OBSERVED_MAX_BYTES,
  OBSERVED_MAX_SEQ,
  type Observed,
  type ObservedInput,
} from './status-freshness.js';
