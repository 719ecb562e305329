/**
 * What the agent needs from a transport: where its desired state comes from (`DesiredSource`) and
 * where its reports go (`StatusSink`). Planning, applying and reporting only see these two
 * interfaces, so a device can change transport (Git today, the Margo REST API next) without
 * touching them.
 *
 * Why this cut, and how a REST implementation (rc.2 Workload Management API) slots in:
 *
 * - **Polling is separate from loading.** `poll()` is the cheap "did anything change" question
 *   asked every interval: a Git fetch that moves no ref, a `GET /api/v1/deployments` with
 *   `If-None-Match` answered 304. It returns an opaque `version` token; the agent compares it with
 *   the token it last acted on (persisted in its own state folder) and loads only when they
 *   differ, a retry is due, or it just started. Git's token is the commit id; REST's would name the
 *   manifest (its `manifestVersion` and ETag) and is never interpreted by planning or applying:
 *   they record it in intents, applied records and the status `commit` extension as "the desired
 *   state this came from".
 * - **Loading is separate from verifying.** `load(version)` fails only for transport reasons (the
 *   agent logs it and tries again on the next poll). Everything that makes a desired state
 *   untrustworthy is thrown by `verify()`: a Git tree with links or a bad signed manifest; over
 *   REST a document or bundle whose sha256 differs from the manifest's digest, a `manifestVersion`
 *   not strictly greater than the last applied one, a signed manifest (carried in the
 *   `x-margo-gitops-extensions` member) that does not cover the files. A refusal is reported once
 *   on the deployments of the last good state, which keep running, and the version is not retried
 *   until a new one arrives. Between the two the agent tells the status sink which version it is
 *   acting on (`StatusSink.observe`), so even a refused version gets a report.
 * - **The snapshot is whole files, exact bytes, by path.** `deployments/<name>.yaml` and whatever
 *   else the state holds (the signed manifest, packages referenced by path). Git reads its tree;
 *   REST fetches the bundle or each document by digest (a 404 is a transport error, never a
 *   deletion: deletion is absence from the manifest) and lays them out under `deployments/`.
 *   The verifier (signed manifest) sees exactly the bytes the planner parses.
 * - **Offline is the source's business.** `lastKnown()` is the newest version it can still load
 *   without the server (Git: the last fetched commit; REST: a persisted copy of the last verified
 *   documents), so a device restarted while offline converges to it.
 * - **Position is persisted after acting.** The agent records the version it acted on after
 *   planning and applying, then calls `settled(version)`: a REST source stores its ETag and
 *   `manifestVersion` durably only then (spec client loop), so a crash mid-apply loads it again.
 *
 * Errors are MargoErrors with stable codes: the transport's own where it has one (Git:
 * GIT_REMOTE_UNREACHABLE, GIT_AUTH_FAILED, ...), else AGENT_REPO_UNREACHABLE from `poll`;
 * `verify` throws the verifier's code (TRUST_MANIFEST_*, TRUST_TREE_ENTRY_INVALID, ...), else
 * AGENT_VERIFICATION_FAILED.
 */
export interface DesiredSource {
  /** Prepares local storage (Git: the bare repository in the state folder). Called once. */
  init(): Promise<void>;
  /** Asks the server for the current desired state's version; null when it has none yet. */
  poll(): Promise<SourcePoll>;
  /** The newest version loadable without the server (offline restart), or null. Never throws. */
  lastKnown(): Promise<string | null>;
  /** Reads the state named by `version` (from `poll` or `lastKnown`); transport errors only. */
  load(version: string): Promise<DesiredSnapshot>;
  /** The agent has acted on `version` (applied it, or refused it) and recorded that. Optional. */
  settled?(version: string): Promise<void>;
}

export interface SourcePoll {
  version: string | null;
  /** True when this poll brought something new to the device (for logs; the agent decides by version). */
  changed: boolean;
}

export interface DesiredSnapshot {
  version: string;
  /** Every file of the desired state by path (`deployments/*.yaml`, the signed manifest, ...), exact bytes. */
  files: Map<string, Buffer>;
  /**
   * Checks the snapshot before anything of it is used; throws a MargoError to refuse it. Resolves
   * with what the verification of the signed manifest accepted (expiry, manifest version).
   */
  verify(): Promise<VerifiedDesiredState | undefined>;
}

/** What the verification of an accepted desired state tells the agent. */
export interface VerifiedDesiredState {
  /**
   * The signed state is not to be trusted from then on (manifest `expiresAt`). Checked on every
   * poll, so a repository frozen on an accepted commit is noticed without a new commit.
   */
  expiresAt?: Date;
  /** `manifestVersion` of the signed manifest accepted (decimal), reported as adoptedManifestVersion. */
  manifestVersion?: string;
}

/** Verifies a desired-state commit (signed manifest). Throw a MargoError to refuse the commit. */
export type Verifier = (
  files: Map<string, Buffer>,
  state: { deviceId: string; commit: string },
) => Promise<void | VerifiedDesiredState>;

/**
 * Where status goes. Reports are keyed by their path in the Margo status layout
 * (`deployments/<deploymentId>.json` DeploymentStatus, `capabilities.json` DeviceCapabilities),
 * whole documents, and queued durably by `report()` before it returns; `flush()` delivers what is
 * queued. Git commits everything queued as one commit on the `status` branch and pushes it, with
 * observed.json and signatures.json; a REST sink would POST `/api/v1/deployments/{id}/status` for
 * each changed deployment file and PUT `/api/v1/capabilities/{deviceId}` for the capabilities,
 * from the same on-disk outbox, so the offline journal and crash safety do not depend on the
 * transport. Unchanged content queues nothing (no heartbeats).
 */
export interface StatusSink {
  /** Loads what was reported before (remote when reachable, else local) plus the outbox. */
  init(): Promise<void>;
  /** Paths of every report the server has or will have once the outbox is delivered. */
  paths(): string[];
  /** Current (queued or delivered) content of a report. */
  get(path: string): string | undefined;
  /**
   * Records the desired-state version the agent acts on (applied or refused), so the server can
   * tell a report is about it even when nothing else changes. False when it already was.
   */
  observe(version: string): boolean;
  /** Queues new contents (null deletes); false (nothing queued) when equal to what is reported. */
  report(files: Record<string, string | null>, message: string): boolean;
  /** Delivers everything queued; concurrent calls coalesce. Throws when the server is unreachable. */
  flush(): Promise<boolean>;
  /** True while something queued or committed locally has not reached the server. */
  hasUnpushed(): boolean;
  /** Number of queued, not yet delivered changes. */
  pendingChanges(): number;
}
