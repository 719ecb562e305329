import type { IncomingMessage, ServerResponse } from 'node:http';
import { MargoError, isMargoError, toMargoError } from '@margo-gitops/spec';
import {
  ClientCredentialStore,
  EnrolmentTokenStore,
  assertDeviceId,
  checkDeviceCsr,
  clientSpiffeId,
  describeCertificate,
  readDeviceCert,
  readSpiffeIdentity,
  removeDeviceCert,
  seal,
  signDeviceCsr,
  writeDeviceCert,
  type Pki,
  type VerifiedAccessToken,
} from '@margo-gitops/trust';
import { FailureRateLimiter } from './rate-limit.js';
import { readBody, remoteKey, sendJson, sendProblem } from './http-util.js';

/** Minimal structured logger (pino-compatible). Never given secrets. */
export interface OnboardingLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error?(obj: Record<string, unknown>, msg: string): void;
}

/** Body of POST /onboarding. */
export interface EnrolmentRequest {
  deviceId: string;
  /** PEM PKCS#10 request made on the device (subject CN = deviceId). */
  csr: string;
  /** Public id of the one-time token (from the enrolment string). */
  tokenId: string;
  /**
   * base64url HMAC-SHA256 keyed by the token secret over the exact `csr` string and the device id
   * (`enrolmentProof` in @margo-gitops/trust). The secret itself is never sent, so a proxy that
   * sees this request cannot reuse it for another key.
   */
  proof: string;
  /** Optional facts the device reports about itself (hostname, labels, ...); passed to onEnrolled. */
  facts?: Record<string, unknown>;
}

/** 201 answer of POST /onboarding. */
export interface EnrolmentResponse {
  deviceId: string;
  clientId: string;
  /**
   * OAuth2 client secret, sealed to the issued device certificate (`sealed:v1:...`): only the
   * holder of the device key reads it, not a proxy that relays this answer.
   */
  clientSecret: string;
  tokenEndpoint: string;
  /** Device certificate, PEM. */
  certificate: string;
  /** Root CA certificate, PEM. */
  caCertificate: string;
  /** `token`: the device's Git token, sealed to the device certificate like clientSecret. */
  repository: { url: string; token: string };
  /**
   * The Workload Management API (mTLS, `https://host:port`) when the server runs it: the agent
   * then speaks REST by default (its certificate is its X.509-SVID).
   */
  api?: { url: string };
}

export interface OnboardingHandlerOptions {
  /** The data folder (`margo-data/`); token and client stores live under `state/`. */
  dataDir: string;
  /** Loaded PKI (loadPki(join(dataDir, 'pki'))). Device certificates go to `<pki.dir>/devices/`. */
  pki: Pki;
  /** Defaults to new EnrolmentTokenStore(dataDir). */
  enrolmentTokens?: EnrolmentTokenStore;
  /** Defaults to new ClientCredentialStore(dataDir). */
  clients?: ClientCredentialStore;
  /** Clone URL of the device's repository as the device must use it. */
  publicGitUrl(deviceId: string): string;
  /** URL of the Workload Management API, when it is served (asked at each enrolment). */
  publicApiUrl?(): string | undefined;
  /**
   * Issues the device's Git token (role device) and returns the plaintext once. `expiresAt` is the
   * device certificate's notAfter: the token must not outlive the identity it was issued to.
   */
  issueGitToken(deviceId: string, opts: { expiresAt: Date }): string | Promise<string>;
  /** Undo of issueGitToken when a later step fails (optional). */
  revokeGitToken?(deviceId: string): void | Promise<void>;
  /** Called after the certificate is stored, before answering (e.g. write devices/<id>.yaml to the fleet repo). */
  onEnrolled?(deviceId: string, certPem: string, facts: Record<string, unknown>): void | Promise<void>;
  /** Absolute token endpoint URL; default derived from the request Host: `http://<host>/oauth/token`. */
  tokenEndpointUrl?: string;
  /** Device certificate validity; default 825 days. */
  deviceCertValidityDays?: number;
  /** Access token lifetime; default 3600 s. */
  accessTokenTtlSeconds?: number;
  /** Failed enrolment / token requests per remote address before 429; default 10 per 15 minutes. */
  rateLimit?: { maxFailures: number; windowMs: number };
  log?: OnboardingLogger;
}

