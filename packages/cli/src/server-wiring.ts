import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  createGitHttpHandler,
  DEFAULT_AUTH_FAILURES,
  ensureDeviceRepo,
  FLEET_READER_ROLES,
  TokenStore,
  tokenFromHeader,
} from '@margo-gitops/git';
import { FailureRateLimiter, MargoError } from '@margo-gitops/spec';
import {
  createOnboardingHttpHandler,
  createStatusHttpHandler,
  fanOutTelemetry,
  Orchestrator,
  type DesiredStateSigner,
} from '@margo-gitops/orchestrator';
import {
  createManifestSigner,
  createSignedStateAuditor,
  createStatusVerifier,
  loadPki,
  loadSigningState,
  type Pki,
} from '@margo-gitops/trust';
import { catalogFilesHandler } from './catalog-files.js';
import { createConsole } from './console/handler.js';
import { metricsHandler } from './metrics/metrics-route.js';
import { createServerMetrics } from './metrics/server-metrics.js';
import { createTracing } from './tracing/tracing.js';
import { validateFleetPush } from './fleet-push-validator.js';
import { catalogRegistryHandler } from './registry-route.js';
import { readServerSettings } from './data-dir.js';
import { recordEnrolment } from './record-enrolment.js';
import { listenComposed, type Route } from './http-server.js';
import { startApiBeside, type ApiListenOptions } from './api-server.js';
import type { Logger, RunningServer } from './services.js';

/** What the onboarding handler is built from (createOnboardingHttpHandler's options). */
export interface OnboardingParts {
  dataDir: string;
  pki: Pki;
  publicGitUrl(deviceId: string): string;
  /** The Workload Management API URL once it listens (named in the enrolment answer). */
  publicApiUrl(): string | undefined;
  /** `expiresAt`: the device certificate's notAfter (the Git token expires with it). */
  issueGitToken(deviceId: string, opts: { expiresAt: Date }): Promise<string>;
  revokeGitToken(deviceId: string): void;
  onEnrolled(deviceId: string): void;
  log: {
    info(obj: Record<string, unknown>, msg: string): void;
    warn(obj: Record<string, unknown>, msg: string): void;
  };
}

