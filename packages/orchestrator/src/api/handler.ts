/**
 * The Margo Workload Management API (1.0.0-rc.2 paths, read side) over a DeviceStateReader:
 * the caller is whoever identify() says (the SPIFFE ID of its X.509-SVID), and every resource is
 * looked up in that caller's own device repository only, so another device's digests are simply
 * unknown (404, nothing disclosed). Writes (status POST, capabilities PUT/DELETE) plug in through
 * `writes` (createApiWrites, writes.ts); without it they answer 501.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMargoError, type MargoError } from '@margo-gitops/spec';
import type { IdentifiedPeer, RefusedPeer } from '@margo-gitops/trust';
import { sendProblem, statusOfError } from './problem.js';
import type { ApiRateLimiter } from './rate-limit.js';
import { ApiStateCache } from './state-cache.js';
import {
  BUNDLE_MEDIA_TYPE,
  DEPLOYMENT_MEDIA_TYPE,
  DIGEST,
  MANIFEST_MEDIA_TYPE,
  type StateManifest,
} from './state-manifest.js';

export const WELL_KNOWN_PATH = '/.well-known/margo';
export const TRUST_BUNDLE_PATH = '/.well-known/margo/trust-bundle';
const IMMUTABLE = 'private, max-age=31536000, immutable';

/** A write endpoint: gets the caller and the request, answers itself. */
export type ApiWrite = (
  peer: IdentifiedPeer,
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) => Promise<void>;

export interface ApiHandlerOptions {
  cache: ApiStateCache;
  /** The caller's identity from its TLS client certificate, checked per request (revocation). */
  identify(req: IncomingMessage): IdentifiedPeer | RefusedPeer | Promise<IdentifiedPeer | RefusedPeer>;
  /** What /.well-known/margo tells: the trust domain, and the SPIFFE bundle (JWK set) it points to. */
  trustDomain: string;
  trustBundle(): Record<string, unknown>;
  writes?: { postStatus?: ApiWrite; putCapabilities?: ApiWrite; deleteCapabilities?: ApiWrite };
  /** Per-device request budgets (429 + Retry-After past them); none: unlimited. */
  limiter?: ApiRateLimiter;
  onError?(e: unknown, req: IncomingMessage): void;
  /** Called once per request when its response closes (metrics; a throw is ignored). */
  onRequest?(e: ApiRequestEvent): void;
}

/** One API request as metrics see it: the route kind (bounded), the status, the device, the time. */
export interface ApiRequestEvent {
  route: Route['kind'] | 'unknown';
  method: string;
  status: number;
  durationMs: number;
  deviceId?: string;
}

/** True when an Accept header admits `type` (absent header: anything goes). */
export function accepts(header: string | undefined, type: string): boolean {
  if (!header || !header.trim()) return true;
  const [major] = type.split('/');
  for (const part of header.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q && !(Number(q.slice(2)) > 0)) continue;
    if (range === '*/*' || range === `${major}/*` || range === type) return true;
  }
  return false;
}

/** If-None-Match against a strong ETag (weak comparison, as RFC 9110 wants for this header). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

const quoted = (digest: string) => `"${digest}"`;

function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  headers: Record<string, string>,
  etag: string,
): void {
  if (noneMatch(req.headers['if-none-match'], etag)) {
    res.writeHead(304, {
      etag,
      'cache-control': headers['cache-control']!,
      ...(headers.vary ? { vary: headers.vary } : {}),
    });
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, etag, 'content-length': body.length });
  res.end(body);
}

export type Route =
  | { kind: 'well-known' }
  | { kind: 'trust-bundle' }
  | { kind: 'manifest' }
  | { kind: 'deployment'; deploymentId: string; digest: string }
  | { kind: 'status'; deploymentId: string }
  | { kind: 'bundle'; digest: string }
  | { kind: 'capabilities'; deviceId: string };

/** The route of a path (exact rc.2 paths; no trailing slash, no percent-encoding in ids). */
export function routeOf(path: string): Route | undefined {
  if (path === WELL_KNOWN_PATH) return { kind: 'well-known' };
  if (path === TRUST_BUNDLE_PATH) return { kind: 'trust-bundle' };
  if (path === '/api/v1/deployments') return { kind: 'manifest' };
  const seg = '([A-Za-z0-9._~:-]{1,253})';
  let m = new RegExp(`^/api/v1/deployments/${seg}/status$`).exec(path);
  if (m) return { kind: 'status', deploymentId: m[1]! };
  m = new RegExp(`^/api/v1/deployments/${seg}/${seg}$`).exec(path);
  if (m) return { kind: 'deployment', deploymentId: m[1]!, digest: m[2]! };
  m = new RegExp(`^/api/v1/bundles/${seg}$`).exec(path);
  if (m) return { kind: 'bundle', digest: m[1]! };
  m = new RegExp(`^/api/v1/capabilities/${seg}$`).exec(path);
  if (m) return { kind: 'capabilities', deviceId: m[1]! };
  return undefined;
}

const ALLOWED: Record<Route['kind'], string> = {
  'well-known': 'GET',
  'trust-bundle': 'GET',
  manifest: 'GET',
  deployment: 'GET',
  bundle: 'GET',
  status: 'POST',
  capabilities: 'PUT, DELETE',
};

/**
 * The request handler (node:http shape). Mount it on the mTLS listener only.
 *
 * @example
 * const api = createWorkloadApiHandler({ cache: new ApiStateCache(new GitDeviceStateReader(reposRoot, auditor)), identify, trustDomain, trustBundle });
 */
