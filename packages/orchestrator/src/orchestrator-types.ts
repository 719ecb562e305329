/** Options and results of the Orchestrator (orchestrator.ts). */
import type { Logger } from 'pino';
import type { StatusVerifier } from './io/device-repo.js';
import type { SignedStateAuditor } from './io/trusted-main.js';
import type { OrchestratorTelemetry } from './telemetry.js';

/**
 * Signs a device's desired files: receives the complete set (`deployments/*.yaml`) and returns the
 * set to commit, normally with `margo-manifest.json` added. `prev.version` is the highest version
 * the orchestrator knows it signed for the device (0n when none); the new one must be greater.
 */
export type DesiredStateSigner = (
  deviceId: string,
  files: Map<string, Buffer>,
  prev: { version: bigint },
) => Promise<Map<string, Buffer>>;

export interface OrchestratorOptions {
  /** The data folder (`margo-data/`); state is kept in `<dataDir>/state/`. */
  dataDir: string;
  /** Folder holding `catalog.git`, `fleet.git` and `devices/<id>.git`. Default `<dataDir>/repos`. */
  reposRoot?: string;
  logger: Logger;
  signer?: DesiredStateSigner;
  /**
   * Recognises the orchestrator's own signed state on a device's `main` when it has no record of
   * that commit (state lost or restored from a backup): trust's createSignedStateAuditor. Without
   * it, only the commit the orchestrator last wrote is its own.
   */
  auditor?: SignedStateAuditor;
  /**
   * Identifies what the signer signs with now (signing certificate, revoked signers). Read once per
   * pass; when it differs from what a device's current manifest was signed with (after
   * `margo pki rotate-signing-key`), the device is re-signed at once, so a revocation reaches every
   * device on the next pass instead of at the next change or renewal.
   */
  signerEpoch?: () => Promise<string> | string;
  /** Period of the full reconcile in ms; 0 disables the timer. Default 60000. */
  intervalMs?: number;
  /** Device repositories written at the same time. Default 8. */
  concurrency?: number;
  /** Clock (ms since epoch); for tests. */
  now?: () => number;
  /**
   * host[:port] of the server's embedded OCI registry as devices reach it (the host of its public
   * URL): package artifacts are rendered as `oci://<registryHost>/<appId>/<component>`. A function
   * is asked at each pass (the address may be known only once the server listens).
   */
  registryHost?: string | (() => string);
  /** Progress of the device fan-out of each pass. */
  onProgress?: (p: { done: number; total: number; reason: string }) => void;
  /** A signed desired state is re-signed when its manifest expires within this many ms. Default 2 days. */
  resignBeforeExpiryMs?: number;
  /** Identity of commits the orchestrator makes on its own. */
  identity?: { name: string; email: string };
  /**
   * Checks the signatures of every status report (trust's createStatusVerifier). Files that are
   * unsigned, signed by another device, or forged are ignored and flagged (logged with their code,
   * listed in the fleet status). Without it, status is trusted as the Git server authorised it.
   */
  statusVerifier?: StatusVerifier;
  /**
   * Fleet-wide cap on devices changing at once across every rollout (server setting
   * `maxConcurrentChanges`). With it, a deployment without `rollout:` changes through an implicit
   * single-wave rollout so the cap holds everywhere (docs/rollout.md).
   */
  maxConcurrentChanges?: number;
  /**
   * Told of every pass, commit, rollout step and fleet change (metrics, traces, live console
   * events; telemetry.ts). Default: none. A throwing callback is logged and never breaks a pass.
   */
  telemetry?: OrchestratorTelemetry;
}

/** Outcome of one reconcile pass. */
export interface ReconcileSummary {
  reason: string;
  fleetCommit: string | null;
  catalogCommit: string | null;
  /** Devices looked at. */
  devices: number;
  /** Devices whose desired state got a new commit. */
  committed: number;
  /** Devices skipped because nothing they depend on changed. */
  unchanged: number;
  failed: { deviceId: string; code: string; message: string }[];
  durationMs: number;
}

/** What the embedded Git server reports after a push (packages/git PushEvent fits). */
export interface PushNotice {
  /** `catalog.git`, `fleet.git`, `devices/<id>.git`. */
  repo: string;
  ref: string;
  deviceId?: string;
}
