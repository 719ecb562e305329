/**
 * The agent's Prometheus metrics (opt-in: `--metrics-listen`, MARGO_AGENT_METRICS_LISTEN, setting
 * `metricsListen`; docs/observability.md). Counters and histograms follow each poll's result; the
 * outbox depth, deployment states and the hold are read at scrape time. Own Registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PollResult } from '../agent.js';
import type { AgentMetricsView } from './view.js';

export interface AgentMetrics {
  readonly registry: Registry;
  /** Agent option onPoll. */
  polled(r: PollResult, durationMs: number): void;
  scrape(): Promise<{ contentType: string; body: string }>;
}

export function createAgentMetrics(o: {
  transport: 'git' | 'rest';
  view: () => AgentMetricsView;
  processMetrics?: boolean;
}): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const applies = new Counter({
    name: 'margo_agent_applies_total',
    help: 'Deployment changes carried out (install, update, remove) by outcome: ok, failed, waiting, held.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const applyDuration = new Histogram({
    name: 'margo_agent_apply_duration_seconds',
    help: 'Duration of each deployment change (pull, verify, start or remove).',
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers,
  });
  const failures = new Counter({
    name: 'margo_agent_failures_total',
    help: 'Failures by error code: failed deployment changes and failed polls.',
    labelNames: ['code'] as const,
    registers,
  });
  const pollDuration = new Histogram({
    name: 'margo_agent_poll_duration_seconds',
    help: 'Duration of each poll (fetch, and apply when the desired state changed) by transport and outcome (ok, error, skipped).',
    labelNames: ['transport', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  new Gauge({
    name: 'margo_agent_outbox_depth',
    help: 'Status changes queued on disk and not yet delivered to the server.',
    registers,
    collect() {
      this.set(o.view().outboxDepth);
    },
  });
  new Gauge({
    name: 'margo_agent_deployments',
    help: 'Deployments on this device by the state last reported.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.reset();
      const by = new Map<string, number>();
      for (const s of o.view().deploymentStates) by.set(s, (by.get(s) ?? 0) + 1);
      for (const [state, n] of by) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'margo_agent_held',
    help: '1 while an on-site hold is in force (margo-agent hold), else 0.',
    registers,
    collect() {
      this.set(o.view().held ? 1 : 0);
    },
  });
  for (const outcome of ['ok', 'failed']) applies.inc({ outcome }, 0);

  return {
    registry,
    polled(r, durationMs) {
      const outcome = r.skipped ? 'skipped' : r.ok ? 'ok' : 'error';
      pollDuration.observe({ transport: o.transport, outcome }, durationMs / 1000);
      if (r.error && !r.skipped) failures.inc({ code: r.error.code });
      for (const a of r.actions) {
        if (a.kind === 'noop') continue;
        applies.inc({ outcome: a.result });
        if (a.durationMs !== undefined && a.result !== 'held') applyDuration.observe(a.durationMs / 1000);
        if (a.result === 'failed') failures.inc({ code: a.code ?? 'UNKNOWN' });
      }
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
