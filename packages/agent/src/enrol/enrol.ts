import { rm } from 'node:fs/promises';
import { MargoError, codeInfo, isMargoError, type Code } from '@margo-gitops/spec';
import {
  assertDeviceId,
  certificateFingerprint,
  createCsrForKey,
  createDeviceKeyAndCsr,
  describeCertificate,
  enrolmentRequestFields,
  ensurePrivateDir,
  normaliseFingerprint,
  parseEnrolmentString,
  readFileIfExists,
  unseal,
  verifyDeviceCert,
  writeFileAtomic,
  writeFileExclusive,
  type EnrolmentString,
} from '@margo-gitops/trust';
import {
  assertKeyMatchesCert,
  identityPaths,
  loadEnrolment,
  type Enrolment,
  type EnrolmentRecord,
} from './enrolment-state.js';

export interface EnrolOptions {
  /** Orchestrator base URL, e.g. `https://margo.plant-7.example` (paths are appended). */
  serverUrl: string;
  /**
   * The enrolment string `margo device add` printed (`mge1.<deviceId>.<tokenId>.<secret>.<caFp>`),
   * or its parsed form. It names the device and pins the root CA. Never stored, and its secret is
   * never sent: the request carries an HMAC of the CSR keyed by it.
   */
  enrolment: string | EnrolmentString;
  /** The agent's state folder; the identity goes to `<stateDir>/identity/`. */
  stateDir: string;
  /**
   * An extra CA pin (SHA-256 hex, colons allowed, e.g. from `margo init`): must equal the one in
   * the enrolment string. The served root CA must match the pin, or nothing is stored.
   */
  caFingerprint?: string;
  /** Facts sent along (hostname, labels...); must not contain secrets. */
  facts?: Record<string, unknown>;
  /** RSA size of the device key; default 3072. */
  bits?: number;
  /** Per-request time limit; default 30 s. */
  timeoutMs?: number;
  /** Injected fetch (tests); default global fetch. */
  fetch?: typeof fetch;
}

function serverError(message: string, cause?: unknown): MargoError {
  return new MargoError('TRUST_ENROL_SERVER_ERROR', message, { cause });
}

function sameServer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

async function request(
  opts: EnrolOptions,
  path: string,
  init: RequestInit,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, opts.serverUrl.endsWith('/') ? opts.serverUrl : opts.serverUrl + '/').toString();
  const f = opts.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
  } catch (e) {
    throw serverError(`cannot reach ${new URL(url).origin}: ${(e as Error).message}`, e);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw serverError(`${new URL(url).pathname} answered ${res.status} with a non-JSON body`);
  }
  return { status: res.status, body };
}

/**
 * Enrols this device with the orchestrator (runs on the device):
 * 1. fetch the root CA (`GET /onboarding/certificate`) and refuse it unless its SHA-256 is the
 *    fingerprint the enrolment string pins (TRUST_ENROL_CA_MISMATCH; nothing is stored);
 * 2. create the device key (0600, never sent) and a CSR — or reuse the key of an interrupted attempt;
 * 3. `POST /onboarding` with the CSR, the token id and `proof` = HMAC-SHA256 of that exact CSR
 *    keyed by the token secret (the secret is never sent, so the request is useless for any other key);
 * 4. check the answer (certificate issued by that CA, for this key and id) and store everything
 *    under `<stateDir>/identity/` atomically (enrolment.json last: its presence means "enrolled").
 * Already enrolled with the same id and server: returns the stored enrolment (idempotent).
 *
 * @example
 * const e = await enrol({ serverUrl: 'http://10.0.0.5:8080', enrolment: 'mge1.press-7.…', stateDir: '/var/lib/margo' });
 */
