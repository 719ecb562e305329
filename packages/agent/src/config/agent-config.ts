import type { TimeBase } from './windows.js';

/** The validated agent configuration (defaults < file < env `MARGO_AGENT_*` < flags). */
export interface AgentConfig {
  deviceId: string;
  /** Smart-HTTP URL of the device repository (`<base>/git/devices/<id>.git`). */
  repoUrl: string;
  /** Device token for the git server (never logged). Either this or `tokenFile`/`enrolmentFile`. */
  token?: string;
  /** File holding the token (trimmed). */
  tokenFile?: string;
  /** JSON written by enrolment: `{deviceId?, repoUrl?, token?}` fill what is not set otherwise. */
  enrolmentFile?: string;
  /**
   * How desired state and status travel: `git` (the device repository), `rest` (the Margo Workload
   * Management API over mutual TLS at `apiUrl`), or `auto`: rest when an API URL is known (given,
   * or from the enrolment answer), else git. The state folder is the same for both.
   */
  transport: 'auto' | 'git' | 'rest';
  /** `https://host:port` of the Workload Management API (`margo serve`'s `api (mTLS)` address). */
  apiUrl?: string;
  /** Where the agent keeps its repository copy, applied state, intents, outbox and packages. */
  stateDir: string;
  /** Margo "polling interval rate". */
  pollIntervalSeconds: number;
  /** Margo "polling interval period": hours of the day when polling is allowed (`HH:MM-HH:MM`). */
  pollingWindow?: string;
  /** Margo "downtime windows": no polling, no retries, errors ignored. */
  downtimeWindows: string[];
  /** Whether windows are read in the device's local time (default) or UTC. */
  windowTimeBase: TimeBase;
  gitBackend: 'iso' | 'native';
  /** Git Basic-auth user name sent with the token. */
  gitUsername: string;
  /** Compose command override, e.g. `docker-compose` or `docker compose` (detected when unset). */
  composeCommand?: string;
  dockerPath: string;
  /**
   * First part of the Compose project names this agent creates (`<prefix>-<deployment>-<id>`).
   * Default `margo`; give agents sharing one Docker engine (two fleets, a lab) different prefixes.
   * Projects already created keep their recorded names.
   */
  composeProjectPrefix?: string;
  /**
   * The device's OpenTelemetry collector (file form `otelCollector: {endpoint, protocol?,
   * grpcEndpoint?, certificate?}`; env `MARGO_AGENT_OTEL_COLLECTOR_ENDPOINT` ...): when the
   * endpoint is set, every Compose service and Helm release gets the OTEL_* environment and the
   * capabilities report `otelCollector: true` (see otel/otel-settings.ts).
   */
  otelCollectorEndpoint?: string;
  otelCollectorProtocol?: string;
  otelCollectorGrpcEndpoint?: string;
  otelCollectorCertificate?: string;
  /** Seconds compose gives containers to stop (`up`/`down --timeout`) before killing them. */
  composeStopTimeoutSeconds: number;
  helmPath: string;
  /** Kubeconfig for Helm devices; the Helm driver is enabled only when set. */
  kubeconfig?: string;
  /**
   * Deprecated (older configurations): plain http to every OCI registry host, for Helm charts.
   * Prefer `ociPlainHttpHosts`.
   */
  helmPlainHttp: boolean;
  /** Deprecated: plain http to every OCI registry host, for Compose packages. Prefer `ociPlainHttpHosts`. */
  ociPlainHttp: boolean;
  /**
   * OCI registries (`host[:port]`) reached over plain http instead of https, e.g. a loopback test
   * registry. The device's own server is reached with the scheme of its URL whatever this says.
   */
  ociPlainHttpHosts: string[];
  /** Largest OCI artifact layer (Compose package or Helm chart) the agent downloads, bytes. */
  maxArtifactBytes: number;
  /** Optional DeviceCapabilities overrides merged over what is discovered. */
  capabilitiesFile?: string;
  /** Keep this many commits on the status branch (older ones are squashed). */
  statusHistoryLimit: number;
  /** Check drift every N polls (0 = never). */
  driftCheckEvery: number;
  /** Re-discover capabilities every N polls. */
  capabilitiesEvery: number;
  /** Backoff cap when the server is unreachable. */
  maxBackoffSeconds: number;
  /** Per-action time limit when the component gives no timeout. */
  defaultTimeoutSeconds: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /**
   * Serve Prometheus metrics at `http://<this>/metrics` (`PORT` = loopback, `HOST:PORT`,
   * `[IPv6]:PORT`; no authentication): off unless set (docs/observability.md).
   */
  metricsListen?: string;
}

export const DEFAULT_CONFIG: Omit<AgentConfig, 'deviceId' | 'repoUrl' | 'stateDir'> = {
  pollIntervalSeconds: 30,
  transport: 'auto',
  downtimeWindows: [],
  windowTimeBase: 'local',
  gitBackend: 'iso',
  gitUsername: 'device',
  dockerPath: 'docker',
  composeStopTimeoutSeconds: 10,
  helmPath: 'helm',
  helmPlainHttp: false,
  ociPlainHttp: false,
  ociPlainHttpHosts: [],
  maxArtifactBytes: 512 * 1024 * 1024,
  statusHistoryLimit: 50,
  driftCheckEvery: 1,
  capabilitiesEvery: 20,
  maxBackoffSeconds: 300,
  defaultTimeoutSeconds: 300,
  logLevel: 'info',
};

/** The transport `config.transport` resolves to: `auto` is rest when an API URL is known. */
export function resolveTransport(config: Pick<AgentConfig, 'transport' | 'apiUrl'>): 'git' | 'rest' {
  if (config.transport === 'auto') return config.apiUrl ? 'rest' : 'git';
  return config.transport;
}
