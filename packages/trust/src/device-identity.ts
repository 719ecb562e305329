import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { MargoError } from '@margo-gitops/spec';
import { issueCertificate, type KeyAndCert } from './ca.js';
import { assertDeviceId } from './device-id.js';
import {
  DEFAULT_RSA_BITS,
  generateRsaKeyPair,
  keyBits,
  normalisePem,
  nodeRsaSigner,
  parseCertificate,
  parsePrivateKey,
  pki,
  serialOf,
  subjectField,
} from './x509.js';
import {
  DEVICE_OU,
  certificateSerial,
  certificateSubjectField,
  checkIssued,
  hasExtendedKeyUsage,
  notAfter,
  readCertificate,
} from './x509-native.js';

/** Smallest RSA modulus accepted in a device CSR. */
export const MIN_DEVICE_KEY_BITS = 2048;

/**
 * Runs on the device: creates its RSA key pair and a CSR whose subject CN is the device id. The
 * private key stays with the caller (store it 0600); only the CSR is sent to the orchestrator.
 *
 * @example
 * const { keyPem, csrPem } = createDeviceKeyAndCsr('press-7');
 */
export function createDeviceKeyAndCsr(
  deviceId: string,
  opts: { bits?: number } = {},
): { keyPem: string; csrPem: string } {
  assertDeviceId(deviceId);
  const keys = generateRsaKeyPair(opts.bits ?? DEFAULT_RSA_BITS);
  const csr = pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([{ shortName: 'CN', value: deviceId }]);
  csr.sign(nodeRsaSigner(keys.privateKey), forge.md.sha256.create());
  return {
    keyPem: normalisePem(pki.privateKeyToPem(keys.privateKey)),
    csrPem: normalisePem(pki.certificationRequestToPem(csr)),
  };
}

/**
 * A CSR for an existing device key (e.g. resuming an interrupted enrolment or renewing a
 * certificate without changing the key).
 */
export function createCsrForKey(deviceId: string, keyPem: string): string {
  assertDeviceId(deviceId);
  const key = parsePrivateKey(keyPem, 'device key');
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ shortName: 'CN', value: deviceId }]);
  csr.sign(nodeRsaSigner(keyPem), forge.md.sha256.create());
  return normalisePem(pki.certificationRequestToPem(csr));
}

/** Facts read from a CSR after its checks passed. */
export interface CheckedCsr {
  deviceId: string;
  publicKey: forge.pki.PublicKey;
}

/**
 * Parses a CSR and checks its self-signature, key size and that its subject CN equals
 * `expectedDeviceId`. Throws TRUST_CSR_INVALID or TRUST_CSR_SUBJECT_MISMATCH. Pure: no side effect.
 */
export function checkDeviceCsr(csrPem: string, expectedDeviceId: string): CheckedCsr {
  assertDeviceId(expectedDeviceId);
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(csrPem);
  } catch (e) {
    throw new MargoError('TRUST_CSR_INVALID', 'the CSR is not a PEM PKCS#10 request with an RSA key', {
      cause: e,
    });
  }
  let selfSigned = false;
  try {
    selfSigned = csr.verify();
  } catch {
    selfSigned = false;
  }
  if (!selfSigned || !csr.publicKey)
    throw new MargoError('TRUST_CSR_INVALID', 'the CSR self-signature is invalid');
  const bits = keyBits(csr.publicKey);
  if (bits < MIN_DEVICE_KEY_BITS) {
    throw new MargoError(
      'TRUST_CSR_INVALID',
      `the CSR key has ${bits} bits; at least ${MIN_DEVICE_KEY_BITS} are required`,
      { data: { bits } },
    );
  }
  const cn = subjectField(csr, 'CN');
  if (cn !== expectedDeviceId) {
    throw new MargoError(
      'TRUST_CSR_SUBJECT_MISMATCH',
      `the CSR subject is not the device id ${expectedDeviceId}`,
      {
        data: { deviceId: expectedDeviceId, csrCommonName: (cn ?? '').slice(0, 80) },
      },
    );
  }
  return { deviceId: cn, publicKey: csr.publicKey };
}

/**
 * Orchestrator side: signs a device CSR with the root CA after checkDeviceCsr. The certificate
 * subject is built from the expected device id (nothing else from the CSR subject is copied);
 * keyUsage digitalSignature + keyEncipherment (payload signing, sealed secrets), EKU clientAuth,
 * OU "margo-gitops device". A device certificate can therefore never pass as a desired-state signer.
 *
 * @example
 * const certPem = signDeviceCsr(ca, csrPem, { expectedDeviceId: 'press-7', validityDays: 825 });
 */
