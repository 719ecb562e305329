import { createHash } from 'node:crypto';
import { APP_VERSION_ANNOTATION, type ApplicationDeployment } from '@margo-gitops/spec';

/**
 * The device's OpenTelemetry collector, as the device owner configures it for the agent
 * (`otelCollector: {endpoint, protocol?, grpcEndpoint?, certificate?}`; env
 * `MARGO_AGENT_OTEL_COLLECTOR_ENDPOINT`, `..._PROTOCOL`, `..._GRPC_ENDPOINT`, `..._CERTIFICATE`).
 *
 * Margo, "Collecting Workload Observability Data" (Connecting to the OpenTelemetry Collector): the
 * device owner MUST inject into each container `HTTP_OTEL_EXPORTER_OTLP_ENDPOINT` (required, OTLP
 * HTTP + protobuf), `GRPC_OTEL_EXPORTER_OTLP_ENDPOINT` (optional), `OTEL_EXPORTER_OTLP_CERTIFICATE`
 * (optional, a path inside the container) and `OTEL_EXPORTER_OTLP_PROTOCOL` (optional, `grpc` or
 * `http/protobuf`, default `http/protobuf`).
 */
export interface OtelCollector {
  /** OTLP over HTTP (+ protobuf) URL as workloads reach it, e.g. `http://172.17.0.1:4318`. */
  endpoint: string;
  /** The protocol workloads should prefer. */
  protocol: OtelProtocol;
  /** OTLP over gRPC URL, when the collector offers it (required with protocol `grpc`). */
  grpcEndpoint?: string;
  /** Path, inside the containers, of the PEM certificate for TLS to the collector. */
  certificate?: string;
}

export const OTEL_PROTOCOLS = ['http/protobuf', 'grpc'] as const;
export type OtelProtocol = (typeof OTEL_PROTOCOLS)[number];

/** The flat agent settings the collector is read from (file form `otelCollector: {...}` is flattened). */
export interface OtelCollectorSettings {
  otelCollectorEndpoint?: string;
  otelCollectorProtocol?: string;
  otelCollectorGrpcEndpoint?: string;
  otelCollectorCertificate?: string;
}

/** `otelCollector.endpoint` -> flat setting name. */
export const OTEL_COLLECTOR_KEYS: Record<string, keyof OtelCollectorSettings> = {
  endpoint: 'otelCollectorEndpoint',
  protocol: 'otelCollectorProtocol',
  grpcEndpoint: 'otelCollectorGrpcEndpoint',
  certificate: 'otelCollectorCertificate',
};

function urlProblem(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http or https URL';
    if (u.username || u.password) return 'must not contain credentials';
    return undefined;
  } catch {
    return `"${raw}" is not a URL`;
  }
}

/** Problems of the collector settings, keyed by setting name (empty when fine or not set). */
export function otelCollectorProblems(s: OtelCollectorSettings): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const any =
    s.otelCollectorEndpoint !== undefined ||
    s.otelCollectorProtocol !== undefined ||
    s.otelCollectorGrpcEndpoint !== undefined ||
    s.otelCollectorCertificate !== undefined;
  if (!any) return out;
  if (s.otelCollectorEndpoint === undefined)
    out.push({
      path: 'otelCollector.endpoint',
      message: 'is required when otelCollector is set (the OTLP/HTTP URL workloads use)',
    });
  for (const [k, v] of [
    ['otelCollector.endpoint', s.otelCollectorEndpoint],
    ['otelCollector.grpcEndpoint', s.otelCollectorGrpcEndpoint],
  ] as const) {
    const p = v === undefined ? undefined : urlProblem(v);
    if (p) out.push({ path: k, message: p });
  }
  const protocol = s.otelCollectorProtocol ?? 'http/protobuf';
  if (!(OTEL_PROTOCOLS as readonly string[]).includes(protocol))
    out.push({
      path: 'otelCollector.protocol',
      message: `must be one of ${OTEL_PROTOCOLS.join(', ')}, got "${protocol}"`,
    });
  else if (protocol === 'grpc' && s.otelCollectorGrpcEndpoint === undefined)
    out.push({ path: 'otelCollector.grpcEndpoint', message: 'is required with protocol grpc' });
  if (s.otelCollectorCertificate !== undefined && !s.otelCollectorCertificate.startsWith('/'))
    out.push({ path: 'otelCollector.certificate', message: 'must be an absolute path (inside containers)' });
  return out;
}

