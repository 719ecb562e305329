import type { FleetDevice } from '@margo-gitops/spec';
import { desiredForDevice, type ReconcileContext } from '../core/desired-state.js';
import type { Changes } from '../core/device-commit.js';
import type { DesiredStateSigner } from '../orchestrator-types.js';
import { deploymentsTreeOf, readDeviceMain, type DeviceReport } from './device-repo.js';
import { readRef } from './git-objects.js';
import type { DeviceState } from './state-store.js';
import { trustedMain, type SignedStateAuditor, type TrustedMain } from './trusted-main.js';
import { writeDesiredState } from './write-desired.js';

/** What one pass brings to every device it syncs (the orchestrator's view of its sources and keys). */
export interface SyncPass {
  ctx: ReconcileContext;
  reason: string;
  fleetOid: string | null;
  catalogOid: string | null;
  /** The signing key's epoch; a device last signed under another one is signed again. */
  epoch: string | undefined;
  signer?: DesiredStateSigner;
  auditor?: SignedStateAuditor;
  identity?: { name: string; email: string };
  now(): number;
  /** A manifest expiring sooner than this is signed again. */
  resignBeforeExpiryMs: number;
  intentAuthor(deployment: string): Promise<{ name: string; email: string } | undefined>;
}

/** One device's part: its repository, its record and everything else its files depend on. */
export interface SyncDeviceInput {
  gitdir: string;
  device: FleetDevice;
  prev: DeviceState | undefined;
  /**
   * The whole input of its desired state but `main` (fleet content, catalog, its status commit,
   * options, its rollout key). Equal key, equal `main` and no error last time: nothing to do.
   */
  keyOf(statusOid: string | null): string;
  /** The device's report for this `status` commit (read and checked when it moved). */
  report(statusOid: string | null): Promise<DeviceReport>;
  /** Called when `main` holds a commit the orchestrator did not sign. */
  onForeign(foreign: NonNullable<TrustedMain['foreign']>): void;
  /** Highest status sequence accepted so far (after report()). */
  statusSeq(): bigint | undefined;
}

export type SyncDeviceResult =
  | { result: 'unchanged'; state?: DeviceState }
  | { result: 'committed'; state: DeviceState; commit: string; changes: Changes };

/**
 * Brings one device's `main` to its desired state: reads its refs, skips it when nothing it
 * depends on moved, builds only on what the orchestrator can prove it signed (trustedMain),
 * renders, and commits (signed) when the tree, the signature's key or its expiry calls for it.
 * Returns the device's new record (absent when it was skipped); the caller keeps it.
 */
export async function syncDevice(pass: SyncPass, d: SyncDeviceInput): Promise<SyncDeviceResult> {
  const { gitdir, prev } = d;
  const id = d.device.id;
  const [mainOid, statusOid] = await Promise.all([readRef(gitdir, 'main'), readRef(gitdir, 'status')]);
  const keyBase = d.keyOf(statusOid);
  const resignAt = (expiresAt: number | undefined) =>
    pass.signer !== undefined &&
    expiresAt !== undefined &&
    expiresAt - pass.now() < pass.resignBeforeExpiryMs;
  if (
    prev &&
    !prev.error &&
    prev.inputKey === `${keyBase}|${mainOid ?? '-'}` &&
    !resignAt(prev.manifestExpiresAt)
  )
    return { result: 'unchanged' };

  const report = await d.report(statusOid);
  const main = await readDeviceMain(gitdir, mainOid);
  const trusted = await trustedMain({
    gitdir,
    deviceId: id,
    main,
    record: prev,
    signed: pass.signer !== undefined,
    ...(pass.auditor ? { auditor: pass.auditor } : {}),
  });
  if (trusted.foreign) d.onForeign(trusted.foreign);
  const desired = desiredForDevice(pass.ctx, d.device, {
    ...(report.capabilities ? { capabilities: report.capabilities } : {}),
    current: trusted.current,
  });
  const newTree = await deploymentsTreeOf(desired.files);
  const state: DeviceState = {
    ...(prev ?? { mainOid: null, statusOid: null, outcomes: [], changedAt: {} }),
    outcomes: desired.outcomes,
    statusOid,
  };
  delete state.error;
  const seq = d.statusSeq();
  if (seq !== undefined) state.statusSeq = seq.toString();
  if (trusted.foreign) state.foreignMain = { ...trusted.foreign, at: pass.now() };
  if (trusted.signedOid) state.signedOid = trusted.signedOid;
  else delete state.signedOid;
  if (trusted.version > 0n) state.manifestVersion = trusted.version.toString();
  if (trusted.expiresAt !== undefined) state.manifestExpiresAt = trusted.expiresAt;
  const needsCommit =
    newTree !== main.deploymentsTree ||
    !trusted.mainIsOwn ||
    (mainOid !== null &&
      pass.signer !== undefined &&
      pass.epoch !== undefined &&
      prev?.signedWith !== pass.epoch) ||
    resignAt(trusted.expiresAt) ||
    (mainOid === null && desired.files.size > 0);
  if (!needsCommit) {
    state.mainOid = mainOid;
    state.inputKey = `${keyBase}|${mainOid ?? '-'}`;
    return { result: 'unchanged', state };
  }
  const written = await writeDesiredState({
    gitdir,
    deviceId: id,
    mainOid,
    trusted,
    files: desired.files,
    outcomes: desired.outcomes,
    reason: pass.reason,
    fleetOid: pass.fleetOid,
    catalogOid: pass.catalogOid,
    ...(pass.signer ? { signer: pass.signer } : {}),
    ...(pass.identity ? { identity: pass.identity } : {}),
    now: pass.now(),
    intentAuthor: pass.intentAuthor,
  });
  const { changes, commit } = written;
  if (written.manifestVersion !== undefined) state.manifestVersion = written.manifestVersion;
  if (written.manifestExpiresAt !== undefined) state.manifestExpiresAt = written.manifestExpiresAt;
  const changedAt = { ...state.changedAt };
  for (const n of [...changes.added, ...changes.updated]) changedAt[n] = pass.now();
  for (const n of changes.removed) delete changedAt[n];
  state.changedAt = changedAt;
  state.mainOid = commit;
  state.signedOid = commit;
  if (pass.signer && pass.epoch !== undefined) state.signedWith = pass.epoch;
  state.inputKey = `${keyBase}|${commit}`;
  return { result: 'committed', state, commit, changes };
}
