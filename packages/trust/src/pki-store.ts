import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { createRootCA, createSigningKey, type KeyAndCert } from './ca.js';
import { assertDeviceId } from './device-id.js';
import {
  assertOwnerOnly,
  ensurePrivateDir,
  readFileIfExists,
  writeFileAtomic,
  writeFileExclusive,
} from './secure-fs.js';
import { certificateFingerprint, parseCertificate, parsePrivateKey, serialOf } from './x509.js';

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

/**
 * Replaces the desired-state signing key with a new one certified by the same root CA. The old
 * certificate is kept under `retired/` for audit, the old key is deleted. Devices accept any
 * signer certified by the CA, so there is no downtime: re-sign every device repository afterwards
 * (needsResign reports manifests signed by another certificate).
 *
 * @example
 * const pki2 = await rotateSigningKey(pki);
 */
export async function rotateSigningKey(
  pki: Pki,
  opts: { validityDays?: number; bits?: number } = {},
): Promise<Pki> {
  const signing = createSigningKey(pki.ca, { validityDays: opts.validityDays ?? 730, bits: opts.bits });
  const retired = join(pki.dir, PKI_FILES.retired);
  await ensurePrivateDir(retired);
  const oldSerial = serialOf(parseCertificate(pki.signing.certPem));
  await writeFileAtomic(join(retired, `signing-${oldSerial}.crt`), pki.signing.certPem, 0o644);
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
