/**
 * The web console under `/ui` on `margo serve`'s port: sign-in and sessions, the JSON API
 * (`/ui/api/*`), the live event stream, the rollback, and the UI's static files (docs/console.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FLEET_READER_ROLES, readRef, tokenFromHeader, type TokenInfo } from '@margo-gitops/git';
import { FailureRateLimiter, MargoError, toMargoError } from '@margo-gitops/spec';
import { rollbackDeployment } from '../rollback-core.js';
import { isHttps, parseCookies, readJsonBody, securityHeaders, sendError, sendJson } from './http.js';
import { catalogApp, catalogList, deploymentDetail, deploymentDiffView, deviceDetail } from './read-api.js';
import { SESSION_COOKIE, SessionStore, sessionCookie } from './session.js';
import { ConsoleSnapshots, type ConsoleSource, type SnapshotOptions } from './snapshot.js';
import { lazyAssetsDir, serveStatic } from './static.js';
import { pageDevices, parsePageQuery } from './views.js';

/** Roles that may sign in; only the first two may change anything. */
const CHANGE_ROLES = new Set(['admin', 'operator']);
const ROLLOUT_ACTIONS = new Set(['pause', 'resume', 'promote', 'abort']);
const PING_MS = 25_000;
const DEPLOYMENT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface ConsoleLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface ConsoleOptions {
  dataDir: string;
  tokens: { verify(token: string): TokenInfo | undefined };
  /** Wrong tokens count here, with the Git server's and the catalog files' (per address). */
  failures?: FailureRateLimiter;
  /** The fleet roll-up's source (the orchestrator); called when first needed. */
  source: () => ConsoleSource;
  /** This server's own URL as reachable from itself: rollbacks are pushed to its Git endpoint. */
  selfUrl: () => string;
  /** The built UI's folder (default: the @margo-gitops/console package's dist). */
  assetsDir?: () => Promise<string | undefined>;
  log?: ConsoleLog;
  snapshots?: SnapshotOptions;
  sessionIdleMs?: number;
  pingMs?: number;
}

interface Caller {
  info: TokenInfo;
  token: string;
  /** Cookie value when signed in with a session (not with a bearer token). */
  session?: string;
}

export interface ConsoleServer {
  /** Feeds the roll-up's change events (add it to the orchestrator's telemetry fan-out). */
  telemetry: ConsoleSnapshots['telemetry'];
  snapshots: ConsoleSnapshots;
  sessions: SessionStore;
  /** Starts computing the first roll-up (call once the orchestrator runs). */
  warm(): void;
  /** Answers every `/ui` request; resolves false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): void;
}

const unauthenticated = (why = 'sign in first') => new MargoError('CONSOLE_UNAUTHENTICATED', why);

export function createConsole(o: ConsoleOptions): ConsoleServer {
  const noop = () => undefined;
  const log: ConsoleLog = o.log ?? { info: noop, warn: noop };
  const sessions = new SessionStore({ ...(o.sessionIdleMs ? { idleMs: o.sessionIdleMs } : {}) });
  const fleetGit = join(o.dataDir, 'repos', 'fleet.git');
  const snapshots = new ConsoleSnapshots(o.source, {
    fleetHead: () => readRef(fleetGit, 'refs/heads/main'),
    ...o.snapshots,
    onError: (e) => log.warn({ err: toMargoError(e).message }, 'console roll-up failed'),
  });
  const assets = o.assetsDir ?? lazyAssetsDir();
  const streams = new Set<ServerResponse>();

  const address = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';
  const rateLimited = (req: IncomingMessage, res: ServerResponse): boolean => {
    const wait = o.failures?.retryAfterSeconds(address(req)) ?? 0;
    if (wait <= 0) return false;
    sendError(
      res,
      new MargoError('CONSOLE_RATE_LIMITED', `too many wrong tokens from this address; retry in ${wait}s`),
      {
        'retry-after': String(wait),
      },
    );
    return true;
  };

  /** Who calls: a bearer token, else the session cookie, each checked against the token store now. */
  function caller(req: IncomingMessage): Caller {
    const bearer = tokenFromHeader(req.headers.authorization);
    if (bearer !== undefined) {
      const info = o.tokens.verify(bearer);
      if (!info) {
        o.failures?.fail(address(req));
        throw unauthenticated('the token is not valid (unknown, revoked or expired)');
      }
      return { info, token: bearer };
    }
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const s = sessions.get(id);
    if (!s) throw unauthenticated(id ? 'the session ended; sign in again' : 'sign in first');
    const info = o.tokens.verify(s.token);
    if (!info) {
      // Revoked or expired since sign-in: every session of that token ends now.
      sessions.deleteForToken(s.tokenId);
      throw unauthenticated('the token of this session was revoked or expired; sign in again');
    }
    return { info, token: s.token, session: id! };
  }