export const ONBOARDING_PATHS = {
  certificate: '/onboarding/certificate',
  enrol: '/onboarding',
  token: '/oauth/token',
} as const;

const noLog: OnboardingLogger = { info() {}, warn() {} };

/**
 * The onboarding HTTP API (node:http, no framework). Returns a handler that answers
 * `GET /onboarding/certificate`, `POST /onboarding` and `POST /oauth/token` and resolves `true`;
 * any other path under `/onboarding` or `/oauth/` gets a 404 problem (counted by the rate
 * limiter); any other path resolves `false` so the caller can try its next handler.
 *
 * @example
 * const onboarding = createOnboardingHttpHandler({ dataDir, pki: await loadPki(join(dataDir, 'pki')),
 *   publicGitUrl: (id) => `${base}/git/devices/${id}.git`, issueGitToken: (id) => tokens.issue(id, 'device') });
 * http.createServer(async (req, res) => { if (!(await onboarding(req, res))) { res.statusCode = 404; res.end(); } });
 */
export function createOnboardingHttpHandler(
  opts: OnboardingHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const tokens = opts.enrolmentTokens ?? new EnrolmentTokenStore(opts.dataDir);
  const clients = opts.clients ?? new ClientCredentialStore(opts.dataDir);
  const limiter = new FailureRateLimiter(opts.rateLimit ?? { maxFailures: 10, windowMs: 15 * 60_000 });
  const log = opts.log ?? noLog;
  const caBase64 = Buffer.from(opts.pki.ca.certPem, 'utf8').toString('base64');

  function limited(req: IncomingMessage, res: ServerResponse): boolean {
    const retry = limiter.retryAfterSeconds(remoteKey(req));
    if (retry === 0) return false;
    log.warn(
      { code: 'TRUST_ENROL_RATE_LIMITED', remote: remoteKey(req), path: req.url },
      'onboarding request rate-limited',
    );
    sendProblem(
      res,
      new MargoError('TRUST_ENROL_RATE_LIMITED', `too many failed requests; retry in ${retry} s`),
      429,
      { 'retry-after': String(retry) },
    );
    return true;
  }

  async function enrol(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (limited(req, res)) return;
    let deviceId: string | undefined;
    try {
      const ctype = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (ctype !== 'application/json')
        throw new MargoError('TRUST_ENROL_REQUEST_INVALID', 'send the enrolment request as application/json');
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity')
        throw new MargoError(
          'TRUST_ENROL_REQUEST_INVALID',
          'send the enrolment request without content-encoding',
        );
      let body: Partial<EnrolmentRequest>;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8')) as Partial<EnrolmentRequest>;
      } catch (e) {
        if (isMargoError(e)) throw e;
        throw new MargoError('TRUST_ENROL_REQUEST_INVALID', 'the enrolment request is not JSON');
      }
      if (!body || typeof body !== 'object')
        throw new MargoError('TRUST_ENROL_REQUEST_INVALID', 'the enrolment request must be an object');
      if ('enrolmentToken' in body || req.headers.authorization !== undefined) {
        // The old bearer form: refusing it keeps a secret-carrying request from ever being honoured.
        throw new MargoError(
          'TRUST_ENROL_STRING_INVALID',
          'enrolment with a bearer token is no longer accepted; send tokenId and proof',
        );
      }
      if (
        typeof body.deviceId !== 'string' ||
        typeof body.csr !== 'string' ||
        typeof body.tokenId !== 'string' ||
        typeof body.proof !== 'string'
      ) {
        throw new MargoError('TRUST_ENROL_REQUEST_INVALID', 'deviceId, csr, tokenId and proof are required');
      }
      if (
        body.facts !== undefined &&
        (typeof body.facts !== 'object' || body.facts === null || Array.isArray(body.facts))
      ) {
        throw new MargoError('TRUST_ENROL_REQUEST_INVALID', 'facts must be an object');
      }
      assertDeviceId(body.deviceId);
      deviceId = body.deviceId;
      const proof = { tokenId: body.tokenId, deviceId, csr: body.csr, proof: body.proof };

      // 1. authenticate: the proof covers this very CSR (without using the token up), 2. check
      // the CSR, 3. not yet enrolled, 4. use the token up atomically, 5. issue; undo on failure.
      await tokens.check(proof);
      checkDeviceCsr(body.csr, deviceId);
      if (await readDeviceCert(opts.pki.dir, deviceId)) {
        throw new MargoError('TRUST_DEVICE_ALREADY_ENROLLED', `device ${deviceId} is already enrolled`, {
          data: { deviceId },
        });
      }
      await tokens.consume(proof);
      const certPem = signDeviceCsr(opts.pki.ca, body.csr, {
        expectedDeviceId: deviceId,
        validityDays: opts.deviceCertValidityDays ?? 825,
        // The certificate is also the device's X.509-SVID for the Workload Management API.
        spiffeId: clientSpiffeId(await readSpiffeIdentity(opts.pki.dir, opts.pki.ca.certPem), deviceId),
      });
      await writeDeviceCert(opts.pki.dir, deviceId, certPem);

      let client: { clientId: string; clientSecret: string } | undefined;
      let gitTokenIssued = false;
      try {
        client = await clients.issue(deviceId);
        const gitToken = await opts.issueGitToken(deviceId, {
          expiresAt: describeCertificate(certPem).notAfter,
        });
        gitTokenIssued = true;
        const response: EnrolmentResponse = {
          deviceId,
          clientId: client.clientId,
          // Sealed to the certificate just issued for the CSR the proof covers: a proxy on the path
          // (even one terminating TLS) relays these without being able to read them.
          clientSecret: seal(client.clientSecret, certPem),
          tokenEndpoint:
            opts.tokenEndpointUrl ?? `http://${req.headers.host ?? 'localhost'}${ONBOARDING_PATHS.token}`,
          certificate: certPem,
          caCertificate: opts.pki.ca.certPem,
          repository: { url: opts.publicGitUrl(deviceId), token: seal(gitToken, certPem) },
        };
        const apiUrl = opts.publicApiUrl?.();
        if (apiUrl) response.api = { url: apiUrl };
        await opts.onEnrolled?.(deviceId, certPem, body.facts ?? {});
        log.info({ deviceId, clientId: client.clientId, remote: remoteKey(req) }, 'device enrolled');
        sendJson(res, 201, response);
      } catch (e) {
        // undo so that the operator can retry with a fresh token
        await removeDeviceCert(opts.pki.dir, deviceId).catch(() => undefined);
        if (client) await clients.remove(client.clientId).catch(() => undefined);
        if (gitTokenIssued) await Promise.resolve(opts.revokeGitToken?.(deviceId)).catch(() => undefined);
        throw toMargoError(e);
      }
    } catch (e) {
      const err = toMargoError(e);
      if (err.code === 'INTERNAL_ERROR' || err.code === 'IO_ERROR') {
        (log.error ?? log.warn)({ code: err.code, deviceId, err: err.message }, 'enrolment failed');
        sendProblem(res, err, 500);
        return;
      }
      limiter.fail(remoteKey(req));
      log.warn({ code: err.code, deviceId, remote: remoteKey(req) }, 'enrolment refused');
      sendProblem(res, err);
    }
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const oauthError = (
      status: number,
      error: string,
      description: string,
      code: string,
      headers: Record<string, string> = {},
    ) => {
      if (status !== 429) limiter.fail(remoteKey(req));
      log.warn({ code, remote: remoteKey(req) }, 'token request refused');
      sendJson(
        res,
        status,
        { error, error_description: description, code },
        { pragma: 'no-cache', ...headers },
      );
    };
    const retry = limiter.retryAfterSeconds(remoteKey(req));
    if (retry > 0)
      return oauthError(429, 'slow_down', 'too many failed requests', 'TRUST_ENROL_RATE_LIMITED', {
        'retry-after': String(retry),
      });
    const ctype = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let form: URLSearchParams;
    try {
      if (ctype !== 'application/x-www-form-urlencoded') throw new Error('content type');
      form = new URLSearchParams((await readBody(req, 8 * 1024)).toString('utf8'));
    } catch {
      return oauthError(
        400,
        'invalid_request',
        'send application/x-www-form-urlencoded',
        'TRUST_OAUTH_INVALID_REQUEST',
      );
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError(
        400,
        'unsupported_grant_type',
        'only client_credentials is supported',
        'TRUST_OAUTH_UNSUPPORTED_GRANT',
      );
    }
    let clientId = form.get('client_id') ?? undefined;
    let clientSecret = form.get('client_secret') ?? undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) {
        try {
          clientId = decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' '));
          clientSecret = decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' '));
        } catch {
          clientId = undefined;
        }
      }
    }
    if (!clientId || !clientSecret) {
      return oauthError(
        401,
        'invalid_client',
        'client authentication required',
        'TRUST_OAUTH_INVALID_CLIENT',
        { 'www-authenticate': 'Basic realm="margo"' },
      );
    }
    try {
      const t = await clients.issueAccessToken(clientId, clientSecret, {
        ttlSeconds: opts.accessTokenTtlSeconds ?? 3600,
      });
      sendJson(res, 200, t, { pragma: 'no-cache' });
    } catch (e) {
      const err = toMargoError(e);
      if (err.code !== 'TRUST_OAUTH_INVALID_CLIENT') {
        (log.error ?? log.warn)({ code: err.code, err: err.message }, 'token request failed');
        sendJson(res, 500, { error: 'server_error', code: err.code });
        return;
      }
      return oauthError(401, 'invalid_client', 'unknown client or wrong secret', err.code, {
        'www-authenticate': 'Basic realm="margo"',
      });
    }
  }

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (path === ONBOARDING_PATHS.certificate) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      sendJson(res, 200, { certificate: caBase64 }, { 'cache-control': 'public, max-age=300' });
      return true;
    }
    if (path === ONBOARDING_PATHS.enrol) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      await enrol(req, res);
      return true;
    }
    if (path === ONBOARDING_PATHS.token) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      await token(req, res);
      return true;
    }
    if (path.startsWith(ONBOARDING_PATHS.enrol) || path.startsWith('/oauth/')) {
      // Any other path under the onboarding prefixes (a typo, or a probe with a malformed URL) is
      // answered here and counted, instead of being passed on to a router that may not answer.
      if (limited(req, res)) return true;
      limiter.fail(remoteKey(req));
      sendProblem(
        res,
        new MargoError('TRUST_ENROL_REQUEST_INVALID', 'no onboarding endpoint at this path'),
        404,
      );
      return true;
    }
    return false;
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.writeHead(405, { allow, 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'Method Not Allowed', status: 405 }));
  return true;
}

/**
 * Checks `Authorization: Bearer <access token>` of a request against the client store (for the
 * status/capabilities API). Throws TRUST_ACCESS_TOKEN_INVALID.
 *
 * @example
 * const { deviceId } = await authenticateBearer(req, clients);
 */
export async function authenticateBearer(
  req: IncomingMessage,
  clients: ClientCredentialStore,
): Promise<VerifiedAccessToken> {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) throw new MargoError('TRUST_ACCESS_TOKEN_INVALID', 'no bearer token');
  return clients.verifyAccessToken(auth.slice(7).trim());
}