export async function enrol(opts: EnrolOptions): Promise<Enrolment> {
  const token = typeof opts.enrolment === 'string' ? parseEnrolmentString(opts.enrolment) : opts.enrolment;
  const deviceId = token.deviceId;
  assertDeviceId(deviceId);
  const pinned = normaliseFingerprint(token.caFingerprint);
  if (opts.caFingerprint !== undefined && normaliseFingerprint(opts.caFingerprint) !== pinned) {
    throw new MargoError(
      'TRUST_ENROL_CA_MISMATCH',
      'the CA fingerprint given does not match the one in the enrolment string',
      { data: { given: normaliseFingerprint(opts.caFingerprint), pinned } },
    );
  }
  const paths = identityPaths(opts.stateDir);

  try {
    const existing = await loadEnrolment(opts.stateDir);
    if (existing.deviceId === deviceId && sameServer(existing.serverUrl, opts.serverUrl)) return existing;
    throw new MargoError(
      'TRUST_ENROL_STATE_CONFLICT',
      `${paths.dir} already holds the enrolment of device ${existing.deviceId} with ${existing.serverUrl}`,
      {
        data: { dir: paths.dir, deviceId: existing.deviceId },
      },
    );
  } catch (e) {
    if (!isMargoError(e) || e.code !== 'TRUST_ENROL_STATE_MISSING') throw e;
  }

  // 1. root CA
  const caRes = await request(opts, 'onboarding/certificate', {
    method: 'GET',
    headers: { accept: 'application/json' },
  });
  const b64 = (caRes.body as { certificate?: unknown } | undefined)?.certificate;
  if (caRes.status !== 200 || typeof b64 !== 'string')
    throw serverError(`GET /onboarding/certificate answered ${caRes.status}`);
  const caCertPem = Buffer.from(b64, 'base64').toString('utf8');
  let caFp: string;
  try {
    caFp = certificateFingerprint(caCertPem);
  } catch (e) {
    throw serverError('the root CA served by the orchestrator is not a certificate', e);
  }
  if (caFp !== pinned) {
    throw new MargoError(
      'TRUST_ENROL_CA_MISMATCH',
      'the root CA served by the orchestrator does not match the pinned fingerprint',
      { data: { expected: pinned, served: caFp } },
    );
  }

  // 2. key + CSR (the key never leaves this folder)
  await ensurePrivateDir(paths.dir);
  let keyPem = (await readFileIfExists(paths.key))?.toString('utf8');
  let csrPem: string;
  if (keyPem) {
    csrPem = createCsrForKey(deviceId, keyPem);
  } else {
    const made = createDeviceKeyAndCsr(deviceId, { bits: opts.bits });
    await writeFileExclusive(paths.key, made.keyPem, 0o600);
    keyPem = made.keyPem;
    csrPem = made.csrPem;
  }

  // 3. enrol
  const res = await request(opts, 'onboarding', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      ...enrolmentRequestFields(token, csrPem),
      ...(opts.facts ? { facts: opts.facts } : {}),
    }),
  });
  if (res.status !== 201) {
    const p = (res.body ?? {}) as { code?: unknown; detail?: unknown; title?: unknown };
    const code =
      typeof p.code === 'string' && codeInfo(p.code)
        ? (p.code as Code)
        : res.status >= 500 || res.status === 429
          ? 'TRUST_ENROL_SERVER_ERROR'
          : 'TRUST_ENROL_REFUSED';
    const detail =
      typeof p.detail === 'string'
        ? p.detail.slice(0, 300)
        : typeof p.title === 'string'
          ? p.title
          : `HTTP ${res.status}`;
    throw new MargoError(code, `the orchestrator refused the enrolment of ${deviceId}: ${detail}`, {
      data: { status: res.status, deviceId: deviceId },
      ...(res.status === 429 ? { retry: 'later' as const } : {}),
    });
  }

  // 4. check and store
  const r = res.body as Partial<{
    certificate: string;
    clientId: string;
    clientSecret: string;
    tokenEndpoint: string;
    repository: { url?: string; token?: string };
    api: { url?: unknown };
  }>;
  if (
    typeof r.certificate !== 'string' ||
    typeof r.clientId !== 'string' ||
    typeof r.clientSecret !== 'string' ||
    typeof r.tokenEndpoint !== 'string' ||
    typeof r.repository?.url !== 'string' ||
    typeof r.repository.token !== 'string'
  ) {
    throw new MargoError(
      'TRUST_ENROL_RESPONSE_INVALID',
      'the enrolment answer lacks certificate, client credentials or repository',
    );
  }
  try {
    verifyDeviceCert(caCertPem, r.certificate, { deviceId: deviceId });
    assertKeyMatchesCert(keyPem, r.certificate);
  } catch (e) {
    throw new MargoError(
      'TRUST_ENROL_RESPONSE_INVALID',
      'the returned certificate is not for this device key or not issued by the root CA',
      { cause: e },
    );
  }
  // The server seals the Git token and the client secret to this key, so that nothing on the path
  // (a proxy that relayed the answer) can read them; plaintext is refused.
  let gitToken: string;
  let clientSecret: string;
  try {
    gitToken = unseal(r.repository.token, keyPem);
    clientSecret = unseal(r.clientSecret, keyPem);
  } catch (e) {
    throw new MargoError(
      'TRUST_ENROL_RESPONSE_INVALID',
      'the Git token and client secret of the answer are not sealed to this device key',
      { cause: e },
    );
  }
  const record: EnrolmentRecord = {
    version: 1,
    deviceId: deviceId,
    serverUrl: opts.serverUrl,
    repoUrl: r.repository.url,
    // Only an https URL is kept: anything else would be refused by the agent configuration later.
    ...(typeof r.api?.url === 'string' && /^https:\/\/[^/\s]+\/?$/.test(r.api.url)
      ? { apiUrl: r.api.url }
      : {}),
    token: gitToken,
    clientId: r.clientId,
    clientSecret,
    tokenEndpoint: r.tokenEndpoint,
    caFingerprint: caFp,
    certificateSerial: describeCertificate(r.certificate).serial,
    enrolledAt: new Date().toISOString(),
  };
  await writeFileAtomic(paths.ca, caCertPem, 0o644);
  await writeFileAtomic(paths.cert, r.certificate, 0o644);
  await writeFileAtomic(paths.enrolment, JSON.stringify(record, null, 2) + '\n', 0o600);
  return loadEnrolment(opts.stateDir);
}

/**
 * Stores a new Git token after rotation (e.g. fetched with the OAuth2 client credentials).
 *
 * @example
 * await updateRepositoryToken(stateDir, newToken);
 */
export async function updateRepositoryToken(stateDir: string, token: string): Promise<void> {
  const e = await loadEnrolment(stateDir);
  const { keyPem: _k, certPem: _c, caCertPem: _a, paths, ...record } = e;
  await writeFileAtomic(paths.enrolment, JSON.stringify({ ...record, token }, null, 2) + '\n', 0o600);
}

/** Removes the stored identity (after a revocation, before enrolling again). */
export async function forgetEnrolment(stateDir: string): Promise<void> {
  await rm(identityPaths(stateDir).dir, { recursive: true, force: true });
}