export function createWorkloadApiHandler(opts: ApiHandlerOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const seen: Omit<ApiRequestEvent, 'status' | 'durationMs'> = {
      route: 'unknown',
      method: req.method ?? 'GET',
    };
    if (opts.onRequest) reportOnClose(res, seen, opts.onRequest);
    try {
      const route = routeOf(path);
      if (route) seen.route = route.kind;
      if (!route) return sendProblem(res, 404, 'API_NOT_FOUND', { instance: path.slice(0, 200) });
      const method = req.method ?? 'GET';
      if (!ALLOWED[route.kind].split(', ').includes(method)) {
        res.setHeader('allow', ALLOWED[route.kind]);
        return sendProblem(res, 405, 'API_METHOD_NOT_ALLOWED', { instance: path });
      }
      // Public: the trust bundle is what a client needs before it can trust anything.
      if (route.kind === 'well-known') {
        const body = Buffer.from(
          JSON.stringify({ trustDomain: opts.trustDomain, trustBundleUri: TRUST_BUNDLE_PATH }),
        );
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-cache',
          'content-length': body.length,
        });
        return void res.end(body);
      }
      if (route.kind === 'trust-bundle') {
        const body = Buffer.from(JSON.stringify(opts.trustBundle()));
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-cache',
          'content-length': body.length,
        });
        return void res.end(body);
      }
      const peer = await opts.identify(req);
      if ('problem' in peer) return sendProblem(res, peer.status, peer.problem, { instance: path });
      const deviceId = peer.deviceId;
      seen.deviceId = deviceId;
      const wait = opts.limiter?.take(deviceId, method === 'GET' ? 'read' : 'write') ?? 0;
      if (wait > 0)
        return sendProblem(res, 429, 'API_RATE_LIMITED', { instance: path, retryAfterSeconds: wait });
      switch (route.kind) {
        case 'manifest': {
          if (!accepts(req.headers.accept, MANIFEST_MEDIA_TYPE))
            return sendProblem(res, 406, 'API_NOT_ACCEPTABLE', {
              instance: path,
              detail: `the manifest is available as ${MANIFEST_MEDIA_TYPE} only`,
            });
          const m: StateManifest = await opts.cache.manifest(deviceId);
          return sendBytes(
            req,
            res,
            m.body,
            { 'content-type': MANIFEST_MEDIA_TYPE, 'cache-control': 'private' },
            quoted(m.digest),
          );
        }
        case 'deployment':
        case 'bundle': {
          const bytes = !DIGEST.test(route.digest)
            ? undefined
            : route.kind === 'bundle'
              ? await opts.cache.bundle(deviceId, route.digest)
              : await opts.cache.deployment(deviceId, route.deploymentId, route.digest);
          if (!bytes) return notFound(res, path);
          // Content-addressed: the digest in the URL names these bytes for ever.
          const type = route.kind === 'bundle' ? BUNDLE_MEDIA_TYPE : DEPLOYMENT_MEDIA_TYPE;
          const headers = { 'content-type': type, 'cache-control': IMMUTABLE, vary: 'Accept-Encoding' };
          return sendBytes(req, res, bytes, headers, quoted(route.digest));
        }
        case 'status': {
          const w = opts.writes?.postStatus;
          // Awaited here: a rejection returned un-awaited from inside `try` escapes the catch below
          // (an unhandled rejection ends the process).
          return w ? await w(peer, req, res, { deploymentId: route.deploymentId }) : notYet(res, path);
        }
        case 'capabilities': {
          const w = method === 'PUT' ? opts.writes?.putCapabilities : opts.writes?.deleteCapabilities;
          return w ? await w(peer, req, res, { deviceId: route.deviceId }) : notYet(res, path);
        }
      }
    } catch (e) {
      const err = toMargoError(e);
      const status = statusOfError(err);
      if (status === 500) opts.onError?.(e, req);
      if (res.headersSent) return void res.destroy();
      sendProblem(res, status, status === 500 ? 'INTERNAL_ERROR' : err.code, {
        instance: path,
        ...(status === 503 ? { retryAfterSeconds: retryAfterOf(err), detail: err.message } : {}),
      });
    }
  };
}

/** A 503's Retry-After: the error's own (`data.retryAfterSeconds`: its cause knows best) or 30 s. */
function retryAfterOf(err: MargoError): number {
  const s = err.data?.retryAfterSeconds;
  return typeof s === 'number' && Number.isInteger(s) && s > 0 ? s : 30;
}

function reportOnClose(
  res: ServerResponse,
  seen: Omit<ApiRequestEvent, 'status' | 'durationMs'>,
  report: (e: ApiRequestEvent) => void,
): void {
  const t0 = performance.now();
  res.once('close', () => {
    try {
      report({ ...seen, status: res.headersSent ? res.statusCode : 0, durationMs: performance.now() - t0 });
    } catch {
      /* a failing metrics callback must not take the server down */
    }
  });
}

function notFound(res: ServerResponse, path: string): void {
  // 404 names only the digest asked for: never whether another device holds it.
  sendProblem(res, 404, 'API_NOT_FOUND', {
    instance: path,
    detail: 'no such document for this device; a 404 never means the deployment was removed',
  });
}

function notYet(res: ServerResponse, path: string): void {
  sendProblem(res, 501, 'API_NOT_IMPLEMENTED', {
    instance: path,
    detail: 'this server does not take writes over the API yet; report over Git',
  });
}
