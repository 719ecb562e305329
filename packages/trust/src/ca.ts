import forge from 'node-forge';
import { MargoError } from '@margo-gitops/spec';
import {
  CA_OU,
  DEFAULT_RSA_BITS,
  NOT_BEFORE_SKEW_MS,
  SIGNER_OU,
  generateRsaKeyPair,
  normalisePem,
  parseCertificate,
  nodeRsaSigner,
  pki,
  randomSerial,
} from './x509.js';

/** A certificate and its private key, both PEM. */
export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

export interface CreateRootCaOptions {
  commonName: string;
  /** Validity in days; default 3650. */
  validityDays?: number;
  /** RSA modulus size; default 3072. */
  bits?: number;
  /** Clock for tests. */
  now?: Date;
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  cert.validity.notBefore = new Date(now.getTime() - NOT_BEFORE_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

/**
 * Creates the orchestrator's self-signed root CA (RSA, SHA-256, pathLen 0: it signs device and
 * signing certificates only, never another CA).
 *
 * @example
 * const ca = createRootCA({ commonName: 'plant-7 margo root CA', validityDays: 3650 });
 */
export function createRootCA(opts: CreateRootCaOptions): KeyAndCert {
  if (!opts.commonName) throw new MargoError('USAGE_ERROR', 'createRootCA needs a commonName');
  const keys = generateRsaKeyPair(opts.bits ?? DEFAULT_RSA_BITS);
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, opts.now ?? new Date(), opts.validityDays ?? 3650);
  const name = [
    { shortName: 'CN', value: opts.commonName },
    { shortName: 'OU', value: CA_OU },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(nodeRsaSigner(keys.privateKey), forge.md.sha256.create());
  return {
    certPem: normalisePem(pki.certificateToPem(cert)),
    keyPem: normalisePem(pki.privateKeyToPem(keys.privateKey)),
  };
}

export interface IssueOptions {
  /** Validity in days. */
  validityDays?: number;
  bits?: number;
  now?: Date;
}

/**
 * Issues a certificate under `ca` for `publicKey` with the given subject and extensions.
 * Internal building block of createSigningKey and signDeviceCsr.
 */
export function issueCertificate(
  ca: KeyAndCert,
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  extensions: object[],
  days: number,
  now: Date,
): forge.pki.Certificate {
  const caCert = parseCertificate(ca.certPem, 'root CA certificate');
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, now, days);
  // never outlive the CA
  if (cert.validity.notAfter > caCert.validity.notAfter)
    cert.validity.notAfter = new Date(caCert.validity.notAfter);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(nodeRsaSigner(ca.keyPem), forge.md.sha256.create());
  return cert;
}

/**
 * Creates a desired-state signing key and its certificate, certified by the root CA: keyUsage
 * digitalSignature only, extended key usage codeSigning, OU "margo-gitops desired-state signer".
 * Agents accept manifests signed by any such certificate of their CA, so rotating the signing key
 * (call this again and re-sign) needs no change on devices.
 *
 * @example
 * const signing = createSigningKey(ca, { validityDays: 730 });
 */
export function createSigningKey(ca: KeyAndCert, opts: IssueOptions = {}): KeyAndCert {
  const keys = generateRsaKeyPair(opts.bits ?? DEFAULT_RSA_BITS);
  const now = opts.now ?? new Date();
  const cert = issueCertificate(
    ca,
    keys.publicKey,
    [
      { shortName: 'CN', value: `margo desired-state signer ${now.toISOString().slice(0, 10)}` },
      { shortName: 'OU', value: SIGNER_OU },
    ],
    [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', codeSigning: true },
    ],
    opts.validityDays ?? 730,
    now,
  );
  return {
    certPem: normalisePem(pki.certificateToPem(cert)),
    keyPem: normalisePem(pki.privateKeyToPem(keys.privateKey)),
  };
}
