import { resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../context.js';
import { stderrLogger } from './serve.js';

export interface AgentOptions {
  server?: string;
  token?: string;
  /** File holding the enrolment string, or `-` for standard input. */
  tokenFile?: string;
  caFingerprint?: string;
  /** `auto` | `git` | `rest` */
  transport?: string;
  apiUrl?: string;
  /** Prometheus metrics address (`PORT` or `HOST:PORT`). */
  metricsListen?: string;
  state: string;
}

/** `margo agent --server URL --token-file FILE|- --state DIR`: first start enrols, later starts resume from DIR. */
export async function run(opts: AgentOptions, deps: CommandDeps): Promise<number> {
  const stateDir = resolve(deps.cwd, opts.state);
  const agent = await deps.services.startAgent({
    ...(opts.server ? { server: opts.server } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.tokenFile
      ? { tokenFile: opts.tokenFile === '-' ? '-' : resolve(deps.cwd, opts.tokenFile) }
      : {}),
    ...(opts.caFingerprint ? { caFingerprint: opts.caFingerprint } : {}),
    ...(opts.transport ? { transport: opts.transport } : {}),
    ...(opts.apiUrl ? { apiUrl: opts.apiUrl } : {}),
    ...(opts.metricsListen ? { metricsListen: opts.metricsListen } : {}),
    stateDir,
    log: stderrLogger(deps, { component: 'agent' }),
  });
  deps.io.err(`agent for device ${agent.deviceId} running (state in ${stateDir}); Ctrl-C to stop\n`);
  const sig = await deps.untilStopped();
  deps.io.err(`${sig}: stopping the agent\n`);
  await agent.stop();
  return 0;
}

export interface AgentHoldOptions {
  verb: 'hold' | 'release';
  state: string;
  reason?: string;
  status?: boolean;
  json?: boolean;
}

/**
 * `margo agent hold --state DIR --reason TEXT | --status [--json]` and `margo agent release
 * --state DIR`: the on-site hold, as `margo-agent hold|release` does it (the running agent follows).
 */
export async function runHold(opts: AgentHoldOptions, deps: CommandDeps): Promise<number> {
  const { runHold: hold } = await import('@margo-gitops/agent');
  if (opts.verb === 'hold' && !opts.status && opts.reason === undefined)
    throw new MargoError('USAGE_ERROR', 'margo agent hold needs --reason <text> (or --status)');
  return hold(
    {
      verb: opts.verb,
      state: opts.state,
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      ...(opts.status ? { status: true } : {}),
      ...(opts.json ? { json: true } : {}),
    },
    { out: (t) => deps.io.out(t), cwd: deps.cwd },
  );
}
