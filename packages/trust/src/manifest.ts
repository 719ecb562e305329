import { createHash, sign as rsaSign, verify as rsaVerify, X509Certificate } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import type { KeyAndCert } from './ca.js';
import { canonicalJson } from './canonical-json.js';
import { assertDeviceId } from './device-id.js';
import {
  SIGNER_OU,
  certificateSerial,
  certificateSubjectField,
  checkIssued,
  hasExtendedKeyUsage,
  normalisePem,
  normaliseSerial,
  notAfter,
  readCertificate,
} from './x509-native.js';

/** File name of the signed manifest at the root of a device repository's `main` branch. */
export const MANIFEST_FILE = 'margo-manifest.json';
export const MANIFEST_API_VERSION = 'trust.margo-gitops/v1';
export const MANIFEST_KIND = 'DesiredStateManifest';
/** Signature algorithm of manifests (RFC 9421 name): RSASSA-PKCS1-v1_5 with SHA-256. */
export const MANIFEST_SIGNATURE_ALGORITHM = 'rsa-v1_5-sha256';
const MAX_VERSION = (1n << 64n) - 1n;
/** Bounds the revocation list a manifest may carry (each rotation after a compromise adds one). */
export const MAX_REVOKED_SIGNERS = 1000;
const SERIAL_RE = /^(0|[1-9a-f][0-9a-f]{0,63})$/;

/**
 * Normalises, checks, de-duplicates and sorts certificate serials (hex) for `revokedSigners`.
 * Throws TRUST_MANIFEST_MALFORMED for anything that is not a hex serial or too many entries.
 */
export function normaliseRevokedSigners(serials: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const s of serials) {
    const n = typeof s === 'string' ? normaliseSerial(s.replace(/:/g, '')) : '';
    if (!SERIAL_RE.test(n))
      throw malformed(`revokedSigners entry ${JSON.stringify(String(s).slice(0, 80))} is not a hex serial`);
    out.add(n);
  }
  if (out.size > MAX_REVOKED_SIGNERS) throw malformed(`more than ${MAX_REVOKED_SIGNERS} revokedSigners`);
  return [...out].sort();
}

/** The signed content: what the orchestrator vouches for. */
export interface DesiredStateManifest {
  apiVersion: typeof MANIFEST_API_VERSION;
  kind: typeof MANIFEST_KIND;
  deviceId: string;
  /** Decimal string of an integer in [1, 2^64-1]; strictly increases per device. */
  version: string;
  issuedAt: string;
  expiresAt: string;
  /** Every file of the desired state except the manifest: path -> `sha256:<hex>`. */
  files: Record<string, string>;
  /**
   * Serials (lowercase hex, no leading zeros, sorted) of desired-state signing certificates the
   * orchestrator has revoked after a key compromise. A device remembers the union of these lists
   * from every manifest it accepts and refuses anything those certificates sign from then on.
   * Absent when empty, so manifests without revocations keep their earlier canonical form.
   */
  revokedSigners?: string[];
}

/** The margo-manifest.json document. */
export interface SignedManifest {
  manifest: DesiredStateManifest;
  signature: { algorithm: typeof MANIFEST_SIGNATURE_ALGORITHM; value: string };
  /** Signer certificate first (PEM); further entries reserved for intermediates. */
  signer: { certificates: string[] };
}

export type ManifestVersion = bigint | string | number;

/** Parses a manifest version (bigint, decimal string or safe integer) into a bigint in [1, 2^64-1]. */
export function parseManifestVersion(v: ManifestVersion): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^[1-9][0-9]{0,19}$/.test(v)) n = BigInt(v);
  else
    throw new MargoError(
      'TRUST_MANIFEST_VERSION_INVALID',
      `manifest version ${String(v).slice(0, 40)} is not an integer in [1, 2^64-1]`,
    );
  if (n < 1n || n > MAX_VERSION)
    throw new MargoError('TRUST_MANIFEST_VERSION_INVALID', `manifest version ${n} is not in [1, 2^64-1]`);
  return n;
}