/** Pieces of `margo serve` supplied by other packages (replaceable in tests). */
export const serverParts: {
  onboarding?: (parts: OnboardingParts) => (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
} = { onboarding: createOnboardingHttpHandler };

export const tokensFile = (dataDir: string) => join(dataDir, 'auth', 'tokens.json');

/** How long a signed desired state stays valid (the orchestrator re-signs before expiry). */
const MANIFEST_VALIDITY_MS = 7 * 24 * 3600 * 1000;

/**
 * Signs every device commit: adds margo-manifest.json (sha256 of each file, device id, version,
 * expiry, revoked signers). The signing key and pki/revoked-signers.json are re-read at each
 * signing, so `margo pki rotate-signing-key` takes effect in a running server.
 */
export function manifestSigner(pki: Pki, now: () => number = Date.now): DesiredStateSigner {
  return createManifestSigner(() => loadSigningState(pki.dir), {
    ttlMs: MANIFEST_VALIDITY_MS,
    now: () => new Date(now()),
  });
}

/**
 * `margo serve` composed: embedded Git server (/git/), onboarding API (/onboarding, /oauth/token),
 * fleet status API (/api/v1/status), catalog files (/catalog/), and the orchestrator loop.
 */
export async function startServer(opts: {
  logTo?: string;
  dataDir: string;
  listen: string;
  publicUrl?: string;
  log: Logger;
  api?: ApiListenOptions;
  maxConcurrentChanges?: number;
  otlpTracesUrl?: string;
}): Promise<RunningServer> {
  const { dataDir } = opts;
  const settings = await readServerSettings(dataDir);
  const cap = opts.maxConcurrentChanges ?? settings.maxConcurrentChanges;
  if (cap !== undefined && !(Number.isInteger(cap) && cap > 0))
    throw new MargoError(
      'USAGE_ERROR',
      `maxConcurrentChanges in config.json must be a whole number above 0, not ${cap}`,
    );
  const reposRoot = join(dataDir, 'repos');
  const tokens = TokenStore.open(tokensFile(dataDir));
  const pki = await loadPki(join(dataDir, 'pki'));
  const logger = pino(
    { base: { component: 'orchestrator' } },
    pino.destination({ dest: opts.logTo ?? 2, mkdir: true, sync: true }),
  );
  let url = opts.publicUrl ?? '';
  let apiUrl: string | undefined;
  // Wrong tokens and malformed requests, per address, on the Git server, the catalog files and the console alike.
  const failures = new FailureRateLimiter(DEFAULT_AUTH_FAILURES);
  // The web console (/ui): its roll-up follows the orchestrator's fleetChanged; rollbacks are
  // pushed to this server's own Git endpoint with the signed-in person's token.
  const ui = createConsole({
    dataDir,
    tokens,
    failures,
    source: () => orchestrator,
    selfUrl: () => srv.url,
    log: logger.child({ component: 'console' }),
  });
  // Prometheus metrics (GET /metrics): the roll-up gauges read the console's shared roll-up, so a
  // scrape never computes getFleetStatus again (8-13 s at 10,000 devices).
  const metrics = createServerMetrics({ fleetStatus: async () => (await ui.snapshots.get()).status });
  // OpenTelemetry traces of passes and rollout steps, only when an OTLP endpoint is configured.
  const tracing = opts.otlpTracesUrl
    ? createTracing({ url: opts.otlpTracesUrl, warn: (m) => logger.warn({ component: 'tracing' }, m) })
    : undefined;
  const telemetry = fanOutTelemetry(ui.telemetry, metrics.telemetry, ...(tracing ? [tracing.telemetry] : []));
  const orchestrator = new Orchestrator({
    dataDir,
    reposRoot,
    logger,
    signer: manifestSigner(pki),
    // What is on a device's `main` counts as the orchestrator's own only if it verifies.
    auditor: createSignedStateAuditor({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
    // A rotated or revoked signing key re-signs every device on the next pass.
    signerEpoch: async () => {
      const st = await loadSigningState(pki.dir);
      return `${st.serial}/${st.revokedSigners.join(',')}`;
    },
    // Status is used only when signed by the device's own certificate (revoked ones refused).
    statusVerifier: createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
    intervalMs: (settings.reconcileIntervalSeconds ?? 60) * 1000,
    // Fleet-wide cap on devices changing at once, across every rollout (docs/rollout.md).
    ...(cap !== undefined ? { maxConcurrentChanges: cap } : {}),
    // Package artifacts are served by the embedded OCI registry at /v2/ on this same address.
    registryHost: () => (url ? new URL(url).host : ''),
    telemetry,
  });
  const git = createGitHttpHandler({
    reposRoot,
    tokens,
    authFailures: failures,
    validators: { fleet: validateFleetPush },
    ...(settings.maxLayerBytes ? { maxLayerBytes: settings.maxLayerBytes } : {}),
    onPush: (e) =>
      orchestrator.notifyPush({ repo: e.repo, ref: e.ref, ...(e.deviceId ? { deviceId: e.deviceId } : {}) }),
    onDeviceSeen: (id) => orchestrator.notifyDeviceSeen(id),
    onError: (e) => opts.log.error('git request failed', { error: (e as Error).message }),
    onRequest: (e) => metrics.gitRequest(e),
  });
  const onboarding = serverParts.onboarding?.({
    dataDir,
    pki,
    publicGitUrl: (id) => `${url}/git/devices/${id}.git`,
    // Set once the API listens (below); an enrolment before that gets no `api` member.
    publicApiUrl: () => apiUrl,
    issueGitToken: async (id, { expiresAt }) => {
      await ensureDeviceRepo(reposRoot, id);
      // expires with the device certificate (notAfter), not never
      return tokens.issueToken('device', { deviceId: id, name: `device ${id}`, expiresAt }).token;
    },
    revokeGitToken: (id) => {
      for (const t of tokens.list()) if (t.deviceId === id && !t.revoked) tokens.revoke(t.id);
    },
    onEnrolled: (id) =>
      void recordEnrolment(dataDir, id)
        .then((commit) => {
          if (!commit) return;
          telemetry.committed({ repo: 'fleet', kind: 'enrolment', deviceId: id, commit });
          orchestrator.notifyPush({ repo: 'fleet.git', ref: 'refs/heads/main' });
        })
        .catch((e: unknown) =>
          logger.warn(
            { deviceId: id, err: (e as Error).message },
            'recording the enrolment in the fleet failed',
          ),
        )
        .finally(() => void orchestrator.reconcileDevice(id, 'enrolled').catch(() => {})),
    log: logger.child({ component: 'onboarding' }),
  });
  /** Status may be read with any admin, operator or viewer token. */
  const canReadStatus = (req: IncomingMessage) => {
    const t = tokenFromHeader(req.headers.authorization);
    const info = t ? tokens.verify(t) : undefined;
    return info !== undefined && FLEET_READER_ROLES.has(info.role);
  };
  const status = createStatusHttpHandler(orchestrator, { authorize: canReadStatus });
  const routes: Route[] = [
    { prefix: '/git/', name: 'git', handle: git },
    ...(onboarding
      ? [
          { prefix: '/onboarding', name: 'onboarding', handle: onboarding },
          { prefix: '/oauth/', name: 'oauth', handle: onboarding },
        ]
      : []),
    { prefix: '/api/v1/status', name: 'status', handle: status },
    { prefix: '/ui/', name: 'console', handle: ui.handle },
    {
      prefix: '/metrics',
      name: 'metrics',
      handle: metricsHandler(metrics, {
        roleOf: (req) => {
          const t = tokenFromHeader(req.headers.authorization);
          return t ? tokens.verify(t)?.role : undefined;
        },
        failures,
        onError: (e) => logger.error({ component: 'metrics', err: (e as Error).message }, 'scrape failed'),
      }),
    },
    {
      prefix: '/catalog/',
      name: 'catalog',
      handle: catalogFilesHandler(dataDir, {
        failures,
        authenticate: (req) => {
          const t = tokenFromHeader(req.headers.authorization);
          return { given: t !== undefined, ...(t ? { token: tokens.verify(t) } : {}) };
        },
      }),
    },
    {
      prefix: '/v2/',
      name: 'registry',
      handle: catalogRegistryHandler({
        dataDir,
        tokens,
        failures,
        publicUrl: () => url,
        warn: (m) => logger.warn({ component: 'registry' }, m),
      }),
    },
  ];
  const srv = await listenComposed(routes, opts.listen, (e, req) =>
    opts.log.error('request failed', { url: req.url, error: (e as Error).message }),
  );
  url ||= srv.url;
  try {
    await orchestrator.start();
    ui.warm();
  } catch (e) {
    await srv.close();
    await git.close();
    throw e;
  }
  // The Workload Management API (mTLS): the same device repositories, read-only for now.
  const api = await startApiBeside(opts.api, {
    dataDir,
    pki,
    hosts: [new URL(url).hostname],
    auditor: createSignedStateAuditor({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
    // A status or capabilities write over the API is read at once, like a status push over Git.
    onWrite: (id) => orchestrator.notifyPush({ repo: `devices/${id}.git`, ref: 'status', deviceId: id }),
    // A device polling over REST is seen like one fetching over Git (fleet view lastSeenAt).
    onSeen: (id) => orchestrator.notifyDeviceSeen(id),
    onRequest: (e) => metrics.apiRequest(e),
    onError: (e) => logger.error({ component: 'api', err: (e as Error).message }, 'API request failed'),
    log: (msg, fields) => opts.log.error(msg, fields),
  }).catch(async (e: unknown) => {
    await orchestrator.stop();
    await srv.close();
    await git.close();
    throw e;
  });
  apiUrl = api ? advertisedApiUrl(api, url) : undefined;
  return {
    url,
    endpoints: {
      catalog: `${url}/git/catalog.git`,
      fleet: `${url}/git/fleet.git`,
      devices: `${url}/git/devices/<id>.git`,
      onboarding: `${url}/onboarding`,
      status: `${url}/api/v1/status`,
      'catalog files': `${url}/catalog/`,
      registry: `${url}/v2/`,
      console: `${url}/ui/`,
      metrics: `${url}/metrics`,
      ...(apiUrl ? { 'api (mTLS)': apiUrl } : {}),
      ...(opts.otlpTracesUrl ? { 'traces (OTLP)': opts.otlpTracesUrl } : {}),
    },
    close: async () => {
      ui.close();
      await api?.close();
      await orchestrator.stop();
      await tracing?.shutdown().catch(() => undefined);
      await srv.close();
      await git.close();
      logger.flush?.();
    },
  };
}

/**
 * The API URL an enrolling device is told: the listener's own, except when it listens on every
 * address, where its loopback URL would send a remote device to itself: then the host devices
 * already reach (the public URL's) with the API's port.
 */
export function advertisedApiUrl(
  api: { url: string; wildcard: boolean; port: number },
  publicUrl: string,
): string {
  if (!api.wildcard || !publicUrl) return api.url;
  const host = new URL(publicUrl).hostname;
  return `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${api.port}`;
}
