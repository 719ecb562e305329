import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG, type AgentConfig } from './agent-config.js';
import { parseWindow } from './windows.js';
import { parseMetricsListen } from '../metrics/view.js';
import { OTEL_COLLECTOR_KEYS, otelCollectorProblems } from '../otel/otel-settings.js';

export interface ConfigProblem {
  /** Config key (`pollIntervalSeconds`, `downtimeWindows[1]`) or source (`file`). */
  path: string;
  message: string;
}

export interface ConfigSources {
  /** Path of a JSON or YAML config file, or the parsed object. */
  file?: string | Record<string, unknown>;
  /** Environment; only `MARGO_AGENT_*` keys are read (e.g. `MARGO_AGENT_DEVICE_ID`). */
  env?: Record<string, string | undefined>;
  /** Flags already parsed by the CLI, keyed by config name (`pollIntervalSeconds`). */
  flags?: Record<string, unknown>;
}

type Kind = 'string' | 'number' | 'boolean' | 'list' | 'enum';
interface KeySpec {
  kind: Kind;
  values?: readonly string[];
  int?: boolean;
  min?: number;
  path?: boolean;
}

const KEYS: Record<keyof AgentConfig, KeySpec> = {
  deviceId: { kind: 'string' },
  repoUrl: { kind: 'string' },
  token: { kind: 'string' },
  tokenFile: { kind: 'string', path: true },
  enrolmentFile: { kind: 'string', path: true },
  transport: { kind: 'enum', values: ['auto', 'git', 'rest'] },
  apiUrl: { kind: 'string' },
  stateDir: { kind: 'string', path: true },
  pollIntervalSeconds: { kind: 'number', min: 0.05 },
  pollingWindow: { kind: 'string' },
  downtimeWindows: { kind: 'list' },
  windowTimeBase: { kind: 'enum', values: ['local', 'utc'] },
  gitBackend: { kind: 'enum', values: ['iso', 'native'] },
  gitUsername: { kind: 'string' },
  composeCommand: { kind: 'string' },
  dockerPath: { kind: 'string' },
  composeProjectPrefix: { kind: 'string' },
  composeStopTimeoutSeconds: { kind: 'number', int: true, min: 0 },
  otelCollectorEndpoint: { kind: 'string' },
  otelCollectorProtocol: { kind: 'string' },
  otelCollectorGrpcEndpoint: { kind: 'string' },
  otelCollectorCertificate: { kind: 'string' },
  helmPath: { kind: 'string' },
  kubeconfig: { kind: 'string', path: true },
  helmPlainHttp: { kind: 'boolean' },
  ociPlainHttp: { kind: 'boolean' },
  ociPlainHttpHosts: { kind: 'list' },
  maxArtifactBytes: { kind: 'number', int: true, min: 1 },
  capabilitiesFile: { kind: 'string', path: true },
  statusHistoryLimit: { kind: 'number', int: true, min: 2 },
  driftCheckEvery: { kind: 'number', int: true, min: 0 },
  capabilitiesEvery: { kind: 'number', int: true, min: 1 },
  maxBackoffSeconds: { kind: 'number', min: 1 },
  defaultTimeoutSeconds: { kind: 'number', min: 1 },
  logLevel: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  metricsListen: { kind: 'string' },
};

