import { dirname } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import {
  normaliseRevokedSigners,
  parseManifestVersion,
  parseSignedManifest,
  type ManifestVersion,
  type VerifiedManifest,
} from './manifest.js';
import { ensurePrivateDir, readFileIfExists, writeFileAtomic } from './secure-fs.js';

/**
 * The next manifest version for a device: greater than the previous one AND at least the current
 * time in microseconds. Tying versions to the clock keeps them increasing even when the
 * orchestrator's own bookkeeping is lost or restored from an old backup (devices would otherwise
 * refuse the repeated versions as rollbacks).
 *
 * @example
 * const version = nextManifestVersion(lastWrittenManifestBytes);
 */
export function nextManifestVersion(
  previous?: ManifestVersion | Uint8Array | null,
  now: Date = new Date(),
): bigint {
  let prev = 0n;
  if (previous instanceof Uint8Array) {
    try {
      prev = parseManifestVersion(parseSignedManifest(previous).manifest.version);
    } catch {
      prev = 0n;
    }
  } else if (previous !== undefined && previous !== null) prev = parseManifestVersion(previous);
  const clock = BigInt(now.getTime()) * 1000n;
  return prev + 1n > clock ? prev + 1n : clock;
}

/** What the agent persists about the last manifest it applied. */
export interface AppliedManifestRecord {
  deviceId: string;
  version: string;
  digest: string;
  appliedAt: string;
  commit?: string;
  /**
   * Union of `revokedSigners` of every manifest accepted so far (sorted): signing certificates
   * this device refuses from now on. Only ever grows; absent until a manifest revoked one.
   */
  revokedSigners?: string[];
}

/**
 * Device-side anti-rollback memory: the version and digest of the last applied manifest, stored
 * atomically (0600) so it survives restarts. Feed `lastAppliedVersion`/`lastAppliedDigest` of
 * verifyManifest from it; call `record` only after the desired state was applied.
 *
 * @example
 * const mem = new AppliedManifestStore(join(stateDir, 'identity', 'applied-manifest.json'));
 * const last = await mem.read();
 * const v = verifyManifest(bytes, { caCertPem, deviceId, files, lastAppliedVersion: last?.version, lastAppliedDigest: last?.digest });
 * if (!v.unchanged) { await apply(); await mem.record(deviceId, v, commit); }
 */
export class AppliedManifestStore {
  constructor(readonly path: string) {}

  async read(): Promise<AppliedManifestRecord | undefined> {
    const b = await readFileIfExists(this.path);
    if (!b) return undefined;
    try {
      const r = JSON.parse(b.toString('utf8')) as AppliedManifestRecord;
      parseManifestVersion(r.version);
      if (r.revokedSigners !== undefined) {
        if (!Array.isArray(r.revokedSigners)) throw new Error('revokedSigners is not a list');
        normaliseRevokedSigners(r.revokedSigners);
      }
      return r;
    } catch (e) {
      // refusing to start is safer than forgetting the version (which would re-open rollback)
      throw new MargoError('IO_ERROR', `${this.path} is corrupt; restore it or re-enrol the device`, {
        cause: e,
        retry: 'never',
      });
    }
  }

  /**
   * Records an applied manifest; refuses to move backwards (TRUST_MANIFEST_ROLLBACK). The revoked
   * signers of the manifest are added to those already remembered, never replacing them: a later
   * manifest cannot un-revoke a key.
   */
  async record(
    deviceId: string,
    verified: Pick<VerifiedManifest, 'version' | 'digest'> & {
      manifest?: { revokedSigners?: readonly string[] };
    },
    commit?: string,
    now = new Date(),
  ): Promise<void> {
    const last = await this.read();
    if (last && parseManifestVersion(last.version) > verified.version) {
      throw new MargoError(
        'TRUST_MANIFEST_ROLLBACK',
        `refusing to record version ${verified.version} below ${last.version}`,
      );
    }
    await ensurePrivateDir(dirname(this.path));
    const revokedSigners = normaliseRevokedSigners([
      ...(last?.revokedSigners ?? []),
      ...(verified.manifest?.revokedSigners ?? []),
    ]);
    const rec: AppliedManifestRecord = {
      deviceId,
      version: verified.version.toString(),
      digest: verified.digest,
      appliedAt: now.toISOString(),
      ...(commit ? { commit } : {}),
      ...(revokedSigners.length ? { revokedSigners } : {}),
    };
    await writeFileAtomic(this.path, JSON.stringify(rec, null, 2) + '\n', 0o600);
  }
}
