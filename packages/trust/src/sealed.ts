import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';

/** Prefix of every sealed value. */
export const SEALED_PREFIX = 'sealed:v1:';
const FORMAT = 1;
const KEY_ID_LEN = 32;
const IV_LEN = 12;
const TAG_LEN = 16;

/*
 * Binary layout of the base64 part (v1):
 *   1 byte   format (1)
 *   32 bytes key id = SHA-256 of the recipient's SubjectPublicKeyInfo DER
 *   2 bytes  length L of the wrapped key (big-endian)
 *   L bytes  AES-256 key wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256)
 *   12 bytes AES-GCM IV
 *   16 bytes AES-GCM tag
 *   rest     ciphertext
 * The first 35 + L bytes are authenticated as AES-GCM additional data.
 */

function keyId(key: KeyObject): Buffer {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest();
}

function recipientKey(deviceCertPem: string): KeyObject {
  try {
    return new X509Certificate(deviceCertPem).publicKey;
  } catch (e) {
    throw new MargoError(
      'TRUST_KEY_INVALID',
      'the device certificate to seal to is not a PEM X.509 certificate',
      { cause: e },
    );
  }
}

/** True when `value` is a sealed string (`sealed:v1:...`). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
}

/**
 * Encrypts `value` so that only the holder of the device key behind `deviceCertPem` can read it:
 * a fresh AES-256-GCM key encrypts the value, RSA-OAEP-SHA256 wraps that key.
 *
 * @example
 * const s = seal('registry-password', deviceCertPem); // 'sealed:v1:AQ...'
 */
export function seal(value: string | Uint8Array, deviceCertPem: string): string {
  const pub = recipientKey(deviceCertPem);
  const aesKey = randomBytes(32);
  const wrapped = publicEncrypt(
    { key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    aesKey,
  );
  const header = Buffer.alloc(1 + KEY_ID_LEN + 2);
  header[0] = FORMAT;
  keyId(pub).copy(header, 1);
  header.writeUInt16BE(wrapped.length, 1 + KEY_ID_LEN);
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
  cipher.setAAD(Buffer.concat([header, wrapped]));
  const ct = Buffer.concat([
    cipher.update(typeof value === 'string' ? Buffer.from(value, 'utf8') : value),
    cipher.final(),
  ]);
  return SEALED_PREFIX + Buffer.concat([header, wrapped, iv, cipher.getAuthTag(), ct]).toString('base64');
}

function unsealBytes(sealed: string, deviceKeyPem: string | KeyObject): Buffer {
  if (!isSealed(sealed))
    throw new MargoError('TRUST_SEALED_MALFORMED', 'the value is not sealed (no sealed:v1: prefix)');
  const b64 = sealed.slice(SEALED_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
    throw new MargoError('TRUST_SEALED_MALFORMED', 'the sealed value is not base64');
  const raw = Buffer.from(b64, 'base64');
  const minLen = 1 + KEY_ID_LEN + 2;
  if (raw.length < minLen || raw[0] !== FORMAT)
    throw new MargoError('TRUST_SEALED_MALFORMED', 'the sealed value has an unknown format');
  const wrappedLen = raw.readUInt16BE(1 + KEY_ID_LEN);
  if (raw.length < minLen + wrappedLen + IV_LEN + TAG_LEN)
    throw new MargoError('TRUST_SEALED_MALFORMED', 'the sealed value is truncated');
  let priv: KeyObject;
  try {
    priv = typeof deviceKeyPem === 'string' ? createPrivateKey(deviceKeyPem) : deviceKeyPem;
  } catch (e) {
    throw new MargoError('TRUST_KEY_INVALID', 'the device key is not a PEM private key', { cause: e });
  }
  const kid = raw.subarray(1, 1 + KEY_ID_LEN);
  if (!kid.equals(keyId(createPublicKey(priv)))) {
    throw new MargoError('TRUST_SEALED_WRONG_KEY', 'the value was sealed to another device certificate');
  }
  const aad = raw.subarray(0, minLen + wrappedLen);
  const wrapped = raw.subarray(minLen, minLen + wrappedLen);
  const iv = raw.subarray(minLen + wrappedLen, minLen + wrappedLen + IV_LEN);
  const tag = raw.subarray(minLen + wrappedLen + IV_LEN, minLen + wrappedLen + IV_LEN + TAG_LEN);
  const ct = raw.subarray(minLen + wrappedLen + IV_LEN + TAG_LEN);
  try {
    const aesKey = privateDecrypt(
      { key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      wrapped,
    );
    const d = createDecipheriv('aes-256-gcm', aesKey, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  } catch {
    throw new MargoError('TRUST_SEALED_TAMPERED', 'the sealed value failed authentication');
  }
}

/**
 * Decrypts a sealed value with the device's private key. Throws TRUST_SEALED_MALFORMED,
 * TRUST_SEALED_WRONG_KEY (sealed to another device) or TRUST_SEALED_TAMPERED.
 *
 * @example
 * const password = unseal(s, deviceKeyPem);
 */
export function unseal(sealed: string, deviceKeyPem: string | KeyObject): string {
  return unsealBytes(sealed, deviceKeyPem).toString('utf8');
}

/** unseal for binary payloads (sealed files). */
export function unsealToBuffer(sealed: string, deviceKeyPem: string | KeyObject): Buffer {
  return unsealBytes(sealed, deviceKeyPem);
}

/**
 * Returns a deep copy of a parsed document (YAML/JSON) with every `sealed:v1:` string replaced by
 * its plaintext. For the agent, right before handing parameters to a driver; never persist or log
 * the result.
 *
 * @example
 * const params = unsealDeep(deployment.spec.parameters, deviceKeyPem);
 */
export function unsealDeep<T>(value: T, deviceKeyPem: string | KeyObject): T {
  const key = typeof deviceKeyPem === 'string' ? createPrivateKey(deviceKeyPem) : deviceKeyPem;
  const walk = (v: unknown): unknown => {
    if (isSealed(v)) return unseal(v, key);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * Seals a whole desired state: every file becomes `<path>.sealed` holding `sealed:v1:...` of its
 * bytes (the optional "sealed desired state" mode). The manifest is built over the sealed files.
 */
export function sealFiles(
  files: ReadonlyMap<string, Uint8Array>,
  deviceCertPem: string,
): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [p, content] of files)
    out.set(`${p}.sealed`, Buffer.from(seal(content, deviceCertPem) + '\n', 'utf8'));
  return out;
}

/** Reverse of sealFiles: `<path>.sealed` -> original bytes; other files are passed through. */
export function unsealFiles(
  files: ReadonlyMap<string, Uint8Array>,
  deviceKeyPem: string | KeyObject,
): Map<string, Buffer> {
  const key = typeof deviceKeyPem === 'string' ? createPrivateKey(deviceKeyPem) : deviceKeyPem;
  const out = new Map<string, Buffer>();
  for (const [p, content] of files) {
    if (p.endsWith('.sealed'))
      out.set(
        p.slice(0, -'.sealed'.length),
        unsealToBuffer(Buffer.from(content).toString('utf8').trim(), key),
      );
    else out.set(p, Buffer.from(content));
  }
  return out;
}