/** `pollIntervalSeconds` -> `MARGO_AGENT_POLL_INTERVAL_SECONDS`. */
export function envName(key: string): string {
  return 'MARGO_AGENT_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function coerce(
  key: string,
  spec: KeySpec,
  raw: unknown,
  fromText: boolean,
  problems: ConfigProblem[],
): unknown {
  if (raw === undefined || raw === null) return undefined;
  switch (spec.kind) {
    case 'string':
    case 'enum': {
      if (typeof raw !== 'string') {
        problems.push({ path: key, message: `must be a string, got ${typeof raw}` });
        return undefined;
      }
      if (spec.kind === 'enum' && !spec.values!.includes(raw)) {
        problems.push({ path: key, message: `must be one of ${spec.values!.join(', ')}, got "${raw}"` });
        return undefined;
      }
      return raw;
    }
    case 'number': {
      const n =
        typeof raw === 'number'
          ? raw
          : fromText && typeof raw === 'string' && raw.trim() !== ''
            ? Number(raw)
            : NaN;
      if (!Number.isFinite(n)) {
        problems.push({ path: key, message: `must be a number, got ${JSON.stringify(raw)}` });
        return undefined;
      }
      if (spec.int && !Number.isInteger(n))
        problems.push({ path: key, message: `must be a whole number, got ${n}` });
      else if (spec.min !== undefined && n < spec.min)
        problems.push({ path: key, message: `must be at least ${spec.min}, got ${n}` });
      else return n;
      return undefined;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (fromText && typeof raw === 'string' && /^(true|false|1|0|yes|no)$/i.test(raw))
        return /^(true|1|yes)$/i.test(raw);
      problems.push({ path: key, message: `must be true or false, got ${JSON.stringify(raw)}` });
      return undefined;
    }
    case 'list': {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
      if (fromText && typeof raw === 'string')
        return raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      problems.push({ path: key, message: 'must be a list of strings' });
      return undefined;
    }
  }
}

function layer(
  source: string,
  obj: Record<string, unknown>,
  fromText: boolean,
  baseDir: string | undefined,
  out: Record<string, unknown>,
  problems: ConfigProblem[],
): void {
  for (const [k, v] of Object.entries(flattenOtelCollector(obj, problems))) {
    const spec = (KEYS as Record<string, KeySpec>)[k];
    if (!spec) {
      problems.push({ path: k, message: `unknown setting (from ${source})` });
      continue;
    }
    let val = coerce(k, spec, v, fromText, problems);
    if (val !== undefined && spec.path && baseDir && typeof val === 'string' && !isAbsolute(val))
      val = resolve(baseDir, val);
    if (val !== undefined) out[k] = val;
  }
}

/** A file's `otelCollector: {endpoint, protocol...}` as the flat `otelCollectorEndpoint`... settings. */
function flattenOtelCollector(
  obj: Record<string, unknown>,
  problems: ConfigProblem[],
): Record<string, unknown> {
  if (!('otelCollector' in obj)) return obj;
  const { otelCollector, ...rest } = obj;
  if (otelCollector === null || otelCollector === undefined) return rest;
  if (typeof otelCollector !== 'object' || Array.isArray(otelCollector)) {
    problems.push({
      path: 'otelCollector',
      message: 'must be a mapping {endpoint, protocol?, grpcEndpoint?, certificate?}',
    });
    return rest;
  }
  for (const [k, v] of Object.entries(otelCollector)) {
    const flat = OTEL_COLLECTOR_KEYS[k];
    if (!flat) problems.push({ path: `otelCollector.${k}`, message: 'unknown setting' });
    else rest[flat] = v;
  }
  return rest;
}

/**
 * Loads and validates the agent configuration. Never throws for bad input: every problem is listed
 * with its key. `config` is only meaningful when `problems` is empty.
 * @example
 * const { config, problems } = loadAgentConfig({ file: '/etc/margo/agent.yaml', env: process.env, flags: {} });
 */
