import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMargoError } from '@margo-gitops/spec';
import type { FleetStatus } from './core/fleet-status.js';

export interface StatusHttpOptions {
  /**
   * Decides whether the caller may read fleet status (e.g. checks a bearer token). Return false
   * to answer 401; throwing answers 500. Without it every caller may read.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** URL prefix; default `/api/v1/status`. */
  basePath?: string;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * An HTTP handler serving the fleet roll-up as JSON: `GET /api/v1/status` (everything) and
 * `GET /api/v1/status/<deployment>` (one deployment with its device rows). Resolves false when the
 * request is not for it (so the caller can try other handlers), true when it answered.
 *
 * @example
 * const status = createStatusHttpHandler(orchestrator, { authorize: (req) => tokens.check(req) });
 * http.createServer(async (req, res) => { if (!(await status(req, res))) res.writeHead(404).end(); });
 */
export function createStatusHttpHandler(
  source: { getFleetStatus(): Promise<FleetStatus> },
  opts: StatusHttpOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const base = (opts.basePath ?? '/api/v1/status').replace(/\/$/, '');
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/$/, '');
    if (path !== base && !path.startsWith(`${base}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, { code: 'USAGE_ERROR', message: `${req.method} is not allowed here; use GET` });
      return true;
    }
    try {
      if (opts.authorize && !(await opts.authorize(req))) {
        res.setHeader('www-authenticate', 'Bearer');
        send(res, 401, {
          code: 'ORCH_UNAUTHORIZED',
          message: 'a valid token is required to read fleet status',
        });
        return true;
      }
      const status = await source.getFleetStatus();
      if (path === base) {
        send(res, 200, status);
        return true;
      }
      const name = decodeURIComponent(path.slice(base.length + 1));
      const d = status.deployments.find((x) => x.name === name);
      if (!d) {
        send(res, 404, {
          code: 'ORCH_DEPLOYMENT_NOT_FOUND',
          message: `no deployment named ${name} in the fleet repository`,
        });
        return true;
      }
      send(res, 200, {
        generatedAt: status.generatedAt,
        fleetCommit: status.fleetCommit,
        catalogCommit: status.catalogCommit,
        deployment: d,
      });
    } catch (e) {
      const err = toMargoError(e);
      send(res, 500, { code: err.code, message: err.message });
    }
    return true;
  };
}
