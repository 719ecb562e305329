/**
 * Ready-made functions for the seams of the orchestrator (`DesiredStateSigner`) and the agent
 * (`Verifier`, `unseal`, `signStatus`), so composing them is one line each.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { KeyAndCert } from './ca.js';
import { MANIFEST_FILE, createSignedManifest, verifyManifest, type VerifiedManifest } from './manifest.js';
import { AppliedManifestStore, nextManifestVersion } from './manifest-state.js';
import { SIGNATURES_FILE, signPayload, verifySignedFiles } from './payload-signature.js';
import { readRevokedSigners } from './pki-store.js';
import { RevocationList } from './revocation.js';
import { unseal } from './sealed.js';
import type { SpiffeIdentity } from './spiffe.js';
import { readSpiffeIdentity } from './svid.js';

export interface ManifestSignerOptions {
  /** Lifetime of each manifest; default 7 days. Re-sign well before (orchestrator: 2 days). */
  ttlMs?: number;
  now?: () => Date;
}

/** What a manifest is signed with: a key, or the current signing state with the revoked signers it lists. */
export type ManifestSigning = KeyAndCert | { signing: KeyAndCert; revokedSigners: string[] };

/**
 * Orchestrator: `(deviceId, files, prev) => files + margo-manifest.json`, signed with the current
 * signing key. Pass a getter to pick up a rotated key without restarting; given the signing state
 * (`loadSigningState`), every manifest also carries the revoked signers.
 *
 * @example
 * new Orchestrator({ dataDir, logger, signer: createManifestSigner(() => loadSigningState(pki.dir)) });
 */
export function createManifestSigner(
  signing: ManifestSigning | (() => ManifestSigning | Promise<ManifestSigning>),
  opts: ManifestSignerOptions = {},
): (
  deviceId: string,
  files: Map<string, Buffer>,
  prev: { version: number | bigint | string },
) => Promise<Map<string, Buffer>> {
  const ttl = opts.ttlMs ?? 7 * 86_400_000;
  return async (deviceId, files, prev) => {
    const current = typeof signing === 'function' ? await signing() : signing;
    const key = 'signing' in current ? current.signing : current;
    const revokedSigners = 'signing' in current ? current.revokedSigners : [];
    const now = opts.now?.() ?? new Date();
    const out = new Map(files);
    out.delete(MANIFEST_FILE);
    const previous =
      prev.version === 0 || prev.version === 0n || prev.version === '0' ? undefined : prev.version;
    const version = nextManifestVersion(previous, now);
    out.set(
      MANIFEST_FILE,
      createSignedManifest(
        {
          deviceId,
          files: out,
          version,
          expiresAt: new Date(now.getTime() + ttl),
          issuedAt: now,
          revokedSigners,
        },
        key,
      ),
    );
    return out;
  };
}

export { createDesiredStateVerifier, type DesiredStateVerifierOptions } from './desired-state-verifier.js';

/**
 * Orchestrator: `(deviceId, files) => { version, expiresAt }` for the whole tree of a device's
 * `main` (margo-manifest.json included), or throws the TRUST_MANIFEST_* MargoError. Used to tell
 * whether a commit the orchestrator has no record of is desired state it signed itself (after its
 * state was lost or restored from a backup). An expired manifest still counts (it only needs
 * re-signing); a signer certificate that is not valid now does not.
 *
 * @example
 * new Orchestrator({ dataDir, logger, signer, auditor: createSignedStateAuditor({ caCertPem: pki.ca.certPem }) });
 */
export function createSignedStateAuditor(opts: {
  caCertPem: string;
  /** `<data>/pki`: signers listed in its revoked-signers.json never count (re-read per audit). */
  pkiDir?: string;
  now?: () => Date;
}): (
  deviceId: string,
  files: ReadonlyMap<string, Buffer>,
) => Promise<{ version: bigint; expiresAt: number }> {
  return async (deviceId, files) => {
    const v = verifyManifest(files.get(MANIFEST_FILE), {
      caCertPem: opts.caCertPem,
      deviceId,
      files,
      ignoreExpiry: true,
      ...(opts.pkiDir ? { revokedSigners: await readRevokedSigners(opts.pkiDir) } : {}),
      now: opts.now?.() ?? new Date(),
    });
    return { version: v.version, expiresAt: Date.parse(v.manifest.expiresAt) };
  };
}

/**
 * Agent: `(bytes) => '<cert>;<signature>'` for status files.
 *
 * @example
 * new Agent({ config, signStatus: createStatusSigner(e.keyPem, e.certPem) });
 */
export function createStatusSigner(deviceKeyPem: string, deviceCertPem: string): (bytes: Buffer) => string {
  const key = createPrivateKey(deviceKeyPem);
  return (bytes) => signPayload(bytes, key, deviceCertPem);
}

/**
 * Agent: `(sealed) => plaintext` with the device key parsed once.
 *
 * @example
 * new Agent({ config, unseal: createUnsealer(e.keyPem) });
 */
export function createUnsealer(deviceKeyPem: string | KeyObject): (value: string) => string {
  const key = typeof deviceKeyPem === 'string' ? createPrivateKey(deviceKeyPem) : deviceKeyPem;
  return (value) => unseal(value, key);
}

/**
 * Orchestrator: `(deviceId, statusFiles) => { files, refused }` for the tree of a device's `status`
 * branch (signatures.json included). `files` holds only the verified files (without
 * signatures.json); `refused` lists the others with their codes, to be ignored and flagged. The
 * revocation list is re-read on every call.
 *
 * @example
 * const verifyStatus = createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir });
 * const { files, refused } = await verifyStatus('press-7', statusTree);
 */
export function createStatusVerifier(opts: {
  caCertPem: string;
  pkiDir: string;
  now?: () => Date;
}): (
  deviceId: string,
  files: ReadonlyMap<string, Buffer>,
) => Promise<{ files: Map<string, Buffer>; refused: { path: string; code: string; message: string }[] }> {
  const revocation = new RevocationList(opts.pkiDir);
  // API witness entries must come from this fleet manager's own SPIFFE ID (pki/spiffe.json).
  let identity: Promise<SpiffeIdentity> | undefined;
  return async (deviceId, files) => {
    const content = new Map(files);
    const sigs = content.get(SIGNATURES_FILE);
    content.delete(SIGNATURES_FILE);
    identity ??= readSpiffeIdentity(opts.pkiDir, opts.caCertPem);
    const r = verifySignedFiles(content, sigs, {
      caCertPem: opts.caCertPem,
      deviceId,
      revoked: await revocation.serials(),
      now: opts.now?.() ?? new Date(),
      witness: await identity,
    });
    return { files: new Map([...r.verified.keys()].map((p) => [p, content.get(p)!])), refused: r.refused };
  };
}