  function admitted(c: Caller): Caller {
    if (!FLEET_READER_ROLES.has(c.info.role))
      throw new MargoError('CONSOLE_ROLE_NOT_ALLOWED', `role ${c.info.role} may not use the console`);
    return c;
  }

  /** Changing requests: our header, and no foreign Origin (a form or script of another site). */
  function checkCsrf(req: IncomingMessage): void {
    if (req.headers['x-margo-console'] !== '1')
      throw new MargoError('CONSOLE_CSRF', 'a changing request needs the header x-margo-console: 1');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (!host || host !== req.headers.host)
        throw new MargoError('CONSOLE_CSRF', 'the request comes from another origin');
    }
  }

  async function signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (rateLimited(req, res)) return;
    checkCsrf(req);
    const body = await readJsonBody(req);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const info = token ? o.tokens.verify(token) : undefined;
    if (!info) {
      o.failures?.fail(address(req));
      throw unauthenticated('the token is not valid (unknown, revoked or expired)');
    }
    admitted({ info, token });
    const id = sessions.create(token, info.id);
    log.info({ tokenId: info.id, role: info.role }, 'console sign-in');
    sendJson(
      res,
      200,
      { name: info.name, role: info.role },
      {
        'set-cookie': sessionCookie(id, { secure: isHttps(req) }),
      },
    );
  }

  /**
   * How a console change is committed: pushed to this server's own Git endpoint with the person's
   * token (same access rules and push validation as any push), authored `<name> (margo console)`,
   * with the token's id (never the token) and the console named in trailers.
   */
  function commitAs(c: Caller) {
    const who = c.info.name.replace(/[<>\r\n\u0000-\u001f]/g, '').slice(0, 100) || c.info.role;
    return {
      conn: { server: o.selfUrl(), token: c.token, dataDir: o.dataDir, source: 'console' },
      author: { name: `${who} (margo console)`, email: `token-${c.info.id}@console.margo-gitops.invalid` },
      trailers: [`Margo-Token: ${c.info.id}`, 'Margo-Via: console'],
    };
  }

  function mayChange(req: IncomingMessage, c: Caller, what: string): void {
    checkCsrf(req);
    if (!CHANGE_ROLES.has(c.info.role))
      throw new MargoError('CONSOLE_FORBIDDEN', `role ${c.info.role} may not ${what} (read-only)`);
  }

  /** `POST /ui/api/rollouts/NAME/pause|resume|promote|abort {wave?}`: what `margo rollout ACTION NAME` does. */
  async function rolloutChange(
    req: IncomingMessage,
    res: ServerResponse,
    c: Caller,
    name: string,
    action: string,
  ) {
    mayChange(req, c, 'steer rollouts');
    if (!ROLLOUT_ACTIONS.has(action))
      throw new MargoError('CONSOLE_NOT_FOUND', `no rollout action ${action.slice(0, 40)}`);
    const body = await readJsonBody(req);
    const wave = body.wave;
    if (wave !== undefined && (typeof wave !== 'string' || action !== 'promote' || wave.length > 100))
      throw new MargoError('CONSOLE_BAD_REQUEST', '`wave` is a wave name, for promote only');
    const as = commitAs(c);
    const { changeRollout } = await import('../commands/rollout.js');
    const { result } = await changeRollout(as.conn, {
      name,
      action: action as 'pause' | 'resume' | 'promote' | 'abort',
      ...(typeof wave === 'string' ? { wave } : {}),
      author: as.author,
      trailers: as.trailers,
    });
    log.info({ tokenId: c.info.id, rollout: name, action, commit: result.commit }, 'console rollout change');
    sendJson(res, 200, result);
  }

  async function rollback(req: IncomingMessage, res: ServerResponse, c: Caller, name: string): Promise<void> {
    mayChange(req, c, 'roll back deployments');
    const body = await readJsonBody(req);
    const to = body.to;
    if (to !== undefined && to !== null && (typeof to !== 'string' || !/^[0-9a-f]{4,40}$/i.test(to)))
      throw new MargoError('CONSOLE_BAD_REQUEST', '`to` must be a fleet commit id (hex)');
    const as = commitAs(c);
    const result = await rollbackDeployment(as.conn, {
      name,
      ...(typeof to === 'string' ? { to } : {}),
      author: as.author,
      trailers: as.trailers,
    });
    log.info({ tokenId: c.info.id, deployment: name, commit: result.commit }, 'console rollback');
    sendJson(res, 200, { name, commit: result.commit, from: result.from, present: result.present });
  }

  function events(req: IncomingMessage, res: ServerResponse, c: Caller): void {
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    streams.add(res);
    const still = () => {
      // A revoked token (or an ended session) ends the stream too.
      try {
        caller(req);
        return true;
      } catch {
        res.end();
        return false;
      }
    };
    res.write(`event: hello\ndata: ${JSON.stringify({ name: c.info.name, role: c.info.role })}\n\n`);
    const off = snapshots.listen((e) => {
      if (still()) res.write(`event: fleet\ndata: ${JSON.stringify(e)}\n\n`);
    });
    const ping = setInterval(() => {
      if (still()) res.write(': ping\n\n');
    }, o.pingMs ?? PING_MS);
    ping.unref?.();
    const done = () => {
      off();
      clearInterval(ping);
      streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    let parts: string[];
    try {
      parts = path.slice('/ui/api/'.length).split('/').map(decodeURIComponent);
    } catch {
      throw new MargoError('CONSOLE_BAD_REQUEST', 'malformed URL encoding');
    }
    const [head, id, sub] = parts;
    if ((head === 'deployments' || head === 'rollouts') && id !== undefined && !DEPLOYMENT_NAME.test(id))
      throw new MargoError('CONSOLE_NOT_FOUND', `no deployment ${id.slice(0, 80)}`);
    if (head === 'session') {
      if (parts.length !== 1) throw new MargoError('CONSOLE_NOT_FOUND', `nothing at ${path}`);
      if (method === 'POST') return signIn(req, res);
      if (method === 'DELETE') {
        checkCsrf(req);
        const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
        sessions.delete(cookie);
        sendJson(
          res,
          200,
          { signedOut: true },
          { 'set-cookie': sessionCookie(undefined, { secure: isHttps(req) }) },
        );
        return;
      }
      if (method !== 'GET') return methodNotAllowed(res, 'GET, POST, DELETE');
      if (req.headers.authorization !== undefined && rateLimited(req, res)) return;
      const c = admitted(caller(req));
      sendJson(res, 200, { name: c.info.name, role: c.info.role, tokenId: c.info.id });
      return;
    }
    if (req.headers.authorization !== undefined && rateLimited(req, res)) return;
    const c = admitted(caller(req));
    if (head === 'deployments' && id && sub === 'rollback' && parts.length === 3) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return rollback(req, res, c, id);
    }
    if (head === 'rollouts' && id && sub && parts.length === 3) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      return rolloutChange(req, res, c, id, sub);
    }
    if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET');
    if (head === 'events' && parts.length === 1) return events(req, res, c);
    if (head === 'overview' && parts.length === 1)
      return sendJson(res, 200, (await snapshots.get()).overview);
    if (head === 'devices' && parts.length === 1) {
      const q = parsePageQuery(url.searchParams);
      if (typeof q === 'string') throw new MargoError('CONSOLE_BAD_REQUEST', q);
      return sendJson(res, 200, pageDevices((await snapshots.get()).devices, q));
    }
    if (head === 'devices' && id && parts.length === 2)
      return sendJson(res, 200, await deviceDetail(o.dataDir, await snapshots.get(), id));
    if (head === 'deployments' && id && parts.length === 2)
      return sendJson(res, 200, await deploymentDetail(o.dataDir, await snapshots.get(), id));
    if (head === 'deployments' && id && sub === 'diff' && parts.length === 3)
      return sendJson(res, 200, await deploymentDiffView(o.dataDir, id, url.searchParams));
    if (head === 'catalog' && parts.length === 1) return sendJson(res, 200, await catalogList(o.dataDir));
    if (head === 'catalog' && id && parts.length === 2)
      return sendJson(res, 200, await catalogApp(o.dataDir, id));
    throw new MargoError('CONSOLE_NOT_FOUND', `nothing at ${path.slice(0, 200)}`);
  }

  function methodNotAllowed(res: ServerResponse, allow: string): void {
    sendJson(res, 405, { code: 'CONSOLE_BAD_REQUEST', message: `use ${allow}` }, { allow });
  }

  return {
    telemetry: snapshots.telemetry,
    snapshots,
    sessions,
    warm: () => snapshots.warm(),
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://console.invalid');
      const path = url.pathname;
      if (path !== '/ui' && !path.startsWith('/ui/')) return false;
      if (path.startsWith('/ui/api/') || path === '/ui/api') {
        try {
          await api(req, res, url);
        } catch (e) {
          const err = toMargoError(e);
          if (err.code === 'INTERNAL_ERROR' || err.code === 'IO_ERROR')
            log.warn({ err: err.message, path: path.slice(0, 200) }, 'console request failed');
          if (!res.headersSent) sendError(res, err);
          else res.end();
        }
        return true;
      }
      await serveStatic(path, req.method ?? 'GET', res, await assets());
      return true;
    },
    close() {
      snapshots.close();
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}
