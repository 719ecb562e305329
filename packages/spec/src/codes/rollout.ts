import type { CodeTable } from './types.js';

/**
 * Stable error codes of progressive rollouts and maintenance windows: the checks of a
 * deployment's `rollout:` and of `windows/*.yaml` in the fleet repository (shape errors keep
 * ORCH_FLEET_SCHEMA), and the pure rollout state machine. Add entries; never rename or remove one.
 */
export const rolloutCodes = {
  ROLLOUT_WAVE_INVALID: {
    summary: 'A rollout wave does not name exactly one of `selector`, `devices` or `percent`.',
    hint: 'Give each wave one way of choosing its devices; see docs/rollout.md.',
  },
  ROLLOUT_WAVE_NAME_DUPLICATE: {
    summary: 'Two waves of a rollout have the same name.',
    hint: 'Wave names must be unique within a deployment (they name the wave in `margo rollout promote`).',
  },
  ROLLOUT_WAVE_DEVICE_TWICE: {
    summary: 'A device is listed in the `devices` of two waves of a rollout.',
    hint: 'A device changes in one wave only; remove it from one of the lists.',
  },
  ROLLOUT_WAVE_DEVICE_NOT_TARGET: {
    summary:
      'A rollout wave lists a device that is not a target of the deployment; the orchestrator leaves it out of the rollout.',
    hint: 'Target the device too (`--device` or a matching `--selector`), or remove it from the wave (`--canary`).',
  },
  ROLLOUT_THRESHOLD_INVALID: {
    summary: 'A rollout `failureThreshold` does not give exactly one of `count` or `percent`.',
    hint: 'Write `failureThreshold: {count: 1}` or `failureThreshold: {percent: 10}`.',
  },
  ROLLOUT_WINDOW_TIME_INVALID: {
    summary: 'A maintenance window schedule has the same start and end time.',
    hint: 'Use HH:MM-HH:MM with different times (an end before the start crosses midnight; `00:00`-`24:00` is the whole day).',
  },
  ROLLOUT_WINDOW_TIMEZONE_INVALID: {
    summary: 'A maintenance window names a time zone that is not a known IANA time zone.',
    hint: 'Use an IANA name such as Europe/Berlin, America/Chicago or UTC.',
  },
  ROLLOUT_STATE_INVALID: {
    summary: 'A stored rollout state is not one this version understands.',
    hint: 'The rollout state file in the fleet repository was edited by hand or written by a newer version; restore it from git history.',
  },
  ROLLOUT_WAITING: {
    summary:
      'The device is a target of a deployment being installed by a rollout and has not been told yet (its wave has not started, or it waits for its window, the cap or an on-site hold).',
    hint: 'Nothing to fix: `margo rollout status NAME` shows the waves and what each waits for.',
  },
  ROLLOUT_TRANSITION_INVALID: {
    summary:
      'The rollout cannot take this step in its current phase (e.g. resume a rollout that is not paused).',
    hint: 'Check the phase with `margo rollout status`.',
  },
} as const satisfies CodeTable;