/** `sha256:<hex>` of bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function assertTreePath(p: string): void {
  if (
    !p ||
    p.startsWith('/') ||
    p.includes('\\') ||
    p.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new MargoError(
      'TRUST_MANIFEST_MALFORMED',
      `desired-state path ${JSON.stringify(p.slice(0, 200))} is not a clean relative path`,
    );
  }
}

export interface BuildManifestInput {
  deviceId: string;
  /** Every file of the desired state (repository-relative, '/' separated). The manifest itself is ignored. */
  files: ReadonlyMap<string, Uint8Array>;
  version: ManifestVersion;
  expiresAt: Date | string;
  issuedAt?: Date | string;
  /** Serials of revoked desired-state signing certificates to carry (see DesiredStateManifest). */
  revokedSigners?: Iterable<string>;
}

/**
 * Builds the manifest object (pure). Sign it with signManifest.
 *
 * @example
 * const m = buildManifest({ deviceId: 'press-7', files, version: 42n, expiresAt: new Date(Date.now() + 7 * 86400e3) });
 */
export function buildManifest(input: BuildManifestInput): DesiredStateManifest {
  assertDeviceId(input.deviceId);
  const files: Record<string, string> = {};
  for (const p of [...input.files.keys()].sort()) {
    if (p === MANIFEST_FILE) continue;
    assertTreePath(p);
    files[p] = sha256Digest(input.files.get(p)!);
  }
  const expiresAt = new Date(input.expiresAt);
  const issuedAt = new Date(input.issuedAt ?? new Date());
  if (Number.isNaN(expiresAt.getTime()) || Number.isNaN(issuedAt.getTime())) {
    throw new MargoError('USAGE_ERROR', 'buildManifest: expiresAt/issuedAt must be dates');
  }
  const revokedSigners = normaliseRevokedSigners(input.revokedSigners ?? []);
  return {
    apiVersion: MANIFEST_API_VERSION,
    kind: MANIFEST_KIND,
    deviceId: input.deviceId,
    version: parseManifestVersion(input.version).toString(),
    issuedAt: issuedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    files,
    ...(revokedSigners.length ? { revokedSigners } : {}),
  };
}

/**
 * Signs a manifest with the desired-state signing key and returns the bytes of margo-manifest.json
 * (the manifest, the signature over its canonical JSON, and the signer certificate).
 *
 * @example
 * const bytes = signManifest(m, pki.signing.keyPem, pki.signing.certPem);
 */
export function signManifest(
  manifest: DesiredStateManifest,
  signingKeyPem: string,
  signingCertPem: string,
): Buffer {
  // Devices refuse such a manifest as malformed; say so here, where the operator can act on it.
  const serial = certificateSerial(readCertificate(signingCertPem, 'signing certificate'));
  if (manifest.revokedSigners?.includes(serial))
    throw new MargoError(
      'TRUST_SIGNING_KEY_REVOKED',
      `the signing certificate ${serial} is listed as revoked; rotate the signing key`,
      { data: { signerSerial: serial } },
    );
  const signature = rsaSign('sha256', Buffer.from(canonicalJson(manifest), 'utf8'), signingKeyPem).toString(
    'base64',
  );
  const doc: SignedManifest = {
    manifest,
    signature: { algorithm: MANIFEST_SIGNATURE_ALGORITHM, value: signature },
    signer: { certificates: [normalisePem(signingCertPem)] },
  };
  return Buffer.from(JSON.stringify(doc, null, 2) + '\n', 'utf8');
}

/** buildManifest + signManifest in one call. */
export function createSignedManifest(input: BuildManifestInput, signing: KeyAndCert): Buffer {
  return signManifest(buildManifest(input), signing.keyPem, signing.certPem);
}

function malformed(what: string): MargoError {
  return new MargoError('TRUST_MANIFEST_MALFORMED', `margo-manifest.json: ${what}`);
}

/**
 * Parses margo-manifest.json WITHOUT verifying it (for the orchestrator's own bookkeeping, e.g. the
 * last version it wrote). Throws TRUST_MANIFEST_MISSING / TRUST_MANIFEST_MALFORMED.
 */
