/**
 * X.509 checks on node:crypto alone: what a device needs at every poll (is this manifest signer
 * certified by my root CA, for signing desired state, and valid now?) and what the orchestrator
 * needs for every signed status file (is this a device certificate from our CA?). Kept apart from
 * x509.ts so that the device path never loads node-forge, which the CA and enrolment need for
 * issuing certificates and requests (node:crypto cannot build those). See
 * `@margo-gitops/trust/device`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';

/** Organisational unit marking the desired-state signing certificate. */
export const SIGNER_OU = 'margo-gitops desired-state signer';
/** Organisational unit marking device certificates. */
export const DEVICE_OU = 'margo-gitops device';
/** Organisational unit of the root CA. */
export const CA_OU = 'margo-gitops root CA';

const EKU_OID = { codeSigning: '1.3.6.1.5.5.7.3.3', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/** Parses a PEM certificate; TRUST_KEY_INVALID when it is not one. */
export function readCertificate(pem: string, what = 'certificate'): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', `the ${what} is not a PEM X.509 certificate`, { cause: e });
  }
}

/** Serial number as lower-case hex without leading zeros (the form revocation lists use). */
export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

export function certificateSerial(cert: X509Certificate): string {
  return normaliseSerial(cert.serialNumber);
}

/**
 * One attribute of the subject, e.g. CN. Node prints the subject one attribute per line
 * (`OU=...\nCN=...`); a value containing a line break or an escape is refused (undefined) rather
 * than guessed, and our certificates never carry one.
 */
export function certificateSubjectField(cert: X509Certificate, name: 'CN' | 'OU'): string | undefined {
  let found: string | undefined;
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && line.slice(0, i) === name) {
      if (found !== undefined) return undefined; // multi-valued: not one of ours
      found = line.slice(i + 1);
    }
  }
  return found !== undefined && !found.includes('\\') ? found : undefined;
}

export type IssuedCheck = 'ok' | 'untrusted' | 'expired';

/**
 * Checks that `leaf` was issued directly by `ca` (names and signature), is not itself a CA, and
 * that both are valid at `now`. The root CA has pathLen 0, so there are no intermediates.
 */
export function checkIssued(ca: X509Certificate, leaf: X509Certificate, now: Date): IssuedCheck {
  try {
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'untrusted';
  } catch {
    return 'untrusted';
  }
  if (leaf.ca) return 'untrusted';
  const t = now.getTime();
  for (const c of [ca, leaf]) {
    if (t < notBefore(c).getTime() || t > notAfter(c).getTime()) return 'expired';
  }
  return 'ok';
}

export function notBefore(cert: X509Certificate): Date {
  return new Date(cert.validFrom);
}

export function notAfter(cert: X509Certificate): Date {
  return new Date(cert.validTo);
}

export function hasExtendedKeyUsage(cert: X509Certificate, usage: keyof typeof EKU_OID): boolean {
  return (cert.keyUsage ?? []).includes(EKU_OID[usage]);
}

/** PEM with '\n' line endings and a final newline. */
export function normalisePem(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim() + '\n';
}

/**
 * SHA-256 fingerprint of a certificate's DER encoding, lower-case hex without separators.
 *
 * @example
 * certificateFingerprint(caCertPem); // 'a3f1...'
 */
export function certificateFingerprint(certPem: string): string {
  return createHash('sha256').update(readCertificate(certPem).raw).digest('hex');
}
