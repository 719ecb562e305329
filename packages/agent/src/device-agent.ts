import { createPrivateKey } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { createDesiredStateVerifier, signPayload, unseal } from '@margo-gitops/trust/device';
import { Agent, type Verifier, type VerifiedDesiredState } from './agent.js';
import { readEnrolmentString, readStream } from './config/enrolment-input.js';
import { resolveTransport, type AgentConfig } from './config/agent-config.js';
import { loadAgentConfig } from './config/load-agent-config.js';
import { loadEnrolment, type Enrolment } from './enrol/enrolment-state.js';
import type { EnrolOptions } from './enrol/enrol.js';
import { setServerCredentials } from './drivers/obtain-package.js';
import { createAgentLogger } from './logger.js';
import type { AgentMetricsView } from './metrics/view.js';
import { createRestTransport } from './source/rest-transport.js';

/** The identity fields the secured agent needs from an enrolment. */
export type DeviceEnrolment = Pick<
  Enrolment,
  'deviceId' | 'repoUrl' | 'token' | 'keyPem' | 'certPem' | 'caCertPem'
> &
  Partial<Pick<Enrolment, 'apiUrl'>>;

/** Enrolment seams (tests inject stubs). The default enrols for real, loading node-forge only then. */
export interface EnrolApi {
  enrol(opts: EnrolOptions): Promise<DeviceEnrolment>;
  loadEnrolment(stateDir: string): Promise<DeviceEnrolment>;
}

export const defaultEnrolApi: EnrolApi = {
  // First start only: creating the key and the certificate request needs node-forge, which a
  // running device otherwise never loads.
  enrol: async (opts) => (await import('./enrol/enrol.js')).enrol(opts),
  loadEnrolment,
};

