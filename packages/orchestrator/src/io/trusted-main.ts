import { toMargoError } from '@margo-gitops/spec';
import type { CurrentDeployment } from '../core/desired-state.js';
import { readDeviceMain, type DeviceMain } from './device-repo.js';

/**
 * Checks that the whole tree of a device's `main` commit is desired state the orchestrator signed
 * for that device (trust's createSignedStateAuditor fits): returns its version and expiry, or
 * throws the TRUST_MANIFEST_* MargoError.
 */
export type SignedStateAuditor = (
  deviceId: string,
  files: ReadonlyMap<string, Buffer>,
) => { version: bigint; expiresAt: number } | Promise<{ version: bigint; expiresAt: number }>;

/** What the orchestrator itself recorded after its last pass on a device. */
export interface OwnRecord {
  /** The commit it last wrote, or recognised as its own signed state. */
  signedOid?: string;
  /** Decimal version of the manifest in that commit. */
  manifestVersion?: string;
  manifestExpiresAt?: number;
}

/** The device's desired state as far as the orchestrator vouches for it. */
export interface TrustedMain {
  /** What the device runs as far as the orchestrator decided (held deployments keep these bytes). */
  current: ReadonlyMap<string, CurrentDeployment>;
  /** The commit those come from; null when there is none. */
  signedOid: string | null;
  /** True when `main` itself is that commit (or, unsigned, simply `main`). */
  mainIsOwn: boolean;
  /** Highest manifest version the orchestrator knows it signed for the device (0n: none). */
  version: bigint;
  expiresAt?: number;
  /** `main` holds a commit the orchestrator did not sign (edited, replaced, rolled back, deleted). */
  foreign?: { commit: string | null; code: string; reason: string };
}

const big = (v: string | undefined): bigint => (v && /^[0-9]{1,20}$/.test(v) ? BigInt(v) : 0n);

/**
 * Decides what the orchestrator may build on for one device. Its inputs are its own record and
 * commits it can prove it signed, never the bytes an attacker can put on `main`: otherwise holding
 * a deployment (intent broken, catalog entry invalid, no capabilities yet) would re-sign whatever
 * was pushed there, and a version written there could exhaust the version space.
 *
 * - `main` is the recorded commit: trusted as it is (Git objects are content-addressed).
 * - signed mode, another commit whose manifest the auditor accepts for this device, not older than
 *   the record: the orchestrator's own (state lost or restored from a backup).
 * - anything else is foreign: the record's commit (read by oid) is what the device keeps; without a
 *   readable record, nothing.
 */
export async function trustedMain(input: {
  gitdir: string;
  deviceId: string;
  main: DeviceMain;
  record: OwnRecord | undefined;
  signed: boolean;
  auditor?: SignedStateAuditor;
}): Promise<TrustedMain> {
  const { main, record, gitdir, deviceId } = input;
  const recorded = big(record?.manifestVersion);
  const own = (expiresAt?: number, version = recorded): TrustedMain => ({
    current: main.current,
    signedOid: main.oid,
    mainIsOwn: true,
    version,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  });
  if (main.oid !== null && record?.signedOid === main.oid) return own(record.manifestExpiresAt);
  if (!input.signed) return own(undefined);
  if (main.oid === null && !record?.signedOid) return own(undefined); // a new device
  let code = 'ORCH_DEVICE_REPO_TAMPERED';
  let reason: string;
  if (main.oid === null) reason = 'main was deleted';
  else if (main.irregular.length)
    reason = `the tree holds ${main.irregular[0]}, which the orchestrator never writes`;
  else if (!input.auditor) reason = 'it is not the commit the orchestrator last wrote';
  else {
    try {
      const a = await input.auditor(deviceId, main.files);
      if (a.version >= recorded) return own(a.expiresAt, a.version);
      code = 'TRUST_MANIFEST_ROLLBACK';
      reason = `it is an older signed state (version ${a.version}, the orchestrator last signed ${recorded})`;
    } catch (e) {
      const err = toMargoError(e);
      code = err.code;
      reason = err.message;
    }
  }
  const foreign = { commit: main.oid, code, reason };
  if (record?.signedOid) {
    const kept = await readDeviceMain(gitdir, record.signedOid).catch(() => undefined);
    if (kept)
      return {
        current: kept.current,
        signedOid: record.signedOid,
        mainIsOwn: false,
        version: recorded,
        ...(record.manifestExpiresAt !== undefined ? { expiresAt: record.manifestExpiresAt } : {}),
        foreign,
      };
  }
  return { current: new Map(), signedOid: null, mainIsOwn: false, version: recorded, foreign };
}
