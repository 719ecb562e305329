/**
 * Prometheus metrics of `margo serve` (docs/observability.md): reconcile passes and commits from the
 * orchestrator's telemetry hook, Git and API requests from their handlers' onRequest callbacks,
 * device and deployment gauges from the fleet roll-up read at scrape time (in `margo serve` the
 * console's shared one; read once per scrape, reused for a second), and
 * prom-client's default process metrics. One Registry of its own (never prom-client's global one).
 */
import type { GitRequestEvent } from '@margo-gitops/git';
import type { ApiRequestEvent, FleetStatus, OrchestratorTelemetry } from '@margo-gitops/orchestrator';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { httpOutcome, reasonClass } from './classify.js';

export interface ServerMetricsOptions {
  /**
   * The fleet roll-up, read at scrape time: `margo serve` passes the console's shared roll-up
   * (ConsoleSnapshots), never a fresh Orchestrator.getFleetStatus per scrape.
   */
  fleetStatus(): Promise<FleetStatus>;
  /** How long one roll-up serves scrapes, ms. Default 1000. */
  rollupTtlMs?: number;
  /** Include prom-client's default process metrics. Default true. */
  processMetrics?: boolean;
  now?: () => number;
}

export interface ServerMetrics {
  readonly registry: Registry;
  /** Feed for the orchestrator (fanned out with the other telemetry in server-wiring). */
  readonly telemetry: OrchestratorTelemetry;
  /** GitHttpHandlerOptions.onRequest. */
  gitRequest(e: GitRequestEvent): void;
  /** The Workload Management API's onRequest. */
  apiRequest(e: ApiRequestEvent): void;
  /** The exposition text and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const FRESHNESS = ['reporting', 'stale', 'never'] as const;

export function createServerMetrics(opts: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const now = opts.now ?? Date.now;
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const passes = new Counter({
    name: 'margo_reconcile_passes_total',
    help: 'Reconcile passes by outcome (error: the pass failed or some device repository was not updated).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const passDuration = new Histogram({
    name: 'margo_reconcile_pass_duration_seconds',
    help: 'Duration of reconcile passes by the class of what triggered them.',
    labelNames: ['reason'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const commits = new Counter({
    name: 'margo_commits_total',
    help: 'Commits the orchestrator made, by repository (device, fleet) and kind (desired-state, rollout, enrolment).',
    labelNames: ['repo', 'kind'] as const,
    registers,
  });
  const rolloutSteps = new Counter({
    name: 'margo_rollout_steps_total',
    help: 'Rollout steps taken, by the phase the rollout is in after the step.',
    labelNames: ['phase'] as const,
    registers,
  });
  const gitRequests = new Counter({
    name: 'margo_git_requests_total',
    help: 'Requests to the embedded Git server by service (upload-pack, receive-pack, none) and outcome.',
    labelNames: ['service', 'outcome'] as const,
    registers,
  });
  const gitBytes = new Counter({
    name: 'margo_git_bytes_total',
    help: 'Body bytes of Git requests (in) and responses (out).',
    labelNames: ['direction'] as const,
    registers,
  });
  const polls = new Counter({
    name: 'margo_device_polls_total',
    help: 'Device polls: a ref advertisement of its own repository (git), a GET of its state manifest (api).',
    labelNames: ['transport', 'outcome'] as const,
    registers,
  });
  const apiRequests = new Counter({
    name: 'margo_api_requests_total',
    help: 'Workload Management API requests by route kind and HTTP status code.',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const apiDuration = new Histogram({
    name: 'margo_api_request_duration_seconds',
    help: 'Workload Management API request durations by route kind.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  passes.inc({ outcome: 'ok' }, 0);
  passes.inc({ outcome: 'error' }, 0);
  for (const direction of ['in', 'out']) gitBytes.inc({ direction }, 0);

  // Gauges from the roll-up: one roll-up per scrape at most, shared by the three.
  let cached: { at: number; p: Promise<FleetStatus> } | undefined;
  const ttl = opts.rollupTtlMs ?? 1000;
  const rollup = (): Promise<FleetStatus> => {
    if (!cached || now() - cached.at > ttl) {
      const p = opts.fleetStatus();
      cached = { at: now(), p };
      p.catch(() => (cached = undefined));
    }
    return cached.p;
  };
  new Gauge({
    name: 'margo_devices',
    help: 'Devices of the fleet by freshness: reporting (reported or seen within their expected window), stale, never.',
    labelNames: ['freshness'] as const,
    registers,
    async collect() {
      const s = await rollup();
      for (const f of FRESHNESS)
        this.set({ freshness: f }, s.devices.filter((d) => d.reporting === f).length);
    },
  });
  new Gauge({
    name: 'margo_devices_held',
    help: 'Devices under an on-site hold (margo-agent hold).',
    registers,
    async collect() {
      this.set((await rollup()).devices.filter((d) => d.hold).length);
    },
  });
  new Gauge({
    name: 'margo_deployments',
    help: 'Device rows of every deployment by state, as the fleet roll-up shows them.',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const s = await rollup();
      const by = new Map<string, number>();
      for (const d of s.deployments)
        for (const [state, n] of Object.entries(d.counts)) by.set(state, (by.get(state) ?? 0) + n);
      this.reset();
      for (const [state, n] of by) this.set({ state }, n);
    },
  });

  const telemetry: OrchestratorTelemetry = {
    passStarted(info) {
      const end = passDuration.startTimer({ reason: reasonClass(info.reason) });
      return {
        end(r) {
          end();
          passes.inc({ outcome: r.outcome });
        },
      };
    },
    committed: (e) => commits.inc({ repo: e.repo, kind: e.kind }),
    rolloutStep: (e) => rolloutSteps.inc({ phase: e.phase }),
    fleetChanged: () => undefined,
  };

  return {
    registry,
    telemetry,
    gitRequest(e) {
      const outcome = httpOutcome(e.status);
      gitRequests.inc({ service: e.service, outcome });
      gitBytes.inc({ direction: 'in' }, e.bytesIn);
      gitBytes.inc({ direction: 'out' }, e.bytesOut);
      if (e.deviceId && e.advertisement && e.service === 'upload-pack')
        polls.inc({ transport: 'git', outcome });
    },
    apiRequest(e) {
      apiRequests.inc({ route: e.route, code: String(e.status) });
      apiDuration.observe({ route: e.route }, e.durationMs / 1000);
      if (e.route === 'manifest' && e.method === 'GET' && e.deviceId)
        polls.inc({ transport: 'api', outcome: httpOutcome(e.status) });
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
