import { MANIFEST_FILE, verifyManifest, type VerifiedManifest } from './manifest.js';
import { AppliedManifestStore } from './manifest-state.js';

export interface DesiredStateVerifierOptions {
  caCertPem: string;
  deviceId: string;
  /** Where the last accepted manifest is remembered, e.g. `<stateDir>/identity/applied-manifest.json`. */
  appliedManifestPath: string;
  now?: () => Date;
  /** Called for every accepted manifest (e.g. to log version and signer). */
  onVerified?: (v: VerifiedManifest) => void;
}

/**
 * Agent: `(files, {commit}) => Promise<void>` that verifies a desired-state commit (all files of the
 * tree, margo-manifest.json included) and throws the TRUST_MANIFEST_* MargoError to refuse it. The
 * accepted version is remembered at once, so an older commit can never be accepted afterwards
 * (even if applying the accepted one fails); re-checking the same commit is accepted. So are the
 * signing certificates it revokes: from then on whatever they sign is refused
 * (TRUST_MANIFEST_SIGNER_REVOKED), whatever its version.
 *
 * @example
 * new Agent({ config, verifier: createDesiredStateVerifier({ caCertPem, deviceId, appliedManifestPath }) });
 */
export function createDesiredStateVerifier(
  opts: DesiredStateVerifierOptions,
): (files: Map<string, Buffer>, state: { deviceId?: string; commit?: string }) => Promise<void> {
  const mem = new AppliedManifestStore(opts.appliedManifestPath);
  return async (files, state) => {
    const last = await mem.read();
    const v = verifyManifest(files.get(MANIFEST_FILE), {
      caCertPem: opts.caCertPem,
      deviceId: opts.deviceId,
      files,
      lastAppliedVersion: last?.version,
      lastAppliedDigest: last?.digest,
      revokedSigners: last?.revokedSigners ?? [],
      now: opts.now?.() ?? new Date(),
    });
    if (!v.unchanged) await mem.record(opts.deviceId, v, state.commit);
    opts.onVerified?.(v);
  };
}