export function loadAgentConfig(sources: ConfigSources): { config: AgentConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG, downtimeWindows: [] };

  if (sources.file !== undefined) {
    let obj: unknown;
    let baseDir: string | undefined;
    if (typeof sources.file === 'string') {
      baseDir = dirname(resolve(sources.file));
      try {
        obj = parseYaml(readFileSync(sources.file, 'utf8'));
      } catch (e) {
        problems.push({ path: 'file', message: `cannot read ${sources.file}: ${(e as Error).message}` });
      }
    } else obj = sources.file;
    if (obj !== undefined && obj !== null) {
      if (typeof obj !== 'object' || Array.isArray(obj))
        problems.push({ path: 'file', message: 'must be a mapping of settings' });
      else layer('file', obj as Record<string, unknown>, false, baseDir, merged, problems);
    }
  }

  if (sources.env) {
    const fromEnv: Record<string, unknown> = {};
    const known = new Map(Object.keys(KEYS).map((k) => [envName(k), k]));
    for (const [name, value] of Object.entries(sources.env)) {
      if (!name.startsWith('MARGO_AGENT_') || value === undefined) continue;
      const key = known.get(name);
      if (!key) problems.push({ path: name, message: 'unknown MARGO_AGENT_ environment variable' });
      else fromEnv[key] = value;
    }
    layer('environment', fromEnv, true, undefined, merged, problems);
  }

  if (sources.flags) {
    const defined = Object.fromEntries(Object.entries(sources.flags).filter(([, v]) => v !== undefined));
    layer('flags', defined, true, undefined, merged, problems);
  }

  // Enrolment result and token file fill what is still missing.
  if (typeof merged.enrolmentFile === 'string') {
    try {
      const e = JSON.parse(readFileSync(merged.enrolmentFile, 'utf8')) as Record<string, unknown>;
      for (const k of ['deviceId', 'repoUrl', 'token', 'apiUrl'] as const) {
        if (merged[k] === undefined && typeof e[k] === 'string') merged[k] = e[k];
      }
    } catch (e) {
      problems.push({
        path: 'enrolmentFile',
        message: `cannot read enrolment result: ${(e as Error).message}`,
      });
    }
  }
  if (merged.token === undefined && typeof merged.tokenFile === 'string') {
    try {
      merged.token = readFileSync(merged.tokenFile, 'utf8').trim();
    } catch (e) {
      problems.push({ path: 'tokenFile', message: `cannot read token file: ${(e as Error).message}` });
    }
  }

  for (const k of ['deviceId', 'repoUrl', 'stateDir'] as const) {
    if (typeof merged[k] !== 'string' || merged[k] === '') problems.push({ path: k, message: 'is required' });
  }
  if (merged.token === undefined && merged.tokenFile === undefined && merged.enrolmentFile === undefined) {
    problems.push({ path: 'token', message: 'is required (or tokenFile, or enrolmentFile)' });
  } else if (merged.token === '') problems.push({ path: 'token', message: 'is empty' });
  if (typeof merged.deviceId === 'string' && merged.deviceId && !/^[A-Za-z0-9._~-]+$/.test(merged.deviceId)) {
    problems.push({ path: 'deviceId', message: 'may only contain letters, digits and . _ ~ -' });
  }
  if (typeof merged.repoUrl === 'string' && merged.repoUrl) {
    try {
      const u = new URL(merged.repoUrl);
      if (!['http:', 'https:', 'file:'].includes(u.protocol))
        problems.push({ path: 'repoUrl', message: 'must be an http(s) or file URL' });
      if (u.username || u.password)
        problems.push({ path: 'repoUrl', message: 'must not contain credentials; use token' });
    } catch {
      problems.push({ path: 'repoUrl', message: `"${merged.repoUrl}" is not a URL` });
    }
  }
  if (typeof merged.apiUrl === 'string') {
    try {
      const u = new URL(merged.apiUrl);
      if (u.protocol !== 'https:') problems.push({ path: 'apiUrl', message: 'must be an https URL' });
      if (u.username || u.password)
        problems.push({
          path: 'apiUrl',
          message: 'must not contain credentials (the device certificate is used)',
        });
    } catch {
      problems.push({ path: 'apiUrl', message: `"${merged.apiUrl}" is not a URL` });
    }
  } else if (merged.transport === 'rest')
    problems.push({ path: 'apiUrl', message: 'is required with transport rest' });
  if (typeof merged.pollingWindow === 'string') {
    const w = parseWindow(merged.pollingWindow);
    if (typeof w === 'string') problems.push({ path: 'pollingWindow', message: w });
  }
  problems.push(...otelCollectorProblems(merged as { otelCollectorEndpoint?: string }));
  if (typeof merged.metricsListen === 'string') {
    const m = parseMetricsListen(merged.metricsListen);
    if (typeof m === 'string') problems.push({ path: 'metricsListen', message: m });
  }
  (merged.downtimeWindows as string[]).forEach((s, i) => {
    const w = parseWindow(s);
    if (typeof w === 'string') problems.push({ path: `downtimeWindows[${i}]`, message: w });
  });
  return { config: merged as unknown as AgentConfig, problems };
}