export function signDeviceCsr(
  ca: KeyAndCert,
  csrPem: string,
  opts: {
    expectedDeviceId: string;
    validityDays?: number;
    now?: Date;
    /** The device's SPIFFE ID (clientSpiffeId): a URI SAN that makes the certificate its X.509-SVID. */
    spiffeId?: string;
  },
): string {
  const checked = checkDeviceCsr(csrPem, opts.expectedDeviceId);
  const cert = issueCertificate(
    ca,
    checked.publicKey,
    [
      { shortName: 'CN', value: checked.deviceId },
      { shortName: 'OU', value: DEVICE_OU },
    ],
    [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
      ...(opts.spiffeId ? [{ name: 'subjectAltName', altNames: [{ type: 6, value: opts.spiffeId }] }] : []),
    ],
    opts.validityDays ?? 825,
    opts.now ?? new Date(),
  );
  return normalisePem(pki.certificateToPem(cert));
}

/** What verifyDeviceCert returns about a valid device certificate. */
export interface VerifiedDevice {
  deviceId: string;
  /** Serial number, lower-case hex without leading zeros (the key of the revocation list). */
  serial: string;
  notAfter: Date;
}

export interface VerifyDeviceCertOptions {
  /** When given, the certificate must belong to this device. */
  deviceId?: string;
  /** Revoked serial numbers (as from RevocationList.serials()). */
  revoked?: ReadonlySet<string>;
  now?: Date;
}

/**
 * Checks that `certPem` is a device certificate issued by the root CA, valid now, not revoked
 * and (optionally) for `deviceId`. Throws TRUST_DEVICE_CERT_UNTRUSTED, _EXPIRED, _REVOKED or
 * _WRONG_DEVICE.
 *
 * @example
 * const { deviceId, serial } = verifyDeviceCert(caCertPem, certPem, { deviceId: 'press-7', revoked });
 */
export function verifyDeviceCert(
  caCertPem: string,
  certPem: string,
  opts: VerifyDeviceCertOptions = {},
): VerifiedDevice {
  const ca = readCertificate(caCertPem, 'root CA certificate');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new MargoError(
      'TRUST_DEVICE_CERT_UNTRUSTED',
      'the device certificate is not a PEM X.509 RSA certificate',
      { cause: e },
    );
  }
  return verifyDeviceCertificate(ca, cert, opts);
}

/**
 * verifyDeviceCert over parsed certificates (shared with payload verification). node:crypto only:
 * the orchestrator runs it for every signed status file it reads.
 */
export function verifyDeviceCertificate(
  ca: X509Certificate,
  cert: X509Certificate,
  opts: VerifyDeviceCertOptions,
): VerifiedDevice {
  const deviceId = certificateSubjectField(cert, 'CN') ?? '';
  const serial = certificateSerial(cert);
  const check = checkIssued(ca, cert, opts.now ?? new Date());
  if (
    check === 'untrusted' ||
    cert.publicKey.asymmetricKeyType !== 'rsa' ||
    certificateSubjectField(cert, 'OU') !== DEVICE_OU ||
    !hasExtendedKeyUsage(cert, 'clientAuth')
  ) {
    throw new MargoError(
      'TRUST_DEVICE_CERT_UNTRUSTED',
      'the certificate is not a device certificate issued by this root CA',
      {
        data: { serial },
      },
    );
  }
  if (check === 'expired') {
    throw new MargoError(
      'TRUST_DEVICE_CERT_EXPIRED',
      `the certificate of device ${deviceId} is expired or not yet valid`,
      {
        data: { deviceId, serial, notAfter: notAfter(cert).toISOString() },
      },
    );
  }
  if (opts.revoked?.has(serial)) {
    throw new MargoError('TRUST_DEVICE_CERT_REVOKED', `the certificate of device ${deviceId} was revoked`, {
      data: { deviceId, serial },
    });
  }
  if (opts.deviceId !== undefined && deviceId !== opts.deviceId) {
    throw new MargoError(
      'TRUST_DEVICE_CERT_WRONG_DEVICE',
      `the certificate belongs to device ${deviceId}, not ${opts.deviceId}`,
      {
        data: { deviceId: opts.deviceId, certificateDeviceId: deviceId, serial },
      },
    );
  }
  return { deviceId, serial, notAfter: notAfter(cert) };
}

/** Serial number (lower-case hex) and device id of a certificate, without verifying it. */
export function describeCertificate(certPem: string): {
  serial: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
} {
  const cert = parseCertificate(certPem);
  return {
    serial: serialOf(cert),
    commonName: subjectField(cert, 'CN') ?? '',
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}
