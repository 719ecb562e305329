import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { createRootCA, createSigningKey, type KeyAndCert } from './ca.js';
import { assertDeviceId } from './device-id.js';
import { normaliseRevokedSigners } from './manifest.js';
import { certificateSerial } from './x509-native.js';
import {
  assertOwnerOnly,
  ensurePrivateDir,
  readFileIfExists,
  withFileLock,
  writeFileAtomic,
  writeFileExclusive,
} from './secure-fs.js';
import { certificateFingerprint, parseCertificate, parsePrivateKey, serialOf, subjectField } from './x509.js';

/** The orchestrator's key material as loaded from `<data>/pki`. */
export interface Pki {
  dir: string;
  ca: KeyAndCert;
  signing: KeyAndCert;
}

/** File names inside the PKI folder (see docs/CONTRACTS.md). */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  signingCert: 'signing.crt',
  signingKey: 'signing.key',
  devices: 'devices',
  retired: 'retired',
  revoked: 'revoked.json',
  revokedSigners: 'revoked-signers.json',
} as const;

/**
 * Writes a new PKI folder: dir 0700, keys 0600, certificates 0644. Refuses (TRUST_PKI_EXISTS) to
 * overwrite any existing key or certificate.
 *
 * @example
 * await writePki(join(data, 'pki'), { ca, signing });
 */
export async function writePki(dir: string, material: { ca: KeyAndCert; signing: KeyAndCert }): Promise<Pki> {
  await ensurePrivateDir(dir);
  for (const f of [PKI_FILES.caCert, PKI_FILES.caKey, PKI_FILES.signingCert, PKI_FILES.signingKey]) {
    if (await readFileIfExists(join(dir, f)))
      throw new MargoError('TRUST_PKI_EXISTS', `refusing to overwrite ${join(dir, f)}`, {
        data: { path: join(dir, f) },
      });
  }
  await writeFileExclusive(join(dir, PKI_FILES.caKey), material.ca.keyPem, 0o600);
  await writeFileExclusive(join(dir, PKI_FILES.caCert), material.ca.certPem, 0o644);
  await writeFileExclusive(join(dir, PKI_FILES.signingKey), material.signing.keyPem, 0o600);
  await writeFileExclusive(join(dir, PKI_FILES.signingCert), material.signing.certPem, 0o644);
  await ensurePrivateDir(join(dir, PKI_FILES.devices));
  return { dir, ca: material.ca, signing: material.signing };
}

/**
 * Creates the root CA and a signing key and writes them (what `margo init` does).
 *
 * @example
 * const pki = await initPki(join(data, 'pki'), { commonName: 'margo root CA' });
 */
export async function initPki(
  dir: string,
  opts: { commonName: string; caValidityDays?: number; signingValidityDays?: number; bits?: number },
): Promise<Pki> {
  const ca = createRootCA({
    commonName: opts.commonName,
    validityDays: opts.caValidityDays ?? 3650,
    bits: opts.bits,
  });
  const signing = createSigningKey(ca, { validityDays: opts.signingValidityDays ?? 730, bits: opts.bits });
  return writePki(dir, { ca, signing });
}

async function readRequired(path: string): Promise<string> {
  const b = await readFileIfExists(path);
  if (!b) throw new MargoError('TRUST_PKI_MISSING', `${path} is missing`, { data: { path } });
  return b.toString('utf8');
}

/**
 * Loads `<data>/pki`, checking that the key files are owner-only (TRUST_PKI_INSECURE_PERMISSIONS)
 * and that every PEM parses (TRUST_KEY_INVALID).
 */
export async function loadPki(dir: string): Promise<Pki> {
  const ca = {
    certPem: await readRequired(join(dir, PKI_FILES.caCert)),
    keyPem: await readRequired(join(dir, PKI_FILES.caKey)),
  };
  const signing = {
    certPem: await readRequired(join(dir, PKI_FILES.signingCert)),
    keyPem: await readRequired(join(dir, PKI_FILES.signingKey)),
  };
  await assertOwnerOnly(join(dir, PKI_FILES.caKey));
  await assertOwnerOnly(join(dir, PKI_FILES.signingKey));
  parseCertificate(ca.certPem, 'root CA certificate');
  parsePrivateKey(ca.keyPem, 'root CA key');
  parseCertificate(signing.certPem, 'signing certificate');
  parsePrivateKey(signing.keyPem, 'signing key');
  return { dir, ca, signing };
}

