import type { LabelSelector } from './types.js';

/** Days of a maintenance window schedule, in the window's own time zone. */
export type WeekDay = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEK_DAYS: readonly WeekDay[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** What a wave waits for before the next wave may start. */
export interface RolloutGate {
  /** Every device of the wave installed and still healthy for this long. Default 0. */
  healthySeconds: number;
  /** The wave also needs an operator's `margo rollout promote`. Default false. */
  manual: boolean;
}

/**
 * One wave of a rollout. Exactly one of `selector`, `devices` and `percent` is set: the wave takes
 * the targets not placed by an earlier wave that match the selector, that are listed, or that
 * percentage (rounded up) of those left.
 */
export interface RolloutWaveSpec {
  /** Unique within the rollout; default `wave-<n>` (1-based). */
  name: string;
  selector?: LabelSelector;
  devices?: string[];
  /** 0 < percent <= 100, of the targets left when the wave is planned. */
  percent?: number;
  gate: RolloutGate;
}

/** Failures that stop a rollout: a device count, or a percentage of its targets (rounded up, at least 1). */
export type FailureThreshold = { count: number } | { percent: number };

/** `rollout:` of a deployment intent, normalised (defaults filled in). */
export interface RolloutSpec {
  /** Devices of this deployment changing at once; absent: no cap but the fleet-wide one. */
  maxConcurrent?: number;
  waves: RolloutWaveSpec[];
  /** Default `{count: 1}`: the first failed device stops the rollout. */
  failureThreshold: FailureThreshold;
  /** What a tripped threshold does. Default `pause`. */
  onFailure: 'pause' | 'rollback';
}

/** One recurring slot: on each of `days`, from `start` to `end` (local `HH:MM`; an end before the start ends the next day; an end of `24:00` is midnight). */
export interface WindowSlot {
  days: WeekDay[];
  start: string;
  end: string;
}

/** `windows/<name>.yaml` in the fleet repository: when changes may reach a group of devices. */
export interface MaintenanceWindow {
  kind: 'MaintenanceWindow';
  name: string;
  description?: string;
  /** The devices it governs, by their fleet labels; `{}` selects every device. */
  selector: LabelSelector;
  /** IANA time zone the slots are written in, e.g. Europe/Berlin. */
  timeZone: string;
  schedule: WindowSlot[];
}
