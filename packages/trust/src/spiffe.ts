/**
 * SPIFFE names and the API's peer check (MIAF, Margo Workload Management API 1.0.0-rc.2):
 * the server is `spiffe://<trust domain>/margo/wfm/<wfm id>`, each device
 * `spiffe://<trust domain>/margo/wfm/<wfm id>/client/<device id>`. node:crypto only, pure: the
 * check runs per request on the server, so it must be cheap and must not load node-forge.
 */
import { X509Certificate } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import { isValidDeviceId } from './device-id.js';
import { certificateSerial, checkIssued, hasExtendedKeyUsage, notAfter } from './x509-native.js';

/**
 * The trust domain of a data folder made without one. `.internal` is the top-level name ICANN
 * reserved for private use (2024), so it can never collide with somebody's public domain.
 */
export const DEFAULT_TRUST_DOMAIN = 'margo-gitops.internal';

/** SPIFFE trust domain name rule (SPIFFE-ID spec 2.1): lower-case letters, digits, `.`, `-`, `_`. */
export function isValidTrustDomain(td: unknown): td is string {
  return typeof td === 'string' && /^[a-z0-9._-]{1,255}$/.test(td) && !/^\.+$/.test(td);
}

/** A WFM id is one path segment of a SPIFFE ID (letters, digits, `.`, `-`, `_`), at most 64 long. */
export function isValidWfmId(id: unknown): id is string {
  return typeof id === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(id) && !/^\.+$/.test(id);
}

/** The identity facts of one fleet manager: what every SVID it issues or accepts names. */
export interface SpiffeIdentity {
  trustDomain: string;
  wfmId: string;
}

/** Throws API_SETTINGS_INVALID unless trust domain and WFM id are valid. */
export function assertSpiffeIdentity(id: SpiffeIdentity): void {
  if (!isValidTrustDomain(id.trustDomain))
    throw new MargoError(
      'API_SETTINGS_INVALID',
      `trust domain ${JSON.stringify(id.trustDomain)} is not valid`,
    );
  if (!isValidWfmId(id.wfmId))
    throw new MargoError('API_SETTINGS_INVALID', `WFM id ${JSON.stringify(id.wfmId)} is not valid`);
}

/** The default WFM id: the first 16 hex digits of the root CA's SHA-256 fingerprint. */
export function wfmIdFromFingerprint(caFingerprintHex: string): string {
  return caFingerprintHex.replace(/^sha256:/, '').slice(0, 16);
}

/** `spiffe://<td>/margo/wfm/<wfm id>`: the server's SVID name. */
export function wfmSpiffeId(id: SpiffeIdentity): string {
  return `spiffe://${id.trustDomain}/margo/wfm/${id.wfmId}`;
}

/** `spiffe://<td>/margo/wfm/<wfm id>/client/<device id>`: a device's SVID name. */
export function clientSpiffeId(id: SpiffeIdentity, deviceId: string): string {
  return `${wfmSpiffeId(id)}/client/${deviceId}`;
}

/**
 * Splits a SPIFFE ID into trust domain and path segments; undefined when it is not one (SPIFFE-ID
 * spec: scheme `spiffe`, no port, user info, query or fragment, no empty, `.` or `..` segment).
 */
export function parseSpiffeId(uri: string): { trustDomain: string; segments: string[] } | undefined {
  const m = /^spiffe:\/\/([^/]+)((?:\/[^/]+)*)$/.exec(uri);
  if (!m || !isValidTrustDomain(m[1])) return undefined;
  const segments = m[2] ? m[2].slice(1).split('/') : [];
  if (segments.some((s) => !/^[A-Za-z0-9._-]+$/.test(s) || s === '.' || s === '..')) return undefined;
  return { trustDomain: m[1]!, segments };
}

/**
 * The URI SANs of a certificate. Node prints the SAN extension as `TYPE:value, ...` and quotes a
 * value holding a separator or a quote; such a value is never a valid SPIFFE ID, so it is returned
 * as is (quoted) and fails the parse that follows rather than being unescaped.
 */