/** One entry of `pki/revoked-signers.json`. */
export interface RevokedSignerEntry {
  serial: string;
  commonName: string;
  revokedAt: string;
  reason?: string;
}

interface RevokedSignersFile {
  version: 1;
  revoked: RevokedSignerEntry[];
}

async function readRevokedSignersFile(pkiDir: string): Promise<RevokedSignersFile> {
  const path = join(pkiDir, PKI_FILES.revokedSigners);
  const b = await readFileIfExists(path);
  if (!b) return { version: 1, revoked: [] };
  try {
    const f = JSON.parse(b.toString('utf8')) as RevokedSignersFile;
    if (!Array.isArray(f.revoked)) throw new Error('no revoked array');
    normaliseRevokedSigners(f.revoked.map((e) => e.serial));
    return f;
  } catch (e) {
    // Signing on with a forgotten revocation would let the leaked key back in: stop instead.
    throw new MargoError('IO_ERROR', `${path} is not a valid signer revocation list`, {
      cause: e,
      retry: 'never',
    });
  }
}

/**
 * Serials of revoked desired-state signing certificates (`pki/revoked-signers.json`), normalised
 * and sorted: what every manifest carries as `revokedSigners`.
 */
export async function readRevokedSigners(pkiDir: string): Promise<string[]> {
  return normaliseRevokedSigners((await readRevokedSignersFile(pkiDir)).revoked.map((e) => e.serial));
}

/**
 * Adds a signing certificate to `pki/revoked-signers.json` (idempotent; 0644, the list is public:
 * every manifest carries it). The list only grows.
 */
export async function revokeSigner(
  pkiDir: string,
  certPem: string,
  reason?: string,
  now = new Date(),
): Promise<RevokedSignerEntry> {
  const cert = parseCertificate(certPem, 'signing certificate');
  const entry: RevokedSignerEntry = {
    serial: serialOf(cert),
    commonName: subjectField(cert, 'CN') ?? '',
    revokedAt: now.toISOString(),
    ...(reason ? { reason } : {}),
  };
  const path = join(pkiDir, PKI_FILES.revokedSigners);
  return withFileLock(path, async () => {
    const f = await readRevokedSignersFile(pkiDir);
    const found = f.revoked.find((e) => e.serial === entry.serial);
    if (found) return found;
    f.revoked.push(entry);
    await writeFileAtomic(path, JSON.stringify(f, null, 2) + '\n', 0o644);
    return entry;
  });
}

/** What the manifest signer needs at each signing: the current key and the revoked signers. */
export interface SigningState {
  signing: KeyAndCert;
  /** Serial of the current signing certificate. */
  serial: string;
  revokedSigners: string[];
}

/**
 * Reads the current signing key, certificate and revoked signers from `<data>/pki` (node:crypto
 * only). Called per signing by `margo serve`, so a `margo pki rotate-signing-key` takes effect
 * without a restart. A key that does not match its certificate (read in the middle of a rotation)
 * throws IO_ERROR to be retried.
 */
export async function loadSigningState(pkiDir: string): Promise<SigningState> {
  const certPem = await readRequired(join(pkiDir, PKI_FILES.signingCert));
  const keyPath = join(pkiDir, PKI_FILES.signingKey);
  const keyPem = await readRequired(keyPath);
  await assertOwnerOnly(keyPath);
  let cert: X509Certificate;
  let matches = false;
  try {
    cert = new X509Certificate(certPem);
    const pub = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    matches = pub(createPublicKey(keyPem)).equals(pub(cert.publicKey));
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', `the signing key or certificate in ${pkiDir} cannot be read`, {
      cause: e,
    });
  }
  if (!matches)
    throw new MargoError('IO_ERROR', `the signing key in ${pkiDir} does not match signing.crt (rotation?)`, {
      retry: 'later',
    });
  return {
    signing: { keyPem, certPem },
    serial: certificateSerial(cert),
    revokedSigners: await readRevokedSigners(pkiDir),
  };
}