/** The configured collector, or undefined when none is (settings assumed checked). */
export function otelCollectorOf(s: OtelCollectorSettings): OtelCollector | undefined {
  if (!s.otelCollectorEndpoint) return undefined;
  return {
    endpoint: s.otelCollectorEndpoint,
    protocol: (s.otelCollectorProtocol as OtelProtocol | undefined) ?? 'http/protobuf',
    ...(s.otelCollectorGrpcEndpoint ? { grpcEndpoint: s.otelCollectorGrpcEndpoint } : {}),
    ...(s.otelCollectorCertificate ? { certificate: s.otelCollectorCertificate } : {}),
  };
}

export { APP_VERSION_ANNOTATION };

/** Who a workload is: what its telemetry's resource attributes name. */
export interface WorkloadIdentity {
  deviceId: string;
  applicationId: string;
  applicationVersion?: string;
  deploymentId: string;
  deploymentName: string;
  component: string;
}

export function workloadIdentity(
  d: ApplicationDeployment,
  component: string,
  deviceId: string,
): WorkloadIdentity {
  const version = d.annotations?.[APP_VERSION_ANNOTATION];
  return {
    deviceId,
    applicationId: d.applicationId,
    ...(version ? { applicationVersion: version } : {}),
    deploymentId: d.id,
    deploymentName: d.name,
    component,
  };
}

/**
 * `OTEL_RESOURCE_ATTRIBUTES` value: `key=value` pairs, comma-separated, values percent-encoded
 * (the OpenTelemetry SDK environment specification: `,`, `=`, `%` and non-ASCII are encoded).
 */
export function resourceAttributes(pairs: [string, string][]): string {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return pairs.map(([k, v]) => `${k}=${enc(v)}`).join(',');
}

/**
 * The OTEL_* environment one container gets, in a fixed order (deterministic: the same settings
 * and workload always give the same variables, so drift checks and re-applies see no change).
 * `serviceName` is the container's service (a Compose service; the component for Helm).
 * @example otelEnvironment({ endpoint: 'http://10.0.0.1:4318', protocol: 'http/protobuf' }, id, 'web')
 */
export function otelEnvironment(
  c: OtelCollector,
  id: WorkloadIdentity,
  serviceName: string,
): [string, string][] {
  const attrs: [string, string][] = [
    ['service.namespace', id.deploymentName],
    ['margo.device.id', id.deviceId],
    ['margo.app.id', id.applicationId],
    ...(id.applicationVersion ? ([['margo.app.version', id.applicationVersion]] as [string, string][]) : []),
    ['margo.deployment.id', id.deploymentId],
    ['margo.deployment.name', id.deploymentName],
    ['margo.component', id.component],
  ];
  return [
    // The Margo page's names.
    ['HTTP_OTEL_EXPORTER_OTLP_ENDPOINT', c.endpoint],
    ...(c.grpcEndpoint ? ([['GRPC_OTEL_EXPORTER_OTLP_ENDPOINT', c.grpcEndpoint]] as [string, string][]) : []),
    ...(c.certificate ? ([['OTEL_EXPORTER_OTLP_CERTIFICATE', c.certificate]] as [string, string][]) : []),
    ['OTEL_EXPORTER_OTLP_PROTOCOL', c.protocol],
    // The names the OpenTelemetry SDKs read themselves.
    ['OTEL_EXPORTER_OTLP_ENDPOINT', c.protocol === 'grpc' && c.grpcEndpoint ? c.grpcEndpoint : c.endpoint],
    ['OTEL_SERVICE_NAME', serviceName],
    ['OTEL_RESOURCE_ATTRIBUTES', resourceAttributes(attrs)],
  ];
}

/**
 * A short stable hash of the collector settings, part of each component's fingerprint when set:
 * configuring (or changing) the collector re-applies the workloads once so that they get the
 * variables; with no collector the fingerprint is what it always was.
 */
export function otelFingerprint(c: OtelCollector | undefined): string | undefined {
  if (!c) return undefined;
  const canon = [c.endpoint, c.protocol, c.grpcEndpoint ?? '', c.certificate ?? ''];
  return createHash('sha256').update(JSON.stringify(canon)).digest('hex').slice(0, 16);
}

/** What a driver needs to inject the collector into one component (ComponentContext.otel). */
export interface OtelInjection {
  collector: OtelCollector;
  identity: WorkloadIdentity;
}
