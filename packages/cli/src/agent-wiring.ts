import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent, createAgentLogger, enrol, loadAgentConfig, loadEnrolment } from '@margo-gitops/agent';
import { MargoError } from '@margo-gitops/spec';
import {
  AppliedManifestStore,
  MANIFEST_FILE,
  signPayload,
  unseal,
  verifyManifest,
} from '@margo-gitops/trust';
import type { Logger, RunningAgent } from './services.js';

/** What the agent's enrolment module provides (packages/agent/src/enrol). */
export interface DeviceEnrolment {
  deviceId: string;
  repoUrl: string;
  token: string;
  keyPem: string;
  certPem: string;
  caCertPem: string;
}
export interface EnrolApi {
  enrol(opts: {
    serverUrl: string;
    deviceId: string;
    enrolmentToken: string;
    stateDir: string;
    facts?: Record<string, unknown>;
  }): Promise<DeviceEnrolment>;
  loadEnrolment(stateDir: string): Promise<DeviceEnrolment>;
}

export const defaultEnrolApi: EnrolApi = { enrol, loadEnrolment };

/**
 * The one-time enrolment token printed by `margo device add` is `<deviceId>:<secret>`, so
 * `margo agent --token` alone names the device. A bare secret needs MARGO_AGENT_DEVICE_ID.
 */
export function splitEnrolmentToken(
  token: string,
  env: NodeJS.ProcessEnv,
): { deviceId: string; secret: string } {
  const i = token.indexOf(':');
  if (i > 0) return { deviceId: token.slice(0, i), secret: token.slice(i + 1) };
  const deviceId = env.MARGO_AGENT_DEVICE_ID;
  if (!deviceId) {
    throw new MargoError('USAGE_ERROR', 'the enrolment token does not name the device', {
      hint: 'Use the token exactly as `margo device add` printed it (ID:SECRET), or set MARGO_AGENT_DEVICE_ID.',
    });
  }
  return { deviceId, secret: token };
}

/** First start enrols (token given), later starts resume from the state folder. */
export async function startAgent(
  opts: { server?: string; token?: string; stateDir: string; log: Logger; logTo?: string },
  env: NodeJS.ProcessEnv = process.env,
  api: EnrolApi = defaultEnrolApi,
): Promise<RunningAgent> {
  let enrolment = await api.loadEnrolment(opts.stateDir).catch((e: unknown) => {
    // Only "nothing enrolled yet" means enrol now; a damaged identity must not be overwritten.
    if (e instanceof MargoError && e.code === 'TRUST_ENROL_STATE_MISSING') return undefined;
    throw e;
  });
  if (!enrolment) {
    if (!opts.token || !opts.server) {
      throw new MargoError(
        'CLI_AGENT_STATE_INVALID',
        `${opts.stateDir} holds no enrolment, and --server and --token were not both given`,
      );
    }
    const { deviceId, secret } = splitEnrolmentToken(opts.token, env);
    enrolment = await api.enrol({
      serverUrl: opts.server,
      deviceId,
      enrolmentToken: secret,
      stateDir: opts.stateDir,
      facts: { hostname: hostname() },
    });
    opts.log.info('enrolled', { deviceId });
  } else if (opts.token) {
    opts.log.info('already enrolled; the enrolment token is not needed any more', {
      deviceId: enrolment.deviceId,
    });
  }
  const e = enrolment;
  const { config, problems } = loadAgentConfig({
    env,
    flags: { deviceId: e.deviceId, repoUrl: e.repoUrl, token: e.token, stateDir: opts.stateDir },
  });
  if (problems.length) {
    throw new MargoError(
      'USAGE_ERROR',
      `agent configuration: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  }
  const agent = new Agent({
    config,
    logger: createAgentLogger({ level: config.logLevel, deviceId: e.deviceId, destination: opts.logTo ?? 2 }),
    unseal: (v) => unseal(v, e.keyPem),
    signStatus: (bytes) => signPayload(bytes, e.keyPem, e.certPem),
    verifier: manifestVerifier(e, opts.stateDir),
  });
  const loop = agent.start();
  loop.catch((err: unknown) =>
    opts.log.error('agent stopped with an error', { error: (err as Error).message }),
  );
  return { deviceId: e.deviceId, stop: () => agent.stop() };
}

/**
 * Checks margo-manifest.json of every desired-state commit before anything is applied: signed by
 * the orchestrator's key under the enrolment's root CA, for this device, covering every file,
 * newer than the last applied manifest (remembered in <state>/identity/applied-manifest.json).
 */
export function manifestVerifier(e: Pick<DeviceEnrolment, 'caCertPem'>, stateDir: string) {
  const mem = new AppliedManifestStore(join(stateDir, 'identity', 'applied-manifest.json'));
  return async (files: Map<string, Buffer>, state: { deviceId: string; commit: string }): Promise<void> => {
    const last = await mem.read();
    const v = verifyManifest(files.get(MANIFEST_FILE), {
      caCertPem: e.caCertPem,
      deviceId: state.deviceId,
      files,
      lastAppliedVersion: last?.version,
      lastAppliedDigest: last?.digest,
    });
    if (!v.unchanged) await mem.record(state.deviceId, v, state.commit);
  };
}
