import type { OtelCollector } from './otel-settings.js';

/**
 * Helm values carrying the device's OpenTelemetry collector, under `global.margo.otel` (global
 * values reach every subchart): the settings one by one, and `env`, the OTEL_* variables as a
 * Kubernetes `EnvVar` list that a chart's container spec can take as it is
 * (`env: {{- toYaml .Values.global.margo.otel.env | nindent 12 }}`). The Margo page asks for the
 * variables in each container and names no values keys; a chart only passes them on if its
 * templates use these values.
 */
export function helmOtelValues(
  c: OtelCollector,
  env: [string, string][],
  serviceName: string,
): Record<string, unknown> {
  const get = (k: string) => env.find(([n]) => n === k)?.[1];
  return {
    global: {
      margo: {
        otel: {
          endpoint: c.endpoint,
          protocol: c.protocol,
          ...(c.grpcEndpoint ? { grpcEndpoint: c.grpcEndpoint } : {}),
          ...(c.certificate ? { certificate: c.certificate } : {}),
          serviceName,
          resourceAttributes: get('OTEL_RESOURCE_ATTRIBUTES') ?? '',
          env: env.map(([name, value]) => ({ name, value })),
        },
      },
    },
  };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `base` with `under` filled in below it: every value `base` sets wins (a parameter targeting
 * `global.margo.otel.serviceName` replaces the injected one), maps merge key by key.
 */
export function mergeUnder(
  base: Record<string, unknown>,
  under: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(base)) {
    const u = out[k];
    out[k] = isMap(v) && isMap(u) ? mergeUnder(v, u) : v;
  }
  return out;
}
