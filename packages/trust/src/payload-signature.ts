import { createPublicKey, verify as rsaVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { MargoError, isMargoError } from '@margo-gitops/spec';
import { isWitnessEntry, verifyWitness } from './api-witness.js';
import { verifyDeviceCertificate } from './device-identity.js';
import type { SpiffeIdentity } from './spiffe.js';
import { certificateSerial, certificateSubjectField, readCertificate } from './x509-native.js';

import { SIGNATURES_FILE, signPayload } from './sign-payload.js';

export { SIGNATURES_FILE, signPayload };

export type VerifyPayloadOptions =
  /** Expect exactly this certificate's key (the orchestrator's stored device certificate). */
  | { expectedCertPem: string; revoked?: ReadonlySet<string>; now?: Date }
  /**
   * Accept a device certificate issued by the CA, optionally for `deviceId` and not revoked. With
   * `deviceId`, verifySignedFiles also accepts API witness entries (api-witness.ts), from the fleet
   * manager `witness` names when given, else from any WFM id our CA issued.
   */
  | {
      caCertPem: string;
      deviceId?: string;
      revoked?: ReadonlySet<string>;
      now?: Date;
      witness?: SpiffeIdentity;
    };

export interface VerifiedPayload {
  /** The signer's device id (certificate CN; with expectedCertPem, that certificate's CN). */
  deviceId: string;
  serial: string;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/**
 * Verifies a payload signature and identifies the signer. Throws TRUST_STATUS_UNSIGNED (no
 * header), TRUST_STATUS_MALFORMED, TRUST_STATUS_FORGED (bad signature, or a key/cert the CA never
 * certified), TRUST_STATUS_WRONG_SIGNER (a genuine device that is not the expected one),
 * TRUST_DEVICE_CERT_REVOKED / TRUST_DEVICE_CERT_EXPIRED.
 *
 * @example
 * const { deviceId } = verifyPayload(body, header, { caCertPem, deviceId: 'press-7', revoked });
 */
export function verifyPayload(
  bytes: Uint8Array,
  header: string | undefined | null,
  opts: VerifyPayloadOptions,
): VerifiedPayload {
  if (header === undefined || header === null || header.trim() === '')
    throw new MargoError('TRUST_STATUS_UNSIGNED', 'the payload carries no signature');
  const parts = header.trim().split(';');
  if (parts.length !== 2 || !B64.test(parts[0]!) || !B64.test(parts[1]!)) {
    throw new MargoError(
      'TRUST_STATUS_MALFORMED',
      'the payload signature is not `<base64 certificate or key>;<base64 signature>`',
    );
  }
  const keyDer = Buffer.from(parts[0]!, 'base64');
  const signature = Buffer.from(parts[1]!, 'base64');

  let carriedCert: X509Certificate | undefined;
  let carriedKey: KeyObject;
  try {
    carriedCert = new X509Certificate(keyDer);
    carriedKey = carriedCert.publicKey;
  } catch {
    carriedCert = undefined;
    try {
      carriedKey = createPublicKey({ key: keyDer, format: 'der', type: 'spki' });
    } catch {
      throw new MargoError(
        'TRUST_STATUS_MALFORMED',
        'the payload signature carries neither a certificate nor a public key',
      );
    }
  }

  let sigOk = false;
  try {
    sigOk = rsaVerify('sha256', bytes, carriedKey, signature);
  } catch {
    sigOk = false;
  }

  if ('expectedCertPem' in opts) {
    const expected = readCertificate(opts.expectedCertPem, 'device certificate');
    const cn = certificateSubjectField(expected, 'CN') ?? '';
    if (!spki(expected.publicKey).equals(spki(carriedKey))) {
      throw new MargoError('TRUST_STATUS_WRONG_SIGNER', `the payload is not signed by device ${cn}`, {
        data: { deviceId: cn },
      });
    }
    if (!sigOk)
      throw new MargoError('TRUST_STATUS_FORGED', `the payload signature for device ${cn} is invalid`, {
        data: { deviceId: cn },
      });
    const serial = certificateSerial(expected);
    if (opts.revoked?.has(serial)) {
      throw new MargoError('TRUST_DEVICE_CERT_REVOKED', `the certificate of device ${cn} was revoked`, {
        data: { deviceId: cn, serial },
      });
    }
    return { deviceId: cn, serial };
  }

  if (!sigOk) throw new MargoError('TRUST_STATUS_FORGED', 'the payload signature is invalid');
  if (!carriedCert)
    throw new MargoError(
      'TRUST_STATUS_FORGED',
      'the payload is signed with a bare key, not a certificate from this root CA',
    );
  const ca = readCertificate(opts.caCertPem, 'root CA certificate');
  try {
    const v = verifyDeviceCertificate(ca, carriedCert, { revoked: opts.revoked, now: opts.now });
    if (opts.deviceId !== undefined && v.deviceId !== opts.deviceId) {
      throw new MargoError(
        'TRUST_STATUS_WRONG_SIGNER',
        `the payload is signed by device ${v.deviceId}, not ${opts.deviceId}`,
        {
          data: { deviceId: opts.deviceId, signerDeviceId: v.deviceId, serial: v.serial },
        },
      );
    }
    return { deviceId: v.deviceId, serial: v.serial };
  } catch (e) {
    if (isMargoError(e) && e.code === 'TRUST_DEVICE_CERT_UNTRUSTED') {
      throw new MargoError(
        'TRUST_STATUS_FORGED',
        'the payload signer certificate was not issued by this root CA',
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Builds signatures.json for a set of status files: a flat JSON object `{ "<path>": "<cert>;<signature>" }`
 * with sorted keys (docs/CONTRACTS.md).
 *
 * @example
 * files.set(SIGNATURES_FILE, signFiles(files, keyPem, certPem));
 */
export function signFiles(
  files: ReadonlyMap<string, Uint8Array>,
  deviceKeyPem: string | KeyObject,
  deviceCertPem: string,
): Buffer {
  const signatures: Record<string, string> = {};
  for (const p of [...files.keys()].sort()) {
    if (p === SIGNATURES_FILE) continue;
    signatures[p] = signPayload(files.get(p)!, deviceKeyPem, deviceCertPem);
  }
  return Buffer.from(JSON.stringify(signatures, null, 2) + '\n', 'utf8');
}

export interface SignedFilesResult {
  /** Files whose signature verified, with their signer. */
  verified: Map<string, VerifiedPayload>;
  /** Files refused, with the code (TRUST_STATUS_* / TRUST_DEVICE_CERT_*) and a message. */
  refused: { path: string; code: string; message: string }[];
}

/**
 * Verifies every file of a status tree against signatures.json (absent or unreadable ->
 * every file TRUST_STATUS_UNSIGNED / _MALFORMED). Never throws for a bad file: the orchestrator
 * ignores and flags the refused ones and keeps the verified ones. An entry that is an object is an
 * API witness (a file `margo serve` wrote for the device over the REST API): it counts only with
 * `caCertPem` and `deviceId`, for exactly that device and path (TRUST_WITNESS_* otherwise).
 */
export function verifySignedFiles(
  files: ReadonlyMap<string, Uint8Array>,
  signaturesJson: Uint8Array | undefined | null,
  opts: VerifyPayloadOptions,
): SignedFilesResult {
  let sigs: Record<string, unknown> = {};
  let fileProblem: { code: string; message: string } | undefined;
  if (!signaturesJson)
    fileProblem = { code: 'TRUST_STATUS_UNSIGNED', message: `${SIGNATURES_FILE} is missing` };
  else {
    try {
      const doc = JSON.parse(Buffer.from(signaturesJson).toString('utf8')) as Record<string, unknown>;
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
      // flat `{path: signature}`; also accepts a `{signatures: {...}}` wrapper
      sigs =
        doc.signatures && typeof doc.signatures === 'object'
          ? (doc.signatures as Record<string, unknown>)
          : doc;
    } catch {
      fileProblem = { code: 'TRUST_STATUS_MALFORMED', message: `${SIGNATURES_FILE} is not valid` };
    }
  }
  const result: SignedFilesResult = { verified: new Map(), refused: [] };
  for (const p of [...files.keys()].sort()) {
    if (p === SIGNATURES_FILE) continue;
    if (fileProblem) {
      result.refused.push({ path: p, ...fileProblem });
      continue;
    }
    const header = sigs[p];
    try {
      result.verified.set(
        p,
        isWitnessEntry(header)
          ? witnessOf(files.get(p)!, header, p, opts)
          : verifyPayload(files.get(p)!, typeof header === 'string' ? header : undefined, opts),
      );
    } catch (e) {
      if (!isMargoError(e)) throw e;
      result.refused.push({ path: p, code: e.code, message: e.message });
    }
  }
  return result;
}

function witnessOf(
  bytes: Uint8Array,
  entry: unknown,
  path: string,
  opts: VerifyPayloadOptions,
): VerifiedPayload {
  if (!('caCertPem' in opts) || opts.deviceId === undefined)
    throw new MargoError(
      'TRUST_WITNESS_UNTRUSTED',
      'an API witness entry is accepted only when checking one named device against the root CA',
    );
  return verifyWitness(bytes, entry, {
    caCertPem: opts.caCertPem,
    deviceId: opts.deviceId,
    path,
    ...(opts.revoked ? { revoked: opts.revoked } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.witness ? { identity: opts.witness } : {}),
  });
}
