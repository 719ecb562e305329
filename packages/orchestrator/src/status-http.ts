import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMargoError } from '@margo-gitops/spec';
import type { FleetStatus } from './core/fleet-status.js';
import { rolloutOverview } from './rollout/overview.js';
import type { RolloutState } from './rollout/state.js';
import type { StepResult } from './rollout/step.js';

/**
 * What the rollout routes need of a rollout view (Orchestrator.rolloutView(s), docs/rollout.md):
 * the state as committed, the fleet commit it was read from, and the last step's waiting devices,
 * gate and wake-up time.
 */
export interface StatusRolloutView {
  name: string;
  state: RolloutState;
  commit: string | null;
  waiting: StepResult['waiting'];
  gate?: StepResult['gate'];
  wakeAt?: number;
}

/** What the status handler reads: the fleet roll-up, and rollout views where the source has them. */
export interface StatusSource {
  getFleetStatus(): Promise<FleetStatus>;
  rolloutViews?(): Promise<StatusRolloutView[]>;
  rolloutView?(name: string): Promise<StatusRolloutView | undefined>;
}

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
 * Answers `GET <base>/rollouts` (one overview per rollout) and `GET <base>/rollouts/<name>` (the
 * whole view); false when the path is not a rollout route or the source has no rollout views.
 */
async function serveRollouts(
  source: StatusSource,
  path: string,
  base: string,
  res: ServerResponse,
): Promise<boolean> {
  const prefix = `${base}/rollouts`;
  if (path === prefix && source.rolloutViews) {
    const views = await source.rolloutViews();
    send(res, 200, {
      generatedAt: new Date().toISOString(),
      rollouts: views
        .map((v) =>
          rolloutOverview(v.state, {
            waiting: v.waiting.length,
            ...(v.wakeAt !== undefined ? { wakeAt: v.wakeAt } : {}),
            commit: v.commit,
          }),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    });
    return true;
  }
  if (!path.startsWith(`${prefix}/`) || !source.rolloutView) return false;
  const name = decodeURIComponent(path.slice(prefix.length + 1));
  const view = await source.rolloutView(name);
  if (!view) {
    send(res, 404, {
      code: 'ORCH_ROLLOUT_NOT_FOUND',
      message: `no rollout named ${name} is known to the orchestrator`,
    });
    return true;
  }
  send(res, 200, { generatedAt: new Date().toISOString(), rollout: view });
  return true;
}

/**
 * An HTTP handler serving the fleet roll-up as JSON: `GET /api/v1/status` (everything),
 * `GET /api/v1/status/<deployment>` (one deployment with its device rows), and, when the source
 * has rollout views, `GET /api/v1/status/rollouts` and `GET /api/v1/status/rollouts/<name>`
 * (so a deployment named `rollouts` is not reachable by name here). Resolves false when the
 * request is not for it (so the caller can try other handlers), true when it answered.
 *
 * @example
 * const status = createStatusHttpHandler(orchestrator, { authorize: (req) => tokens.check(req) });
 * http.createServer(async (req, res) => { if (!(await status(req, res))) res.writeHead(404).end(); });
 */
export function createStatusHttpHandler(
  source: StatusSource,
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
      if (await serveRollouts(source, path, base, res)) return true;
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
