/**
 * The API witness: how a status file written by `margo serve` for a device over the REST API is
 * signed. The server cannot sign as the device (it never holds the device key), so it signs as
 * itself, with the key of its X.509-SVID (`spiffe://<td>/margo/wfm/<wfm id>`, issued by our CA),
 * and says so: the signatures.json entry of such a file is an object
 *
 * ```json
 * {"witness": "<base64 DER certificate>;<base64 signature>", "peer": "<client SPIFFE ID>"}
 * ```
 *
 * where the signature covers `"margo-gitops api-witness v1\n" + deviceId + "\n" + path + "\n"` +
 * the file's bytes. Binding the device and the path means an entry copied to another file or to
 * another device's status branch (by somebody holding only a Git token) no longer verifies.
 * A witness must be a WFM id (no `/client/` segment): a device certificate can never witness.
 * `peer` is what the server saw on the TLS connection; it is provenance, not part of the proof.
 *
 * Pure apart from node:crypto; the caller brings the revocation list and the clock.
 */
import { sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import type { VerifiedPayload } from './payload-signature.js';
import { isValidWfmId, parseSpiffeId, uriSans, type SpiffeIdentity } from './spiffe.js';
import { certificateSerial, checkIssued, readCertificate } from './x509-native.js';

/** Domain separation: a witness signature can never be mistaken for any other signature we make. */
export const WITNESS_CONTEXT = 'margo-gitops api-witness v1\n';

/** A signatures.json entry made by the API server for a file it wrote for a device. */
export interface WitnessEntry {
  witness: string;
  peer: string;
}

/** What a verified witness entry tells beyond the device id. */
export interface VerifiedWitness extends VerifiedPayload {
  witness: { spiffeId: string; peer: string };
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The exact bytes a witness signs for `path` of `deviceId`'s status branch. */
export function witnessPayload(deviceId: string, path: string, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${WITNESS_CONTEXT}${deviceId}\n${path}\n`, 'utf8'), bytes]);
}

/** True for a value shaped like a witness entry (an object: device entries are strings). */
export function isWitnessEntry(v: unknown): v is WitnessEntry {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'witness' in v;
}

/**
 * Signs `bytes`, to be stored at `path` of `deviceId`'s status branch, as the API server.
 *
 * @example
 * sigs['deployments/x.json'] = signWitness(bytes, { deviceId, path, peer, keyPem, certPem });
 */
export function signWitness(
  bytes: Uint8Array,
  o: { deviceId: string; path: string; peer: string; keyPem: string | KeyObject; certPem: string },
): WitnessEntry {
  const der = new X509Certificate(o.certPem).raw;
  const sig = sign('sha256', witnessPayload(o.deviceId, o.path, bytes), o.keyPem);
  return { witness: `${der.toString('base64')};${sig.toString('base64')}`, peer: o.peer };
}

export interface VerifyWitnessOptions {
  caCertPem: string;
  /** The device whose status branch the entry was read from. */
  deviceId: string;
  /** The file's path on that branch. */
  path: string;
  revoked?: ReadonlySet<string>;
  now?: Date;
  /** When known: the witness must be exactly this fleet manager (trust domain and WFM id). */
  identity?: SpiffeIdentity;
}

/**
 * Checks a witness entry for `bytes`. Throws TRUST_WITNESS_MALFORMED (not the entry shape),
 * TRUST_WITNESS_UNTRUSTED (the certificate is not from our CA, not valid now, or not a WFM id:
 * a device certificate never is), TRUST_WITNESS_REVOKED, or TRUST_WITNESS_FORGED (the signature
 * does not cover these bytes for this device and path, e.g. an entry moved elsewhere).
 *
 * @example
 * verifyWitness(bytes, sigs[path], { caCertPem, deviceId: 'press-7', path, revoked });
 */
export function verifyWitness(bytes: Uint8Array, entry: unknown, o: VerifyWitnessOptions): VerifiedWitness {
  if (!isWitnessEntry(entry) || typeof entry.witness !== 'string' || typeof entry.peer !== 'string')
    throw new MargoError(
      'TRUST_WITNESS_MALFORMED',
      'the witness entry is not {"witness": "<cert>;<sig>", "peer": "<spiffe id>"}',
    );
  const parts = entry.witness.split(';');
  if (parts.length !== 2 || !B64.test(parts[0]!) || !B64.test(parts[1]!))
    throw new MargoError(
      'TRUST_WITNESS_MALFORMED',
      'the witness is not `<base64 certificate>;<base64 signature>`',
    );
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(parts[0]!, 'base64'));
  } catch {
    throw new MargoError('TRUST_WITNESS_MALFORMED', 'the witness does not carry an X.509 certificate');
  }
  const ca = readCertificate(o.caCertPem, 'root CA certificate');
  const issued = checkIssued(ca, cert, o.now ?? new Date());
  if (issued !== 'ok')
    throw new MargoError(
      'TRUST_WITNESS_UNTRUSTED',
      issued === 'expired'
        ? 'the witness certificate is expired or not yet valid'
        : 'the witness certificate was not issued by this root CA',
    );
  const spiffeId = wfmIdOf(cert, o.identity);
  if (!spiffeId)
    throw new MargoError(
      'TRUST_WITNESS_UNTRUSTED',
      'the witness certificate does not name this fleet manager (spiffe://<trust domain>/margo/wfm/<wfm id>)',
    );
  const serial = certificateSerial(cert);
  if (o.revoked?.has(serial))
    throw new MargoError('TRUST_WITNESS_REVOKED', 'the witness certificate was revoked', {
      data: { serial },
    });
  let ok = false;
  try {
    ok = verify(
      'sha256',
      witnessPayload(o.deviceId, o.path, bytes),
      cert.publicKey,
      Buffer.from(parts[1]!, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok)
    throw new MargoError(
      'TRUST_WITNESS_FORGED',
      `the witness signature does not cover this content of ${o.path} for device ${o.deviceId}`,
      { data: { deviceId: o.deviceId, path: o.path } },
    );
  return { deviceId: o.deviceId, serial, witness: { spiffeId, peer: entry.peer } };
}

/** The certificate's only URI SAN when it is a WFM id (and, when given, this one); else undefined. */
function wfmIdOf(cert: X509Certificate, identity: SpiffeIdentity | undefined): string | undefined {
  const uris = uriSans(cert);
  if (uris.length !== 1) return undefined;
  const id = parseSpiffeId(uris[0]!);
  const s = id?.segments ?? [];
  if (!id || s.length !== 3 || s[0] !== 'margo' || s[1] !== 'wfm' || !isValidWfmId(s[2])) return undefined;
  if (identity && (id.trustDomain !== identity.trustDomain || s[2] !== identity.wfmId)) return undefined;
  return uris[0];
}
