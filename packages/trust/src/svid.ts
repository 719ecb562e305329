/**
 * X.509-SVIDs (MIAF) issued by the root CA: the server's for the API listener and a device's for
 * clients that are not our agent (the rc.2 API has no onboarding call). The identity they carry
 * (trust domain, WFM id) is a property of the PKI, kept beside it in `pki/spiffe.json`, so every
 * part of the server that issues or checks an SVID reads the same one.
 */
import { isIP } from 'node:net';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { issueCertificate, type KeyAndCert } from './ca.js';
import { assertDeviceId } from './device-id.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import { PKI_FILES, writeDeviceCert, type Pki } from './pki-store.js';
import { readFileIfExists, writeFileAtomic } from './secure-fs.js';
import {
  DEFAULT_TRUST_DOMAIN,
  assertSpiffeIdentity,
  clientSpiffeId,
  uriSans,
  wfmIdFromFingerprint,
  wfmSpiffeId,
  type SpiffeIdentity,
} from './spiffe.js';
import { DEFAULT_RSA_BITS, generateRsaKeyPair, normalisePem, pki } from './x509.js';
import { certificateFingerprint, checkIssued, notAfter, notBefore, readCertificate } from './x509-native.js';

/** Files of the API identity inside the PKI folder. */
export const SVID_FILES = {
  identity: 'spiffe.json',
  serverCert: 'api-server.crt',
  serverKey: 'api-server.key',
} as const;

/**
 * The trust domain and WFM id of this PKI: `pki/spiffe.json` when present, else the defaults
 * (DEFAULT_TRUST_DOMAIN; WFM id = first 16 hex digits of the CA fingerprint), which are stable for
 * a data folder made before the API existed. Throws API_SETTINGS_INVALID for a bad file.
 */
export async function readSpiffeIdentity(pkiDir: string, caCertPem?: string): Promise<SpiffeIdentity> {
  const b = await readFileIfExists(join(pkiDir, SVID_FILES.identity));
  let id: Partial<SpiffeIdentity> = {};
  if (b) {
    try {
      id = JSON.parse(b.toString('utf8')) as Partial<SpiffeIdentity>;
    } catch (e) {
      throw new MargoError('API_SETTINGS_INVALID', `${join(pkiDir, SVID_FILES.identity)} is not JSON`, {
        cause: e,
      });
    }
  }
  const caPem = caCertPem ?? (await readFileIfExists(join(pkiDir, PKI_FILES.caCert)))?.toString('utf8');
  const out: SpiffeIdentity = {
    trustDomain: id.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    wfmId: id.wfmId ?? (caPem ? wfmIdFromFingerprint(certificateFingerprint(caPem)) : ''),
  };
  assertSpiffeIdentity(out);
  return out;
}

/** Records the identity (what `margo init` does, so it stays fixed even if defaults change). */
export async function writeSpiffeIdentity(pkiDir: string, id: SpiffeIdentity): Promise<void> {
  assertSpiffeIdentity(id);
  await writeFileAtomic(
    join(pkiDir, SVID_FILES.identity),
    JSON.stringify({ trustDomain: id.trustDomain, wfmId: id.wfmId }, null, 2) + '\n',
    0o644,
  );
}

/**
 * A device X.509-SVID with a new key (for `margo device add --svid-out`): the same certificate our
 * agent gets at enrolment (CN = device id, EKU clientAuth), with the client SPIFFE ID as its only
 * URI SAN. Stored under `pki/devices/` like an enrolled device's, so `margo device revoke` ends it.
 */
