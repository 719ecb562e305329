import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import { isValidDeviceId } from './device-id.js';

/**
 * The enrolment string `margo device add` prints and the device is started with (version 1):
 *
 *     mge1.<deviceId>.<tokenId>.<secret>.<caFingerprint>
 *
 * - `deviceId`: the device's id (may itself contain dots; the last three fields never do);
 * - `tokenId`: 16 base64url characters (96 random bits), public: sent in the enrolment request;
 * - `secret`: 43 base64url characters (256 random bits), never sent anywhere by the device;
 * - `caFingerprint`: SHA-256 of the root CA certificate (DER), 43 base64url characters; the
 *   device refuses a served CA with another fingerprint (TRUST_ENROL_CA_MISMATCH).
 *
 * The device proves it holds the secret with an HMAC over the exact CSR it sends (see
 * enrolmentProof), so an intercepted request cannot be replayed with another key.
 */
export interface EnrolmentString {
  deviceId: string;
  tokenId: string;
  secret: string;
  /** Lower-case hex SHA-256 of the root CA DER (the form certificateFingerprint returns). */
  caFingerprint: string;
}

export const ENROLMENT_STRING_PREFIX = 'mge1';
const B64URL = /^[A-Za-z0-9_-]+$/;
const PROOF_LABEL = 'margo-enrol-proof-v1';

function invalid(message: string): MargoError {
  return new MargoError('TRUST_ENROL_STRING_INVALID', message);
}

/** A new random token id (public) and secret (shown once). */
export function newEnrolmentSecret(): { tokenId: string; secret: string } {
  return { tokenId: randomBytes(12).toString('base64url'), secret: randomBytes(32).toString('base64url') };
}

/** Hex (colons and spaces allowed) SHA-256 fingerprint to its lower-case hex form; throws unless 32 bytes. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256:/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new MargoError('USAGE_ERROR', 'a CA fingerprint is 64 hex digits (SHA-256; colons allowed)');
  return hex;
}

/** Formats the enrolment string (see EnrolmentString). */
export function formatEnrolmentString(e: EnrolmentString): string {
  const fp = Buffer.from(normaliseFingerprint(e.caFingerprint), 'hex').toString('base64url');
  return [ENROLMENT_STRING_PREFIX, e.deviceId, e.tokenId, e.secret, fp].join('.');
}

/**
 * Parses an enrolment string. Throws TRUST_ENROL_STRING_INVALID for anything else, including the
 * old `<deviceId>:mge_<secret>` bearer form, which is refused on purpose: it carries no CA pin and
 * the server would have to receive the secret itself (replayable by a proxy).
 *
 * @example
 * const { deviceId, tokenId, secret, caFingerprint } = parseEnrolmentString(text.trim());
 */
export function parseEnrolmentString(text: string): EnrolmentString {
  const s = text.trim();
  if (s.includes(':mge_') || s.startsWith('mge_'))
    throw invalid('this is an enrolment token of the old form (ID:mge_...), which is no longer accepted');
  const parts = s.split('.');
  if (parts[0] !== ENROLMENT_STRING_PREFIX || parts.length < 5)
    throw invalid('the enrolment string does not start with mge1. or misses fields');
  const [tokenId, secret, fp] = parts.slice(-3) as [string, string, string];
  const deviceId = parts.slice(1, -3).join('.');
  if (!isValidDeviceId(deviceId)) throw invalid('the enrolment string names no valid device id');
  if (!B64URL.test(tokenId) || tokenId.length !== 16)
    throw invalid('the token id of the enrolment string is malformed');
  if (!B64URL.test(secret) || Buffer.from(secret, 'base64url').length !== 32)
    throw invalid('the secret of the enrolment string is malformed');
  const fpBytes = B64URL.test(fp) ? Buffer.from(fp, 'base64url') : Buffer.alloc(0);
  if (fpBytes.length !== 32) throw invalid('the CA fingerprint of the enrolment string is malformed');
  return { deviceId, tokenId, secret, caFingerprint: fpBytes.toString('hex') };
}

/**
 * The MAC key of a token: HKDF-SHA256(secret, salt = tokenId, info = "margo-enrol-proof-v1").
 * The server stores this key, not the secret (see EnrolmentTokenStore for the trade-off).
 */
export function enrolmentProofKey(secret: string, tokenId: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from(tokenId, 'utf8'), PROOF_LABEL, 32),
  );
}

/**
 * The bytes the proof covers: `margo-enrol-proof-v1 \0 tokenId \0 deviceId \0` followed by the
 * UTF-8 bytes of the CSR PEM exactly as sent in the request's `csr` field.
 */
function proofMessage(p: { tokenId: string; deviceId: string; csr: string }): Buffer {
  return Buffer.concat([
    Buffer.from(`${PROOF_LABEL}\0${p.tokenId}\0${p.deviceId}\0`, 'utf8'),
    Buffer.from(p.csr, 'utf8'),
  ]);
}

/**
 * Proof of possession of the token secret for one CSR: base64url(HMAC-SHA256(key, message)).
 *
 * @example
 * const proof = enrolmentProof(enrolmentProofKey(secret, tokenId), { tokenId, deviceId, csr: csrPem });
 */
export function enrolmentProof(key: Buffer, p: { tokenId: string; deviceId: string; csr: string }): string {
  return createHmac('sha256', key).update(proofMessage(p)).digest('base64url');
}

/**
 * The authenticating fields of `POST /onboarding` for `csr`: `{deviceId, csr, tokenId, proof}`.
 * `deviceId` defaults to the one the string names (tests pass another to show it is refused).
 *
 * @example
 * body: JSON.stringify({ ...enrolmentRequestFields(parseEnrolmentString(s), csrPem), facts })
 */
export function enrolmentRequestFields(
  token: EnrolmentString | string,
  csr: string,
  deviceId?: string,
): { deviceId: string; csr: string; tokenId: string; proof: string } {
  const t = typeof token === 'string' ? parseEnrolmentString(token) : token;
  const id = deviceId ?? t.deviceId;
  const key = enrolmentProofKey(t.secret, t.tokenId);
  return {
    deviceId: id,
    csr,
    tokenId: t.tokenId,
    proof: enrolmentProof(key, { tokenId: t.tokenId, deviceId: id, csr }),
  };
}

/** Constant-time check of a proof (false for anything malformed). */
export function enrolmentProofMatches(
  key: Buffer,
  p: { tokenId: string; deviceId: string; csr: string },
  proof: unknown,
): boolean {
  if (typeof proof !== 'string' || !B64URL.test(proof)) return false;
  const got = Buffer.from(proof, 'base64url');
  const want = createHmac('sha256', key).update(proofMessage(p)).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}
