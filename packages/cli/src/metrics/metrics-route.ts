/**
 * `GET /metrics` on `margo serve`'s port: the Prometheus exposition, for admin, operator and viewer
 * tokens (`Authorization: Bearer`). Errors as the status API sends them: `{code, message}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FLEET_READER_ROLES } from '@margo-gitops/git';
import { codeInfo } from '@margo-gitops/spec';
import type { ServerMetrics } from './server-metrics.js';

export interface MetricsRouteOptions {
  /** The caller's token role (undefined: no token, or an unknown, revoked or expired one). */
  roleOf(req: IncomingMessage): string | undefined;
  /**
   * The server's per-address failure limiter (FailureRateLimiter): a wrong token counts, and an
   * address over the limit gets 429 METRICS_RATE_LIMITED.
   */
  failures?: { fail(address: string): void; retryAfterSeconds(address: string): number };
  onError?(e: unknown): void;
}

function send(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const hint = codeInfo(code)?.hint;
  const text = JSON.stringify({ code, message, ...(hint ? { hint } : {}) });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
    ...headers,
  });
  res.end(text);
}

export function metricsHandler(
  metrics: Pick<ServerMetrics, 'scrape'>,
  opts: MetricsRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'USAGE_ERROR', `${req.method} is not allowed here; use GET`);
      return true;
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    const wait = opts.failures?.retryAfterSeconds(address) ?? 0;
    if (wait > 0) {
      send(res, 429, 'METRICS_RATE_LIMITED', `too many wrong tokens from this address; retry in ${wait}s`, {
        'retry-after': String(wait),
      });
      return true;
    }
    const given = req.headers.authorization !== undefined;
    const role = opts.roleOf(req);
    if (!role) {
      if (given) opts.failures?.fail(address);
      send(res, 401, 'METRICS_UNAUTHORIZED', 'a valid token is required to read metrics');
      return true;
    }
    if (!FLEET_READER_ROLES.has(role)) {
      send(res, 403, 'METRICS_FORBIDDEN', `a ${role} token may not read metrics`);
      return true;
    }
    try {
      const { contentType, body } = await metrics.scrape();
      res.writeHead(200, {
        'content-type': contentType,
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      opts.onError?.(e);
      send(res, 500, 'INTERNAL_ERROR', 'collecting the metrics failed');
    }
    return true;
  };
}
