import { sign as rsaSign, X509Certificate, type KeyObject } from 'node:crypto';

/** File on a device's `status` branch mapping each signed file to its payload signature. */
export const SIGNATURES_FILE = 'signatures.json';

/**
 * Signs a payload per Margo's payload-signing scheme: RSASSA-PKCS1-v1_5 over the SHA-256 digest of
 * `bytes` with the device key. Returns `<base64 DER device certificate>;<base64 signature>` (the
 * value of `X-Payload-Signature`, or of an entry in signatures.json). The certificate is carried
 * instead of the bare public key so that receivers can check it against the root CA.
 *
 * @example
 * const header = signPayload(body, deviceKeyPem, deviceCertPem);
 */
export function signPayload(
  bytes: Uint8Array,
  deviceKeyPem: string | KeyObject,
  deviceCertPem: string,
): string {
  const der = new X509Certificate(deviceCertPem).raw;
  const sig = rsaSign('sha256', bytes, deviceKeyPem);
  return `${der.toString('base64')};${sig.toString('base64')}`;
}
