import type { Logger } from 'pino';
import type { ApplicationDeployment, Component, ParamValue, ProfileType } from '@margo-gitops/spec';
import type { OtelInjection } from '../otel/otel-settings.js';
import type { DriverName, DriverRecord } from '../state/state-store.js';

/** Finer install progress shown in the component status. */
export type Progress = 'prepared' | 'downloading' | 'configuring' | 'deployed';

/** Registry credentials given to a deployment (parameters targeting the reserved MARGO_REGISTRY_* pointers). */
export interface RegistryCredentials {
  server: string;
  username: string;
  password: string;
}

export interface ComponentContext {
  deployment: ApplicationDeployment;
  component: Component;
  /** Unsealed (pointer, value) pairs for this component, reserved pointers removed. */
  values: [string, ParamValue][];
  registry?: RegistryCredentials;
  /** Files of the desired commit (relative packageLocation / keyLocation resolve against them). */
  repoFiles: Map<string, Buffer>;
  /** Folder owned by this component (`<stateDir>/<driver>/<deploymentId>/<component>`). */
  workDir: string;
  /** Seconds; component timeout or the agent default. */
  timeoutSeconds: number;
  /** The driver record of the currently applied version, when there is one. */
  previous?: DriverRecord;
  /** The device's OpenTelemetry collector, when configured: OTEL_* for every container (otel/). */
  otel?: OtelInjection;
  logger: Logger;
  progress: (p: Progress) => void;
}

/** Driver-specific result of `prepare`, handed to `apply`. */
export type Prepared = Record<string, unknown>;

export interface RemoveContext {
  record: DriverRecord;
  removeVolumes: boolean;
  logger: Logger;
  timeoutSeconds: number;
}

export interface Observation {
  /** False when the workload is gone or not running as applied (drift). */
  ok: boolean;
  detail?: string;
}

/**
 * One runtime (Compose, Helm). Every method is idempotent: re-running after a crash at any point
 * converges. Failures are MargoErrors with AGENT_ codes.
 */
export interface Driver {
  readonly name: DriverName;
  supports(type: ProfileType): boolean;
  /** Checks that the runtime is usable (detects `docker compose` vs `docker-compose`...). */
  init(logger: Logger): Promise<void>;
  /** Obtains and verifies what the component needs (download, signature, unpack) without touching running workloads. */
  prepare(ctx: ComponentContext): Promise<Prepared>;
  /** Installs or updates the component in place; returns the record needed to observe or remove it later. */
  apply(ctx: ComponentContext, prepared: Prepared): Promise<DriverRecord>;
  remove(ctx: RemoveContext): Promise<void>;
  /** Whether the applied workload still exists and runs (drift detection). */
  observe(record: DriverRecord, logger: Logger): Promise<Observation>;
  /**
   * Optional: observes many records at once, in their order (one runtime query for all, so that a
   * poll's drift check does not cost one query per workload). Same results as `observe` on each.
   */
  observeMany?(records: DriverRecord[], logger: Logger): Promise<Observation[]>;
}
