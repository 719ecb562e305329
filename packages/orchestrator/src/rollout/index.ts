// Progressive rollouts and maintenance windows (issue 15): the pure logic the orchestrator wires
// (rollouts.ts). docs/rollout.md describes the behaviour.
export {
  planWaves,
  rolloutRank,
  REST_WAVE,
  type RolloutTarget,
  type PlannedWave,
  type WavePlan,
} from './plan.js';
export {
  createRollout,
  parseRolloutState,
  pauseRollout,
  resumeRollout,
  promoteWave,
  abortRollout,
  retarget,
  failureLimit,
  failedCount,
  ROLLOUT_STATE_SCHEMA,
  type CreateRolloutInput,
  type RolloutState,
  type RolloutPhase,
  type WaveState,
  type DeviceRolloutState,
  type DeviceRolloutStatus,
} from './state.js';
export {
  nextStep,
  sideOf,
  type RolloutObservation,
  type StepContext,
  type StepResult,
  type RolloutEvent,
  type WaitReason,
} from './step.js';
export { summariseRollout, type RolloutSummary, type WaveSummary } from './summary.js';
export { isOpen, nextOpening, nextOpeningOf, windowOpenAt, windowsFor } from './windows.js';
export {
  ROLLOUTS_DIR,
  rolloutStatePath,
  rolloutNameOf,
  formatRolloutState,
  readRolloutState,
  checkRolloutFile,
  type RolloutFileFinding,
} from './state-file.js';
export { rolloutOverview, type RolloutOverview } from './overview.js';
export { revisionOf, revisionInText, REVISION_ANNOTATION } from './revision.js';
export {
  beginRollouts,
  stepRollouts,
  earliestWake,
  isActive,
  inFlight,
  IMPLICIT_ROLLOUT,
  type GovernedDeployment,
  type Baseline,
  type BeginResult,
} from './controller.js';
export { rolloutCommitMessage, type RolloutCommitWhat } from './commit-message.js';
