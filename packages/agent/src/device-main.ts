import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeInfo, isMargoError, toMargoError } from '@margo-gitops/spec';
import { startDeviceAgent, type EnrolApi, type StartLogger } from './device-agent.js';
import { HOLD_USAGE, parseHoldArgs, runHold } from './hold/hold-command.js';

/**
 * `margo-agent`: the device agent on its own, for devices. Same flags and behaviour as
 * `margo agent` (first start enrols, later starts resume from --state; every desired-state commit
 * is verified before it is applied), without the orchestrator, the client commands or commander,
 * and shipped as one bundled file (`npm run build` writes packages/agent/dist/bundle/). Settings
 * other than the three flags come from MARGO_AGENT_* variables (docs in packages/agent/README.md).
 */
export const USAGE = `usage: margo-agent --state <dir> [--server <url> --token-file <file|->] [--transport auto|git|rest]
                   [--api-url <url>] [--log-to <file>] [--metrics-listen <addr>]

  --state <dir>            state folder of this device (keys, enrolment, applied state)
  --server <url>           margo server URL (first start only)
  --token-file <file|->    file holding the enrolment string from \`margo device add\`, or - to
                           read it from standard input (first start only)
  --token <string>         the enrolment string itself: visible to other users in ps, so a
                           warning is logged (refused with MARGO_AGENT_REFUSE_ARGV_TOKEN=1)
  --ca-fingerprint <hex>   SHA-256 of the root CA (\`margo init\` prints it); must match the one
                           the enrolment string pins
  --transport <t>          auto (default: rest when an API URL is known, else git), git or rest
  --api-url <url>          Workload Management API (https://host:port, \`margo serve\`'s api (mTLS)
                           line); default: the one the enrolment answer named
  --log-to <file>          append the JSON log lines to this file instead of stderr
  --metrics-listen <addr>  serve Prometheus metrics at http://<addr>/metrics: PORT (loopback),
                           HOST:PORT or [IPv6]:PORT; off by default
  --help                   this text

On-site hold: margo-agent hold --state <dir> --reason <text> | --status,
              margo-agent release --state <dir>   (margo-agent hold --help)

Other settings: MARGO_AGENT_* environment variables (see the agent's README).
`;

export interface DeviceMainIo {
  err(text: string): void;
  /** Standard output (hold/release answers); default: standard error. */
  out?(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves with the signal name when the process is asked to stop. */
  untilStopped(): Promise<string>;
  enrolApi?: EnrolApi;
  /** Standard input, for `--token-file -` (default: process.stdin). */
  readStdin?: () => Promise<string>;
}

const FLAGS = new Set([
  'state',
  'server',
  'token',
  'token-file',
  'ca-fingerprint',
  'log-to',
  'transport',
  'api-url',
  'metrics-listen',
]);

/** Parses argv (without node and script); `{ error }` on a usage error. */
export function parseDeviceArgs(
  argv: string[],
): { help: true } | { help: false; values: Record<string, string> } | { error: string } {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { help: true };
    if (!a.startsWith('--')) return { error: `unexpected argument ${a}` };
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!FLAGS.has(k)) return { error: `unknown option --${k}` };
    const v = inline ?? argv[++i];
    if (v === undefined || v === '') return { error: `--${k} needs a value` };
    values[k] = v;
  }
  if (!values.state) return { error: '--state is required' };
  return { help: false, values };
}

/** Runs the device agent until stopped; returns the process exit code (2 usage, 1 failure). */
export async function runDeviceMain(argv: string[], io: DeviceMainIo): Promise<number> {
  if (argv[0] === 'hold' || argv[0] === 'release') return holdMain(argv[0], argv.slice(1), io);
  const parsed = parseDeviceArgs(argv);
  if ('error' in parsed) {
    io.err(`error USAGE_ERROR: ${parsed.error}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    io.err(USAGE);
    return 0;
  }
  const v = parsed.values;
  const stateDir = resolve(io.cwd, v.state!);
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    io.err(
      JSON.stringify({ time: new Date().toISOString(), level, msg, component: 'agent', ...fields }) + '\n',
    );
  const log: StartLogger = { info: line('info'), warn: line('warn'), error: line('error') };
  try {
    const agent = await startDeviceAgent(
      {
        ...(v.server ? { server: v.server } : {}),
        ...(v.token ? { token: v.token } : {}),
        ...(v['token-file']
          ? { tokenFile: v['token-file'] === '-' ? '-' : resolve(io.cwd, v['token-file']) }
          : {}),
        ...(v['ca-fingerprint'] ? { caFingerprint: v['ca-fingerprint'] } : {}),
        ...(io.readStdin ? { readStdin: io.readStdin } : {}),
        ...(v['log-to'] ? { logTo: resolve(io.cwd, v['log-to']) } : {}),
        ...(v.transport ? { transport: v.transport } : {}),
        ...(v['api-url'] ? { apiUrl: v['api-url'] } : {}),
        ...(v['metrics-listen'] ? { metricsListen: v['metrics-listen'] } : {}),
        stateDir,
        log,
      },
      io.env,
      io.enrolApi,
    );
    io.err(`agent for device ${agent.deviceId} running (state in ${stateDir})\n`);
    const sig = await io.untilStopped();
    io.err(`${sig}: stopping the agent\n`);
    await agent.stop();
    return 0;
  } catch (e) {
    const known = isMargoError(e) && codeInfo(e.code) !== undefined;
    const err = known ? e : toMargoError(e);
    io.err(`error ${err.code}: ${err.message}\n`);
    if (err.hint) io.err(`hint: ${err.hint}\n`);
    return err.code === 'USAGE_ERROR' || err.code === 'CLI_AGENT_STATE_INVALID' ? 2 : 1;
  }
}

/** `margo-agent hold|release ...`: writes or removes the hold file; the running agent follows. */
function holdMain(verb: 'hold' | 'release', argv: string[], io: DeviceMainIo): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    (io.out ?? io.err)(HOLD_USAGE);
    return 0;
  }
  const req = parseHoldArgs(verb, argv);
  if ('error' in req) {
    io.err(`error USAGE_ERROR: ${req.error}\n${HOLD_USAGE}`);
    return 2;
  }
  try {
    return runHold(req, { out: io.out ?? io.err, cwd: io.cwd });
  } catch (e) {
    const err = toMargoError(e);
    io.err(`error ${err.code}: ${err.message}\n`);
    if (err.hint) io.err(`hint: ${err.hint}\n`);
    return err.code === 'USAGE_ERROR' || err.code === 'CLI_AGENT_STATE_INVALID' ? 2 : 1;
  }
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(self)) {
  runDeviceMain(process.argv.slice(2), {
    err: (t) => process.stderr.write(t),
    out: (t) => process.stdout.write(t),
    env: process.env,
    cwd: process.cwd(),
    untilStopped: () =>
      new Promise((r) => {
        process.once('SIGTERM', () => r('SIGTERM'));
        process.once('SIGINT', () => r('SIGINT'));
      }),
  }).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`error INTERNAL_ERROR: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
