/**
 * X.509 helpers over node-forge for what node:crypto cannot do: building keys, certificates and
 * requests (CA, enrolment). Checking certificates is in x509-native.ts. Internal: not exported from
 * the package index except the fingerprint helpers.
 */
import { constants, createPrivateKey, privateEncrypt, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { MargoError } from '@margo-gitops/spec';

export const pki = forge.pki;

export {
  SIGNER_OU,
  DEVICE_OU,
  CA_OU,
  normaliseSerial,
  normalisePem,
  certificateFingerprint,
} from './x509-native.js';
import { normaliseSerial } from './x509-native.js';

/** Default RSA modulus size for every key margo-gitops creates (about 128-bit security). */
export const DEFAULT_RSA_BITS = 3072;
/** Clock skew allowance applied to notBefore of new certificates. */
export const NOT_BEFORE_SKEW_MS = 5 * 60_000;

/** A positive, random 128-bit serial number as lower-case hex. */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10; // positive and exactly 16 bytes in DER
  return b.toString('hex');
}

/** Generates an RSA key pair (node-forge uses node's native generator when available). */
export function generateRsaKeyPair(bits: number = DEFAULT_RSA_BITS): forge.pki.rsa.KeyPair {
  return pki.rsa.generateKeyPair({ bits, e: 0x10001 });
}

export function parseCertificate(pem: string, what = 'certificate'): forge.pki.Certificate {
  try {
    return pki.certificateFromPem(pem);
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', `the ${what} is not a PEM X.509 RSA certificate`, { cause: e });
  }
}

export function parsePrivateKey(pem: string, what = 'private key'): forge.pki.rsa.PrivateKey {
  try {
    return pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', `the ${what} is not a PEM RSA private key`, { cause: e });
  }
}

export function subjectField(
  cert: forge.pki.Certificate | forge.pki.CertificateSigningRequest,
  shortName: 'CN' | 'OU',
): string | undefined {
  const a = cert.subject.getField(shortName) as { value?: unknown } | null;
  return typeof a?.value === 'string' ? a.value : undefined;
}

/** Serial number of a certificate as lower-case hex without leading zeros. */
export function serialOf(cert: forge.pki.Certificate): string {
  return normaliseSerial(cert.serialNumber);
}

export function keyBits(key: forge.pki.PublicKey): number {
  const n = (key as forge.pki.rsa.PublicKey).n;
  return n ? n.bitLength() : 0;
}

/** DER prefix of a SHA-256 DigestInfo (RFC 8017 section 9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A node-forge compatible RSA signer backed by node:crypto: forge computes the SHA-256 of the
 * to-be-signed structure, node performs the RSASSA-PKCS1-v1_5 private-key operation (about 100x
 * faster than forge's JavaScript big integers, and constant-time). Use with cert.sign / csr.sign.
 */
export function nodeRsaSigner(keyPem: string | forge.pki.rsa.PrivateKey): forge.pki.rsa.PrivateKey {
  const pem = typeof keyPem === 'string' ? keyPem : pki.privateKeyToPem(keyPem);
  let key;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', 'the signing key is not a PEM RSA private key', { cause: e });
  }
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      if (md.algorithm !== 'sha256') throw new Error('only SHA-256 signatures are made');
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      return privateEncrypt(
        { key, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]),
      ).toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}