/**
 * Replaces the desired-state signing key with a new one certified by the same root CA. The old
 * certificate is kept under `retired/` for audit, the old key is deleted. Devices accept any
 * signer certified by the CA, so there is no downtime: re-sign every device repository afterwards
 * (needsResign reports manifests signed by another certificate).
 *
 * With `compromised`, the old certificate is first added to `pki/revoked-signers.json`: every
 * manifest signed from then on carries it in `revokedSigners`, and a device that accepted one
 * refuses whatever the old key signs. Revoking before the swap means a crash in between leaves a
 * server that refuses to sign (TRUST_SIGNING_KEY_REVOKED) until the rotation is run again, never
 * one that silently keeps the leaked key trusted.
 *
 * @example
 * const pki2 = await rotateSigningKey(pki, { compromised: true });
 */
export async function rotateSigningKey(
  pki: Pki,
  opts: { validityDays?: number; bits?: number; compromised?: boolean; now?: Date } = {},
): Promise<Pki> {
  const signing = createSigningKey(pki.ca, { validityDays: opts.validityDays ?? 730, bits: opts.bits });
  const retired = join(pki.dir, PKI_FILES.retired);
  await ensurePrivateDir(retired);
  const oldSerial = serialOf(parseCertificate(pki.signing.certPem));
  await writeFileAtomic(join(retired, `signing-${oldSerial}.crt`), pki.signing.certPem, 0o644);
  if (opts.compromised) await revokeSigner(pki.dir, pki.signing.certPem, 'key compromise', opts.now);
  const tmpKey = join(pki.dir, `${PKI_FILES.signingKey}.new`);
  const tmpCert = join(pki.dir, `${PKI_FILES.signingCert}.new`);
  await writeFileAtomic(tmpKey, signing.keyPem, 0o600);
  await writeFileAtomic(tmpCert, signing.certPem, 0o644);
  await rename(tmpKey, join(pki.dir, PKI_FILES.signingKey));
  await rename(tmpCert, join(pki.dir, PKI_FILES.signingCert));
  return { dir: pki.dir, ca: pki.ca, signing };
}

/** Path of a device certificate inside the PKI folder. */
export function deviceCertPath(pkiDir: string, deviceId: string): string {
  assertDeviceId(deviceId);
  return join(pkiDir, PKI_FILES.devices, `${deviceId}.crt`);
}

/**
 * Stores an enrolled device certificate; refuses (TRUST_DEVICE_ALREADY_ENROLLED) when the device
 * already has one. Exclusive create, so two concurrent enrolments of one id cannot both succeed.
 */
export async function writeDeviceCert(pkiDir: string, deviceId: string, certPem: string): Promise<void> {
  await ensurePrivateDir(join(pkiDir, PKI_FILES.devices));
  try {
    await writeFileExclusive(deviceCertPath(pkiDir, deviceId), certPem, 0o644);
  } catch (e) {
    if ((e as MargoError).code === 'TRUST_PKI_EXISTS') {
      throw new MargoError('TRUST_DEVICE_ALREADY_ENROLLED', `device ${deviceId} is already enrolled`, {
        data: { deviceId },
      });
    }
    throw e;
  }
}

/** The stored certificate of a device, or undefined when it is not enrolled. */
export async function readDeviceCert(pkiDir: string, deviceId: string): Promise<string | undefined> {
  return (await readFileIfExists(deviceCertPath(pkiDir, deviceId)))?.toString('utf8');
}

/** Removes a stored device certificate (used to undo a failed enrolment; revocation keeps it). */
export async function removeDeviceCert(pkiDir: string, deviceId: string): Promise<void> {
  await rm(deviceCertPath(pkiDir, deviceId), { force: true });
}

/** Root CA fingerprint (SHA-256 of the DER), for pinning during enrolment. */
export async function caFingerprint(pkiDir: string): Promise<string> {
  return certificateFingerprint(await readFile(join(pkiDir, PKI_FILES.caCert), 'utf8'));
}