export async function issueDeviceSvid(
  p: Pki,
  id: SpiffeIdentity,
  deviceId: string,
  opts: { validityDays?: number; bits?: number; now?: Date } = {},
): Promise<KeyAndCert & { spiffeId: string }> {
  assertDeviceId(deviceId);
  const spiffeId = clientSpiffeId(id, deviceId);
  const { keyPem, csrPem } = createDeviceKeyAndCsr(deviceId, { bits: opts.bits });
  const certPem = signDeviceCsr(p.ca, csrPem, {
    expectedDeviceId: deviceId,
    validityDays: opts.validityDays ?? 825,
    spiffeId,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await writeDeviceCert(p.dir, deviceId, certPem);
  return { certPem, keyPem, spiffeId };
}

/** Subject alternative names of the server SVID for these host names / IP addresses. */
function hostSans(hosts: readonly string[]): object[] {
  const seen = new Set<string>();
  const out: object[] = [];
  for (const raw of hosts) {
    const h = raw.replace(/^\[|\]$/g, '');
    if (!h || seen.has(h) || h === '0.0.0.0' || h === '::') continue;
    seen.add(h);
    out.push(isIP(h) ? { type: 7, ip: h } : { type: 2, value: h });
  }
  return out;
}

/**
 * The server's X.509-SVID: URI SAN `spiffe://<td>/margo/wfm/<wfm id>` plus a DNS/IP SAN per host
 * (so stock TLS clients can check the name they dialled), EKU serverAuth. Short-lived (90 days):
 * `margo serve` renews it at start.
 */
export function issueServerSvid(
  ca: KeyAndCert,
  id: SpiffeIdentity,
  hosts: readonly string[],
  opts: { validityDays?: number; bits?: number; now?: Date } = {},
): KeyAndCert {
  assertSpiffeIdentity(id);
  const keys = generateRsaKeyPair(opts.bits ?? DEFAULT_RSA_BITS);
  const cert = issueCertificate(
    ca,
    keys.publicKey,
    [
      { shortName: 'CN', value: `margo workload fleet manager ${id.wfmId}` },
      { shortName: 'OU', value: 'margo-gitops API server' },
    ],
    [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 6, value: wfmSpiffeId(id) }, ...hostSans(hosts)] },
    ],
    opts.validityDays ?? 90,
    opts.now ?? new Date(),
  );
  return {
    certPem: normalisePem(pki.certificateToPem(cert)),
    keyPem: normalisePem(pki.privateKeyToPem(keys.privateKey)),
  };
}

/**
 * The server SVID from `pki/api-server.{crt,key}`, issued anew when missing, issued by another CA,
 * naming another SPIFFE ID or other hosts, or within a third of its lifetime of expiry.
 */
export async function ensureServerSvid(
  p: Pki,
  id: SpiffeIdentity,
  hosts: readonly string[],
  now = new Date(),
): Promise<KeyAndCert & { renewed: boolean }> {
  const certPath = join(p.dir, SVID_FILES.serverCert);
  const keyPath = join(p.dir, SVID_FILES.serverKey);
  const certPem = (await readFileIfExists(certPath))?.toString('utf8');
  const keyPem = (await readFileIfExists(keyPath))?.toString('utf8');
  if (certPem && keyPem && stillGood(p.ca.certPem, certPem, id, hosts, now))
    return { certPem, keyPem, renewed: false };
  const svid = issueServerSvid(p.ca, id, hosts, { now });
  await writeFileAtomic(keyPath, svid.keyPem, 0o600);
  await writeFileAtomic(certPath, svid.certPem, 0o644);
  return { ...svid, renewed: true };
}

function stillGood(
  caPem: string,
  certPem: string,
  id: SpiffeIdentity,
  hosts: readonly string[],
  now: Date,
): boolean {
  try {
    const cert = readCertificate(certPem);
    if (checkIssued(readCertificate(caPem), cert, now) !== 'ok') return false;
    const life = notAfter(cert).getTime() - notBefore(cert).getTime();
    if (notAfter(cert).getTime() - now.getTime() < life / 3) return false;
    const uris = uriSans(cert);
    if (uris.length !== 1 || uris[0] !== wfmSpiffeId(id)) return false;
    const want = hostSans(hosts).map((s) =>
      'ip' in s ? `IP Address:${String(s.ip)}` : `DNS:${String((s as { value: string }).value)}`,
    );
    const have = (cert.subjectAltName ?? '').split(', ');
    return want.every((w) => have.includes(w));
  } catch {
    return false;
  }
}