/** What the caller logs through (the CLI's logger, or the agent's own). */
export interface StartLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn?(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface StartDeviceAgentOptions {
  /** Orchestrator base URL, needed for the first start only. */
  server?: string;
  /**
   * The enrolment string (`mge1.<deviceId>.…`) on the command line, first start only. Visible in
   * `ps`: a warning is logged (refused with MARGO_AGENT_REFUSE_ARGV_TOKEN=1). Prefer tokenFile.
   */
  token?: string;
  /** File holding the enrolment string, or `-` for standard input (first start only). */
  tokenFile?: string;
  /** Extra CA pin (SHA-256 hex); must equal the one the enrolment string carries. */
  caFingerprint?: string;
  /** Reads standard input for `tokenFile: '-'` (default: process.stdin). */
  readStdin?: () => Promise<string>;
  stateDir: string;
  log: StartLogger;
  /** `git`, `rest` or `auto` (default: rest when an API URL is known, else git). */
  transport?: string;
  /** Workload Management API URL (default: the one the enrolment answer named, if any). */
  apiUrl?: string;
  /** Where the agent's JSON log lines go: a file path or a file descriptor (default stderr). */
  logTo?: string | number;
  /** Serve Prometheus metrics on this `PORT` / `HOST:PORT` (setting metricsListen). */
  metricsListen?: string;
}

export interface RunningDeviceAgent {
  deviceId: string;
  stop(): Promise<void>;
}

/**
 * Starts the secured agent, as `margo agent` and `margo-agent` run it: the first start enrols
 * (server and token given), later starts resume from the state folder. Every desired-state commit
 * is verified against the enrolment's root CA before anything is applied, status is signed with
 * the device key, and sealed parameter values are opened with it.
 */
export async function startDeviceAgent(
  opts: StartDeviceAgentOptions,
  env: NodeJS.ProcessEnv = process.env,
  api: EnrolApi = defaultEnrolApi,
): Promise<RunningDeviceAgent> {
  let enrolment = await api.loadEnrolment(opts.stateDir).catch((e: unknown) => {
    // Only "nothing enrolled yet" means enrol now; a damaged identity must not be overwritten.
    if (e instanceof MargoError && e.code === 'TRUST_ENROL_STATE_MISSING') return undefined;
    throw e;
  });
  if (!enrolment) {
    const enrolmentString = await readEnrolmentString(
      {
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}),
      },
      {
        env,
        readStdin: opts.readStdin ?? (() => readStream(process.stdin)),
        warn: (msg, fields) => (opts.log.warn ?? opts.log.info)(msg, fields),
      },
    );
    if (!enrolmentString || !opts.server) {
      throw new MargoError(
        'CLI_AGENT_STATE_INVALID',
        `${opts.stateDir} holds no enrolment, and --server and --token-file (or --token) were not both given`,
      );
    }
    enrolment = await api.enrol({
      serverUrl: opts.server,
      enrolment: enrolmentString,
      ...(opts.caFingerprint !== undefined ? { caFingerprint: opts.caFingerprint } : {}),
      stateDir: opts.stateDir,
      facts: { hostname: hostname() },
    });
    opts.log.info('enrolled', { deviceId: enrolment.deviceId });
  } else if (opts.token !== undefined || opts.tokenFile !== undefined) {
    opts.log.info('already enrolled; the enrolment string is not needed any more', {
      deviceId: enrolment.deviceId,
    });
  }
  const e = enrolment;
  const { config, problems } = loadAgentConfig({
    // The API URL the enrolment answer named is the weakest source: env and flags override it.
    ...(e.apiUrl ? { file: { apiUrl: e.apiUrl } } : {}),
    env,
    flags: {
      deviceId: e.deviceId,
      repoUrl: e.repoUrl,
      token: e.token,
      stateDir: opts.stateDir,
      transport: opts.transport,
      apiUrl: opts.apiUrl,
      metricsListen: opts.metricsListen,
    },
  });
  if (problems.length) {
    throw new MargoError(
      'USAGE_ERROR',
      `agent configuration: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  }
  // Parsed once: it signs every status file of every commit and opens every sealed value.
  const deviceKey = createPrivateKey(e.keyPem);
  // Catalog downloads from the device's own server carry its Git token (and only there).
  setServerCredentials(config.repoUrl, config.token);
  const logger = createAgentLogger({
    level: config.logLevel,
    deviceId: e.deviceId,
    destination: opts.logTo ?? 2,
  });
  const verifier = manifestVerifier(e, opts.stateDir);
  const transport = resolveTransport(config);
  const rest =
    transport === 'rest'
      ? createRestTransport({
          config: config as AgentConfig & { apiUrl: string },
          keyPem: e.keyPem,
          certPem: e.certPem,
          caCertPem: e.caCertPem,
          verifier,
          logger: logger.child({ part: 'status' }),
        })
      : undefined;
  // Metrics are opt-in: prom-client is loaded (a chunk of its own in the bundle) only then.
  const m = config.metricsListen ? await import('./metrics/index.js') : undefined;
  const metrics = m?.createAgentMetrics({ transport, view: (): AgentMetricsView => agent.metricsView() });
  const agent: Agent = new Agent({
    config,
    logger,
    unseal: (v) => unseal(v, deviceKey),
    signStatus: (bytes) => signPayload(bytes, deviceKey, e.certPem),
    verifier,
    ...(rest ? { transport: rest } : {}),
    ...(metrics ? { onPoll: metrics.polled } : {}),
  });
  const metricsServer = m && metrics ? await m.serveAgentMetrics(config.metricsListen!, metrics) : undefined;
  if (metricsServer) opts.log.info('metrics', { url: metricsServer.url });
  opts.log.info('transport', {
    transport,
    ...(rest ? { api: config.apiUrl } : {}),
  });
  const loop = agent.start();
  loop.catch((err: unknown) =>
    opts.log.error('agent stopped with an error', { error: (err as Error).message }),
  );
  return {
    deviceId: e.deviceId,
    stop: async () => {
      await agent.stop();
      rest?.close();
      await metricsServer?.close();
    },
  };
}

/**
 * Checks margo-manifest.json of every desired-state commit before anything is applied: signed by
 * the orchestrator's key under the enrolment's root CA, for this device, covering every file,
 * newer than the last applied manifest (remembered in <state>/identity/applied-manifest.json).
 */
export function manifestVerifier(
  e: Pick<DeviceEnrolment, 'caCertPem' | 'deviceId'>,
  stateDir: string,
): Verifier {
  let accepted: VerifiedDesiredState | undefined;
  const verify = createDesiredStateVerifier({
    caCertPem: e.caCertPem,
    deviceId: e.deviceId,
    appliedManifestPath: join(stateDir, 'identity', 'applied-manifest.json'),
    onVerified: (v) =>
      (accepted = { expiresAt: new Date(v.manifest.expiresAt), manifestVersion: v.version.toString() }),
  });
  // The expiry goes back to the agent, which checks it on every poll (a frozen repository); the
  // version is reported in every deployment status (adoptedManifestVersion).
  return async (files, state) => {
    accepted = undefined;
    await verify(files, state);
    return accepted;
  };
}
