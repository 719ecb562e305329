import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { assertOwnerOnly, readFileIfExists } from '@margo-gitops/trust/device';

/** Files of a device identity inside `<stateDir>/identity/` (folder 0700). */
export const IDENTITY_FILES = {
  dir: 'identity',
  key: 'device.key',
  cert: 'device.crt',
  ca: 'ca.crt',
  enrolment: 'enrolment.json',
} as const;

/** enrolment.json (0600; holds secrets). Its deviceId/repoUrl/token keys are what the agent config's `enrolmentFile` reads. */
export interface EnrolmentRecord {
  version: 1;
  deviceId: string;
  /** Orchestrator base URL used for enrolment. */
  serverUrl: string;
  /** Device repository clone URL. */
  repoUrl: string;
  /** Workload Management API (`https://host:port`) when the server runs it (enrolment answer `api.url`). */
  apiUrl?: string;
  /** Git token for repoUrl (secret). */
  token: string;
  clientId: string;
  /** OAuth2 client secret (secret). */
  clientSecret: string;
  tokenEndpoint: string;
  /** SHA-256 of the root CA DER (hex). */
  caFingerprint: string;
  certificateSerial: string;
  enrolledAt: string;
}

/** A loaded enrolment: the record plus PEMs. */
export interface Enrolment extends EnrolmentRecord {
  keyPem: string;
  certPem: string;
  caCertPem: string;
  /** Paths of the files, for drivers/loggers that need them. */
  paths: { dir: string; key: string; cert: string; ca: string; enrolment: string };
}

/** Paths of the identity files under a state folder. */
export function identityPaths(stateDir: string): Enrolment['paths'] {
  const dir = join(stateDir, IDENTITY_FILES.dir);
  return {
    dir,
    key: join(dir, IDENTITY_FILES.key),
    cert: join(dir, IDENTITY_FILES.cert),
    ca: join(dir, IDENTITY_FILES.ca),
    enrolment: join(dir, IDENTITY_FILES.enrolment),
  };
}

/** Path of enrolment.json (for the agent config's `enrolmentFile`). */
export function enrolmentFilePath(stateDir: string): string {
  return identityPaths(stateDir).enrolment;
}

/**
 * Loads a completed enrolment for later starts. Throws TRUST_ENROL_STATE_MISSING when the device
 * is not enrolled, TRUST_PKI_INSECURE_PERMISSIONS when the key or record is readable by others,
 * TRUST_KEY_INVALID when the key does not belong to the certificate.
 *
 * @example
 * const e = await loadEnrolment('/var/lib/margo');
 * verifyManifest(bytes, { caCertPem: e.caCertPem, deviceId: e.deviceId, ... });
 */
export async function loadEnrolment(stateDir: string): Promise<Enrolment> {
  const paths = identityPaths(stateDir);
  const recBytes = await readFileIfExists(paths.enrolment);
  if (!recBytes)
    throw new MargoError('TRUST_ENROL_STATE_MISSING', `no enrolment in ${paths.dir}`, {
      data: { dir: paths.dir },
    });
  await assertOwnerOnly(paths.enrolment);
  await assertOwnerOnly(paths.key);
  let rec: EnrolmentRecord;
  try {
    rec = JSON.parse(recBytes.toString('utf8')) as EnrolmentRecord;
  } catch (e) {
    throw new MargoError('TRUST_ENROL_STATE_MISSING', `${paths.enrolment} is unreadable`, { cause: e });
  }
  const [keyPem, certPem, caCertPem] = await Promise.all([
    readFile(paths.key, 'utf8'),
    readFile(paths.cert, 'utf8'),
    readFile(paths.ca, 'utf8'),
  ]);
  assertKeyMatchesCert(keyPem, certPem);
  return { ...rec, keyPem, certPem, caCertPem, paths };
}

/** Throws TRUST_KEY_INVALID unless `keyPem` is the private key of `certPem`. */
export function assertKeyMatchesCert(keyPem: string, certPem: string): void {
  try {
    const a = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const b = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
    if (a.equals(b)) return;
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', 'the device key or certificate cannot be read', { cause: e });
  }
  throw new MargoError('TRUST_KEY_INVALID', 'the device key does not belong to the device certificate');
}
