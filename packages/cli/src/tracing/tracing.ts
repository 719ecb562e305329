import {
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OrchestratorTelemetry, PassResult } from '@margo-gitops/orchestrator';
import { MargoError } from '@margo-gitops/spec';

/** service.name of every span `margo serve` exports. */
export const SERVICE_NAME = 'margo-gitops';

/** Where the traces endpoint came from (for the start-up line). */
export type OtlpSource =
  | '--otlp-endpoint'
  | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'config.json otlpEndpoint';

/**
 * The OTLP/HTTP traces URL `margo serve` exports to, or undefined (no tracing). First of:
 * `--otlp-endpoint`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, as the OpenTelemetry
 * specification has it), `OTEL_EXPORTER_OTLP_ENDPOINT`, config.json `otlpEndpoint`. A base URL
 * (all but the traces variable) gets `/v1/traces` appended unless it already ends with it.
 * @example otlpTracesUrl({ flag: 'http://127.0.0.1:4318' }) // { url: 'http://127.0.0.1:4318/v1/traces', source: '--otlp-endpoint' }
 */
export function otlpTracesUrl(o: {
  flag?: string;
  env?: NodeJS.ProcessEnv;
  config?: string;
}): { url: string; source: OtlpSource } | undefined {
  const env = o.env ?? {};
  const pick: [string | undefined, OtlpSource, boolean][] = [
    [o.flag, '--otlp-endpoint', true],
    [env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', false],
    [env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTEL_EXPORTER_OTLP_ENDPOINT', true],
    [o.config, 'config.json otlpEndpoint', true],
  ];
  const hit = pick.find(([v]) => v !== undefined && v.trim() !== '');
  if (!hit) return undefined;
  const [raw, source, base] = hit;
  let u: URL;
  try {
    u = new URL(raw!.trim());
  } catch {
    throw new MargoError('USAGE_ERROR', `${source}: "${raw}" is not a URL`, {
      hint: "Give the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318.",
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new MargoError('USAGE_ERROR', `${source}: the OTLP endpoint must be an http or https URL`, {
      hint: 'OTLP over HTTP (port 4318 by default); gRPC is not used by margo serve.',
    });
  if (u.username || u.password)
    throw new MargoError('USAGE_ERROR', `${source}: the OTLP endpoint must not carry credentials`);
  let url = u.toString();
  if (base && !/\/v1\/traces\/?$/.test(u.pathname)) url = url.replace(/\/?$/, '') + '/v1/traces';
  return { url, source };
}

export interface Tracing {
  telemetry: OrchestratorTelemetry;
  /** Exports what is buffered now. */
  flush(): Promise<void>;
  /** Exports what is buffered, then stops (on server close). */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** OTLP/HTTP traces URL (otlpTracesUrl). */
  url?: string;
  /** Instead of the OTLP exporter (tests). */
  exporter?: SpanExporter;
  serviceVersion?: string;
  /** Where export failures are told (the SDK's diagnostics at warn level and above). */
  warn?: (msg: string) => void;
  /** Batch delay, ms (default 1000). */
  scheduledDelayMillis?: number;
}

/**
 * Traces of the orchestrator, fed from its telemetry hook: one `margo.reconcile` span per pass
 * (attributes margo.reason, margo.device.id, margo.outcome, margo.commits, margo.devices_written,
 * margo.error_code; one `margo.commit` event per commit made while it was open) and one
 * `margo.rollout.step` span per rollout step (margo.rollout.name, margo.rollout.phase,
 * margo.rollout.events, margo.commit), a child of the pass that ran it. Batched and sent over
 * OTLP/HTTP; nothing is exported when tracing is not configured (this is not created then).
 */
export function createTracing(o: TracingOptions): Tracing {
  if (o.warn) {
    const warn = o.warn;
    diag.setLogger(
      {
        error: (m) => warn(`OpenTelemetry: ${m}`),
        warn: (m) => warn(`OpenTelemetry: ${m}`),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }
  const exporter = o.exporter ?? new OTLPTraceExporter({ url: o.url! });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': SERVICE_NAME,
      ...(o.serviceVersion ? { 'service.version': o.serviceVersion } : {}),
    }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, { scheduledDelayMillis: o.scheduledDelayMillis ?? 1000 }),
    ],
  });
  const tracer = provider.getTracer(SERVICE_NAME);
  // Passes still running, newest last: commits and rollout steps belong to the newest.
  const open: Span[] = [];
  const current = () => open[open.length - 1];

  const telemetry: OrchestratorTelemetry = {
    passStarted(info) {
      const span = tracer.startSpan('margo.reconcile', {
        kind: SpanKind.INTERNAL,
        attributes: {
          'margo.reason': info.reason,
          ...(info.deviceId ? { 'margo.device.id': info.deviceId } : {}),
        },
      });
      open.push(span);
      return {
        end(r: PassResult) {
          span.setAttributes({
            'margo.outcome': r.outcome,
            'margo.commits': r.commits,
            'margo.devices_written': r.devicesWritten,
            ...(r.errorCode ? { 'margo.error_code': r.errorCode } : {}),
          });
          if (r.outcome === 'error')
            span.setStatus({ code: SpanStatusCode.ERROR, ...(r.errorCode ? { message: r.errorCode } : {}) });
          span.end();
          const i = open.lastIndexOf(span);
          if (i >= 0) open.splice(i, 1);
        },
      };
    },
    committed(e) {
      current()?.addEvent('margo.commit', {
        'margo.repo': e.repo,
        'margo.commit.kind': e.kind,
        'margo.commit': e.commit,
        ...(e.deviceId ? { 'margo.device.id': e.deviceId } : {}),
      });
    },
    rolloutStep(e) {
      const parent = current();
      const span = tracer.startSpan(
        'margo.rollout.step',
        {
          kind: SpanKind.INTERNAL,
          startTime: e.startedAt,
          attributes: {
            'margo.rollout.name': e.name,
            'margo.rollout.phase': e.phase,
            'margo.rollout.events': e.events,
            ...(e.commit ? { 'margo.commit': e.commit } : {}),
          },
        },
        parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
      );
      span.end(e.endedAt);
    },
    fleetChanged: () => undefined,
  };
  return {
    telemetry,
    flush: () => provider.forceFlush(),
    async shutdown() {
      for (const s of open.splice(0)) s.end();
      await provider.shutdown();
    },
  };
}