export function parseSignedManifest(bytes: Uint8Array | undefined | null): SignedManifest {
  if (!bytes || bytes.length === 0)
    throw new MargoError('TRUST_MANIFEST_MISSING', `the desired state has no ${MANIFEST_FILE}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw malformed('not JSON');
  }
  const d = doc as Partial<SignedManifest>;
  const m = d?.manifest as Partial<DesiredStateManifest> | undefined;
  if (!d || typeof d !== 'object' || !m || typeof m !== 'object' || Array.isArray(m))
    throw malformed('no manifest object');
  if (m.apiVersion !== MANIFEST_API_VERSION || m.kind !== MANIFEST_KIND)
    throw malformed('unknown apiVersion/kind');
  if (
    typeof m.deviceId !== 'string' ||
    typeof m.version !== 'string' ||
    typeof m.expiresAt !== 'string' ||
    typeof m.issuedAt !== 'string'
  ) {
    throw malformed('deviceId, version, issuedAt and expiresAt must be strings');
  }
  if (
    !m.files ||
    typeof m.files !== 'object' ||
    Array.isArray(m.files) ||
    Object.values(m.files).some((v) => typeof v !== 'string')
  ) {
    throw malformed('files must map paths to digests');
  }
  if (m.revokedSigners !== undefined) {
    const r: unknown = m.revokedSigners;
    if (!Array.isArray(r) || r.some((x) => typeof x !== 'string'))
      throw malformed('revokedSigners must be a list of serials');
    // Only the normalised, sorted form is valid: one list has one signed encoding.
    if (normaliseRevokedSigners(r as string[]).join(',') !== r.join(','))
      throw malformed('revokedSigners must be sorted, unique, lowercase hex serials');
  }
  if (d.signature?.algorithm !== MANIFEST_SIGNATURE_ALGORITHM || typeof d.signature.value !== 'string')
    throw malformed('unsupported or missing signature');
  if (!Array.isArray(d.signer?.certificates) || typeof d.signer.certificates[0] !== 'string')
    throw malformed('no signer certificate');
  return d as SignedManifest;
}

export interface VerifyManifestOptions {
  /** The root CA the device trusts (from enrolment). */
  caCertPem: string;
  /** This device's id. */
  deviceId: string;
  /** Every file of the checked-out desired state except margo-manifest.json (if present it is ignored). */
  files: ReadonlyMap<string, Uint8Array>;
  /** Version of the last manifest this device applied (persisted across restarts); undefined on first start. */
  lastAppliedVersion?: ManifestVersion | undefined;
  /**
   * Digest (VerifiedManifest.digest) of the last applied manifest. When the version equals
   * lastAppliedVersion and the digest matches, the same manifest is being re-checked: accepted
   * with `unchanged: true` instead of TRUST_MANIFEST_ROLLBACK.
   */
  lastAppliedDigest?: string | undefined;
  now?: Date;
  /**
   * The orchestrator auditing its own earlier output (not a device deciding what to run): an
   * expired manifest is still accepted, since it was genuinely signed and only needs re-signing.
   * The signer certificate must still be valid now: a leaked, expired signing key cannot vouch for
   * anything the orchestrator would then re-sign.
   */
  ignoreExpiry?: boolean;
  /**
   * Serials of signing certificates this device learnt are revoked (the union of `revokedSigners`
   * of every manifest it accepted): a manifest they sign is refused (TRUST_MANIFEST_SIGNER_REVOKED)
   * whatever its version.
   */
  revokedSigners?: Iterable<string>;
}

export interface VerifiedManifest {
  manifest: DesiredStateManifest;
  version: bigint;
  /** `sha256:<hex>` of the canonical manifest JSON: identifies this exact signed content. */
  digest: string;
  signer: { serial: string; commonName: string };
  /** True when this is the manifest already applied (same version and digest). */
  unchanged: boolean;
}

function checkSigner(
  certPem: string,
  ca: X509Certificate,
  now: Date,
): { cert: X509Certificate; serial: string; commonName: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new MargoError(
      'TRUST_MANIFEST_SIGNER_UNTRUSTED',
      'the manifest signer certificate cannot be parsed',
    );
  }
  const serial = certificateSerial(cert);
  const commonName = certificateSubjectField(cert, 'CN') ?? '';
  const issued = checkIssued(ca, cert, now);
  if (
    issued !== 'ok' ||
    certificateSubjectField(cert, 'OU') !== SIGNER_OU ||
    !hasExtendedKeyUsage(cert, 'codeSigning')
  ) {
    const reason =
      issued === 'expired'
        ? 'expired or not yet valid'
        : issued === 'untrusted'
          ? 'not issued by the trusted root CA'
          : 'not a desired-state signing certificate';
    throw new MargoError(
      'TRUST_MANIFEST_SIGNER_UNTRUSTED',
      `the manifest signer ${commonName || serial} is ${reason}`,
      { data: { signerSerial: serial, reason } },
    );
  }
  return { cert, serial, commonName };
}

/**
 * Verifies margo-manifest.json against the trusted root CA and the checked-out files, BEFORE
 * anything is applied. Checks, in order: present and well-formed, signer certified by the CA as a
 * desired-state signer, signature, device id, version (anti-rollback), expiry (anti-freeze), then
 * every file hash. Each refusal throws a MargoError with its own code (TRUST_MANIFEST_*); `data`
 * names the offending paths (never file contents).
 *
 * @example
 * const v = verifyManifest(bytes, { caCertPem, deviceId: 'press-7', files, lastAppliedVersion: state.version, lastAppliedDigest: state.digest });
 * if (!v.unchanged) { apply(); persist({ version: v.version.toString(), digest: v.digest }); }
 */
export function verifyManifest(
  bytes: Uint8Array | undefined | null,
  opts: VerifyManifestOptions,
): VerifiedManifest {
  const now = opts.now ?? new Date();
  const doc = parseSignedManifest(bytes);
  const ca = readCertificate(opts.caCertPem, 'root CA certificate');
  const signer = checkSigner(doc.signer.certificates[0]!, ca, now);
  if (opts.revokedSigners && new Set(opts.revokedSigners).has(signer.serial)) {
    throw new MargoError(
      'TRUST_MANIFEST_SIGNER_REVOKED',
      `the manifest signer ${signer.commonName || signer.serial} was revoked by an earlier manifest`,
      { data: { deviceId: opts.deviceId, signerSerial: signer.serial } },
    );
  }

  let canonical: string;
  try {
    canonical = canonicalJson(doc.manifest);
  } catch {
    throw malformed('manifest is not plain JSON');
  }
  let ok = false;
  try {
    ok = rsaVerify(
      'sha256',
      Buffer.from(canonical, 'utf8'),
      signer.cert.publicKey,
      Buffer.from(doc.signature.value, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok)
    throw new MargoError(
      'TRUST_MANIFEST_SIGNATURE_INVALID',
      'the manifest signature does not match its content',
      { data: { signerSerial: signer.serial } },
    );

  const m = doc.manifest;
  // A key cannot revoke itself: such a list comes from a confused or hostile signer.
  if (m.revokedSigners?.includes(signer.serial))
    throw malformed(`the manifest lists its own signer ${signer.serial} as revoked`);
  let version: bigint;
  try {
    version = parseManifestVersion(m.version);
  } catch {
    throw malformed('version is not an integer in [1, 2^64-1]');
  }
  const digest = sha256Digest(canonical);

  if (m.deviceId !== opts.deviceId) {
    throw new MargoError(
      'TRUST_MANIFEST_WRONG_DEVICE',
      `the manifest was signed for device ${m.deviceId}, not ${opts.deviceId}`,
      {
        data: { deviceId: opts.deviceId, manifestDeviceId: m.deviceId, version: m.version },
      },
    );
  }

  let unchanged = false;
  if (opts.lastAppliedVersion !== undefined && opts.lastAppliedVersion !== null) {
    const last = parseManifestVersion(opts.lastAppliedVersion);
    if (version === last && opts.lastAppliedDigest !== undefined && opts.lastAppliedDigest === digest)
      unchanged = true;
    else if (version <= last) {
      throw new MargoError(
        'TRUST_MANIFEST_ROLLBACK',
        `manifest version ${version} is not greater than the last applied version ${last}`,
        {
          data: { deviceId: opts.deviceId, version: version.toString(), lastAppliedVersion: last.toString() },
        },
      );
    }
  }

  const expiresAt = new Date(m.expiresAt);
  if (Number.isNaN(expiresAt.getTime())) throw malformed('expiresAt is not a date');
  if (!opts.ignoreExpiry && now.getTime() >= expiresAt.getTime()) {
    throw new MargoError(
      'TRUST_MANIFEST_EXPIRED',
      `manifest version ${version} expired at ${expiresAt.toISOString()}`,
      {
        data: { deviceId: opts.deviceId, version: version.toString(), expiresAt: expiresAt.toISOString() },
      },
    );
  }

  const changed: string[] = [];
  const added: string[] = [];
  const missing: string[] = [];
  for (const [p, content] of opts.files) {
    if (p === MANIFEST_FILE) continue;
    const want = m.files[p];
    if (want === undefined) added.push(p);
    else if (want !== sha256Digest(content)) changed.push(p);
  }
  for (const p of Object.keys(m.files)) if (p !== MANIFEST_FILE && !opts.files.has(p)) missing.push(p);
  const data = {
    deviceId: opts.deviceId,
    version: version.toString(),
    changed: changed.sort(),
    added: added.sort(),
    missing: missing.sort(),
  };
  if (changed.length)
    throw new MargoError(
      'TRUST_MANIFEST_FILE_CHANGED',
      `desired-state file ${changed[0]} differs from the signed manifest${changed.length > 1 ? ` (and ${changed.length - 1} more)` : ''}`,
      { data },
    );
  if (missing.length)
    throw new MargoError(
      'TRUST_MANIFEST_FILE_MISSING',
      `desired-state file ${missing[0]} listed in the manifest is missing${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`,
      { data },
    );
  if (added.length)
    throw new MargoError(
      'TRUST_MANIFEST_FILE_ADDED',
      `desired-state file ${added[0]} is not in the signed manifest${added.length > 1 ? ` (and ${added.length - 1} more)` : ''}`,
      { data },
    );

  return {
    manifest: m,
    version,
    digest,
    signer: { serial: signer.serial, commonName: signer.commonName },
    unchanged,
  };
}

export interface NeedsResignOptions {
  /** Re-sign when the manifest expires within this many milliseconds. */
  renewBeforeMs: number;
  /** The current signing certificate: a manifest signed by another one (after rotation) needs re-signing. */
  signingCertPem?: string;
  /** The revoked signers every manifest must carry: a manifest missing one needs re-signing. */
  revokedSigners?: readonly string[];
}

/**
 * True when the orchestrator should re-sign (with a higher version) because the manifest is
 * missing or unreadable, expires within `renewBeforeMs`, its signer certificate expires within that
 * window, it was signed by a certificate other than `signingCertPem`, or it lacks one of
 * `revokedSigners`.
 *
 * @example
 * if (needsResign(bytes, new Date(), { renewBeforeMs: 2 * 86400e3, signingCertPem: pki.signing.certPem })) resign();
 */
export function needsResign(
  manifestBytes: Uint8Array | undefined | null,
  now: Date,
  opts: NeedsResignOptions,
): boolean {
  let doc: SignedManifest;
  try {
    doc = parseSignedManifest(manifestBytes);
  } catch {
    return true;
  }
  const limit = now.getTime() + opts.renewBeforeMs;
  const exp = new Date(doc.manifest.expiresAt).getTime();
  if (Number.isNaN(exp) || exp <= limit) return true;
  const carried = new Set(doc.manifest.revokedSigners ?? []);
  if (opts.revokedSigners?.some((s) => !carried.has(s))) return true;
  try {
    const signer = readCertificate(doc.signer.certificates[0]!);
    if (notAfter(signer).getTime() <= limit) return true;
    if (
      opts.signingCertPem &&
      certificateSerial(signer) !== certificateSerial(readCertificate(opts.signingCertPem))
    )
      return true;
  } catch {
    return true;
  }
  return false;
}