export function uriSans(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (!san) return [];
  return san
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

/** What the API knows of a caller that passed identifyPeer. */
export interface IdentifiedPeer {
  deviceId: string;
  spiffeId: string;
  /** Serial (lower-case hex, no leading zeros): the key of the revocation list. */
  serial: string;
  notAfter: Date;
}

/** Why a caller was refused: a stable API_* code and the HTTP status to answer with. */
export interface RefusedPeer {
  problem:
    | 'API_CLIENT_CERT_REQUIRED'
    | 'API_CLIENT_CERT_UNTRUSTED'
    | 'API_CLIENT_CERT_EXPIRED'
    | 'API_CLIENT_CERT_REVOKED'
    | 'API_SPIFFE_ID_INVALID';
  status: 401 | 403;
}

export interface IdentifyPeerOptions extends SpiffeIdentity {
  ca: X509Certificate;
  /** Per request, so that `margo device revoke` ends access at once, not only at the next handshake. */
  isRevoked(serial: string): boolean;
  now?: Date;
}

/**
 * The caller's identity from its certificate chain (leaf first, DER or parsed), checked:
 * issued directly by our root CA (pathLen 0: no intermediates), not a CA, valid now, for client
 * authentication, exactly one URI SAN and it is `.../margo/wfm/<our wfm id>/client/<valid device
 * id>` in our trust domain, and not revoked. Pure apart from `isRevoked`.
 *
 * @example
 * const r = identifyPeer([socket.getPeerCertificate().raw], { ca, trustDomain, wfmId, isRevoked });
 * if ('problem' in r) refuse(r.status, r.problem); else serve(r.deviceId);
 */
export function identifyPeer(
  chain: ReadonlyArray<Uint8Array | X509Certificate>,
  opts: IdentifyPeerOptions,
): IdentifiedPeer | RefusedPeer {
  const first = chain[0];
  if (!first || (!(first instanceof X509Certificate) && first.length === 0))
    return { problem: 'API_CLIENT_CERT_REQUIRED', status: 401 };
  let leaf: X509Certificate;
  try {
    leaf = first instanceof X509Certificate ? first : new X509Certificate(first);
  } catch {
    return { problem: 'API_CLIENT_CERT_UNTRUSTED', status: 401 };
  }
  const checked = checkLeaf(leaf, opts);
  if ('problem' in checked) return checked;
  if (opts.isRevoked(checked.serial)) return { problem: 'API_CLIENT_CERT_REVOKED', status: 403 };
  return checked;
}

/**
 * The part of identifyPeer that depends on the certificate and the clock only (what a server may
 * cache per TLS connection; revocation must still be asked per request).
 */
export function checkLeaf(
  leaf: X509Certificate,
  opts: SpiffeIdentity & { ca: X509Certificate; now?: Date },
): IdentifiedPeer | RefusedPeer {
  const issued = checkIssued(opts.ca, leaf, opts.now ?? new Date());
  if (issued === 'untrusted' || !hasExtendedKeyUsage(leaf, 'clientAuth'))
    return { problem: 'API_CLIENT_CERT_UNTRUSTED', status: 401 };
  if (issued === 'expired') return { problem: 'API_CLIENT_CERT_EXPIRED', status: 401 };
  const uris = uriSans(leaf);
  if (uris.length !== 1) return { problem: 'API_SPIFFE_ID_INVALID', status: 401 };
  const id = parseSpiffeId(uris[0]!);
  const s = id?.segments ?? [];
  if (
    !id ||
    id.trustDomain !== opts.trustDomain ||
    s.length !== 5 ||
    s[0] !== 'margo' ||
    s[1] !== 'wfm' ||
    s[2] !== opts.wfmId ||
    s[3] !== 'client' ||
    !isValidDeviceId(s[4])
  )
    return { problem: 'API_SPIFFE_ID_INVALID', status: 401 };
  return { deviceId: s[4]!, spiffeId: uris[0]!, serial: certificateSerial(leaf), notAfter: notAfter(leaf) };
}

/**
 * The SPIFFE trust bundle of a trust domain as a JWK set (SPIFFE Trust Domain and Bundle spec,
 * section 4): one `x509-svid` key per root CA, its certificate in `x5c`.
 */
export function spiffeBundle(caCertPem: string, sequence = 1): Record<string, unknown> {
  const ca = new X509Certificate(caCertPem);
  const jwk = ca.publicKey.export({ format: 'jwk' });
  return {
    keys: [{ use: 'x509-svid', ...jwk, x5c: [ca.raw.toString('base64')] }],
    spiffe_sequence: sequence,
  };
}
