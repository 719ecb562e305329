import { resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { configPath, loadClientConfig, saveClientConfig } from '../client-config.js';
import type { CommandDeps } from '../context.js';
import { readServerSettings } from '../data-dir.js';
import { apiBesideListen, apiListenFor, checkApiListen, DEFAULT_API_LISTEN } from '../api-server.js';
import { parseListen, urlFor } from '../paths.js';
import { otlpTracesUrl } from '../tracing/tracing.js';
import type { Logger, RunningServer } from '../services.js';

export interface ServeOptions {
  data: string;
  listen?: string;
  /** The Workload Management API listener (host:port or `off`; default: from the data folder). */
  apiListen?: string;
  /** Accept TLS 1.2 on the API too (rc.2: only as an opt-in fallback). */
  apiTls12?: boolean;
  /** Fleet-wide cap on devices changing at once (default: `maxConcurrentChanges` of config.json, else none). */
  maxConcurrentChanges?: string;
  /** OTLP/HTTP collector for traces (default: OTEL_EXPORTER_OTLP_* env, else config.json otlpEndpoint). */
  otlpEndpoint?: string;
}

/** JSON-lines logger on stderr (data stays on stdout). */
export function stderrLogger(deps: Pick<CommandDeps, 'io'>, base: Record<string, unknown> = {}): Logger {
  const line = (level: string, msg: string, fields?: Record<string, unknown>) =>
    deps.io.err(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }) + '\n');
  return { info: (m, f) => line('info', m, f), error: (m, f) => line('error', m, f) };
}

/** Points every client context that uses this data folder at the URL actually served. */
export async function updateLocalContexts(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  url: string,
): Promise<void> {
  const path = configPath(env);
  const cfg = await loadClientConfig(path);
  let changed = false;
  for (const c of Object.values(cfg.contexts)) {
    if (c.dataDir && resolve(c.dataDir) === dataDir && c.server !== url) {
      c.server = url;
      changed = true;
    }
  }
  if (changed) await saveClientConfig(path, cfg);
}

/** Starts the server; returns it running (used by `serve` and `quickstart`). */
export async function startServe(
  opts: ServeOptions,
  deps: CommandDeps,
  logs?: { logTo: string; log: Logger },
): Promise<RunningServer> {
  const dataDir = resolve(deps.cwd, opts.data);
  const settings = await readServerSettings(dataDir);
  const listen = opts.listen ?? settings.listen;
  try {
    parseListen(listen);
  } catch (e) {
    throw new MargoError('USAGE_ERROR', `${(e as Error).message} (from --listen)`, {
      hint: 'Write host:port, e.g. 127.0.0.1:8470.',
    });
  }
  // An explicit --listen moves the API to its host (0.0.0.0:8470 -> 0.0.0.0:<recorded API port>),
  // unless init recorded an API address of its own choosing (not the one derived from the Git one).
  const recordedApi = settings.api?.listen;
  const apiListen =
    opts.apiListen ??
    (opts.listen && (!recordedApi || recordedApi === apiListenFor(settings.listen))
      ? apiBesideListen(opts.listen, recordedApi)
      : (recordedApi ?? DEFAULT_API_LISTEN));
  checkApiListen(apiListen);
  const cap = opts.maxConcurrentChanges;
  if (cap !== undefined && !/^[1-9][0-9]{0,8}$/.test(cap))
    throw new MargoError(
      'USAGE_ERROR',
      `--max-concurrent-changes must be a whole number above 0, not ${cap}`,
      {
        hint: 'e.g. --max-concurrent-changes 50 (devices changing at once across every rollout).',
      },
    );
  const otlp = otlpTracesUrl({ flag: opts.otlpEndpoint, env: deps.env, config: settings.otlpEndpoint });
  const srv = await deps.services.startServer({
    dataDir,
    listen,
    api: {
      listen: apiListen,
      ...(opts.apiTls12 ? { tls12: true } : {}),
      required: opts.apiListen !== undefined,
    },
    // An explicit --listen wins over the public URL init derived from its own address, never over
    // one chosen with --public-url (the address devices dial is not the one the server binds).
    ...(opts.listen && settings.publicUrl === urlFor(settings.listen)
      ? {}
      : { publicUrl: settings.publicUrl }),
    ...(cap !== undefined ? { maxConcurrentChanges: Number(cap) } : {}),
    ...(otlp ? { otlpTracesUrl: otlp.url } : {}),
    log: logs?.log ?? stderrLogger(deps, { component: 'server' }),
    ...(logs ? { logTo: logs.logTo } : {}),
  });
  await updateLocalContexts(deps.env, dataDir, srv.url);
  return srv;
}

/** `margo serve`: orchestrator + Git server + onboarding + status on one port, until SIGINT/SIGTERM. */
export async function run(opts: ServeOptions, deps: CommandDeps): Promise<number> {
  const srv = await startServe(opts, deps);
  deps.io.out(`margo serving on ${srv.url}\n`);
  for (const [what, url] of Object.entries(srv.endpoints)) deps.io.out(`  ${what.padEnd(14)} ${url}\n`);
  const sig = await deps.untilStopped();
  deps.io.err(`${sig}: stopping\n`);
  await srv.close();
  return 0;
}
