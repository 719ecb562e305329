/**
 * `margo serve`'s second face: the Margo Workload Management API (rc.2) on its own mutual-TLS
 * listener (default 127.0.0.1:8471). TLS 1.3 unless --api-tls12; the server presents its
 * X.509-SVID; clients are asked for theirs, but the TLS layer lets a missing or foreign one
 * through so the API can answer an rc.2 401 problem body (the handshake itself discloses only
 * the CA name). Who the caller is is decided per request by trust's SPIFFE check, and revocation
 * is read per request, so `margo device revoke` ends access at once even on an open connection.
 */
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { MargoError } from '@margo-gitops/spec';
import {
  ApiRateLimiter,
  ApiStateCache,
  DEFAULT_API_RATE_LIMITS,
  type ApiRateLimits,
  type ApiRequestEvent,
  createApiWrites,
  createWorkloadApiHandler,
  GitDeviceStateReader,
  type SignedStateAuditor,
} from '@margo-gitops/orchestrator';
import {
  checkLeaf,
  createStatusVerifier,
  ensureServerSvid,
  PKI_FILES,
  readSpiffeIdentity,
  RevocationList,
  spiffeBundle,
  wfmSpiffeId,
  type IdentifiedPeer,
  type Pki,
  type RefusedPeer,
} from '@margo-gitops/trust';
import { parseListen } from './paths.js';

/** The rc.2 default port of the API beside the Git port 8470. */
export const DEFAULT_API_LISTEN = '127.0.0.1:8471';

/** The API address recorded by `margo init`: the Git listen host, the next port (8470 -> 8471). */
export function apiListenFor(listen: string): string {
  const { host, port } = parseListen(listen);
  const h = host.includes(':') ? `[${host}]` : host;
  return port === 0 ? `${h}:0` : `${h}:${Math.min(port + 1, 65535)}`;
}

/**
 * The API on the host of the Git address `listen`, on the port of `recorded` (an API address
 * recorded earlier; port 0 stays 0), else the port after the Git one.
 */
export function apiBesideListen(listen: string, recorded: string | undefined): string {
  if (!recorded || recorded === 'off') return recorded ?? apiListenFor(listen);
  const { host } = parseListen(listen);
  const h = host.includes(':') ? `[${host}]` : host;
  return `${h}:${parseListen(recorded).port}`;
}

/** USAGE_ERROR unless `listen` is host:port or `off`. */
export function checkApiListen(listen: string): void {
  if (listen === 'off') return;
  try {
    parseListen(listen);
  } catch (e) {
    throw new MargoError('USAGE_ERROR', `${(e as Error).message} (from --api-listen)`, {
      hint: 'Write host:port, e.g. 127.0.0.1:8471, or off.',
    });
  }
}

export interface ApiServerOptions {
  dataDir: string;
  /** Per-device request budgets (default DEFAULT_API_RATE_LIMITS). */
  rateLimits?: ApiRateLimits;
  pki: Pki;
  listen: string;
  /** Accept TLS 1.2 as well (rc.2: only as an opt-in fallback). */
  tls12?: boolean;
  /** Host names clients dial besides the listen host (public URL host): SANs of the server SVID. */
  hosts?: string[];
  /** Signed mode: the head of a device's main must verify (trust's createSignedStateAuditor). */
  auditor?: SignedStateAuditor;
  /** After a write over the API committed to a device's status branch (the orchestrator re-reads it). */
  onWrite?(deviceId: string): void;
  /** Every request of an identified device (its last contact, as a Git fetch is: `lastSeenAt`). */
  onSeen?(deviceId: string): void;
  onError?(e: unknown): void;
  /** Every request, once answered (metrics). */
  onRequest?(e: ApiRequestEvent): void;
}

export interface RunningApiServer {
  url: string;
  /** Listening on every address (0.0.0.0 / ::): `url` names loopback, devices dial another host. */
  wildcard: boolean;
  port: number;
  spiffeId: string;
  /** The node:https server (for measuring: bench/api counts its sockets' bytes). */
  server: Server;
  close(): Promise<void>;
}

/**
 * Revoked serials, re-read only when pki/revoked.json changes (one stat per request: cheap enough
 * for every poll, and a revocation is seen by the very next request).
 */
function revocationCheck(pkiDir: string): (serial: string) => Promise<boolean> {
  const list = new RevocationList(pkiDir);
  const path = join(pkiDir, PKI_FILES.revoked);
  let seen = '';
  let serials = new Set<string>();
  return async (serial) => {
    // Synchronous: a stat of a local file costs microseconds, a thread-pool round trip more.
    const st = statSync(path, { throwIfNoEntry: false });
    const key = st ? `${st.mtimeMs}/${st.size}/${st.ino}` : 'none';
    if (key !== seen) {
      serials = st ? await list.serials() : new Set();
      seen = key;
    }
    return serials.has(serial);
  };
}

/** Starts the listener; resolves once it listens. Throws IO_ERROR when the address is taken. */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApiServer> {
  const { host, port } = parseListen(o.listen);
  const identity = await readSpiffeIdentity(o.pki.dir, o.pki.ca.certPem);
  const hosts = [host, '127.0.0.1', 'localhost', ...(o.hosts ?? [])];
  const svid = await ensureServerSvid(o.pki, identity, hosts);
  const ca = new X509Certificate(o.pki.ca.certPem);
  const isRevoked = revocationCheck(o.pki.dir);
  // The certificate cannot change within a TLS connection: check it once per socket.
  const perSocket = new WeakMap<TLSSocket, IdentifiedPeer | RefusedPeer>();
  // A device reconnecting (its keep-alive timed out) presents the same certificate again: a
  // successful check, keyed on its exact bytes, stays true (the CA and trust domain do not change
  // while serving; expiry and revocation are checked per request below). Refusals are not kept.
  const checked = new Map<string, IdentifiedPeer>();
  const identify = async (req: { socket: unknown }): Promise<IdentifiedPeer | RefusedPeer> => {
    const socket = req.socket as TLSSocket;
    let r = perSocket.get(socket);
    if (!r) {
      const raw = socket.getPeerCertificate?.()?.raw;
      if (!raw?.length) r = { problem: 'API_CLIENT_CERT_REQUIRED', status: 401 };
      else {
        const key = raw.toString('base64');
        r = checked.get(key);
        if (!r) {
          try {
            r = checkLeaf(new X509Certificate(raw), { ca, ...identity });
          } catch {
            r = { problem: 'API_CLIENT_CERT_UNTRUSTED', status: 401 };
          }
          if (!('problem' in r)) {
            if (checked.size >= 50_000) checked.clear(); // bounded: a full map starts over
            checked.set(key, r);
          }
        }
      }
      perSocket.set(socket, r);
    }
    if ('problem' in r) return r;
    if (Date.now() > r.notAfter.getTime()) return { problem: 'API_CLIENT_CERT_EXPIRED', status: 401 };
    if (await isRevoked(r.serial)) return { problem: 'API_CLIENT_CERT_REVOKED', status: 403 };
    o.onSeen?.(r.deviceId);
    return r;
  };
  const reposRoot = join(o.dataDir, 'repos');
  const reader = new GitDeviceStateReader(reposRoot, o.auditor);
  const cache = new ApiStateCache(reader);
  const handler = createWorkloadApiHandler({
    cache,
    identify,
    trustDomain: identity.trustDomain,
    trustBundle: () => spiffeBundle(o.pki.ca.certPem),
    limiter: new ApiRateLimiter(o.rateLimits ?? DEFAULT_API_RATE_LIMITS),
    // Status and capabilities are committed to the caller's status branch, signed as an API
    // witness with the server SVID's key (the device's key never leaves the device).
    writes: createApiWrites({
      reposRoot,
      dataDir: o.dataDir,
      cache,
      reader,
      witness: { keyPem: svid.keyPem, certPem: svid.certPem },
      verifier: createStatusVerifier({ caCertPem: o.pki.ca.certPem, pkiDir: o.pki.dir }),
      ...(o.onWrite ? { onWrite: o.onWrite } : {}),
    }),
    onError: (e) => o.onError?.(e),
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
  });
  const server: Server = createServer(
    {
      key: svid.keyPem,
      cert: svid.certPem,
      ca: [o.pki.ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: o.tls12 ? 'TLSv1.2' : 'TLSv1.3',
      keepAliveTimeout: 65_000,
    },
    // Nothing a request does may end the process: an error the handler did not answer is logged
    // and the connection dropped.
    (req, res) =>
      void handler(req, res).catch((e: unknown) => {
        o.onError?.(e);
        if (!res.headersSent) res.writeHead(500, { 'content-length': 0 });
        res.destroy();
      }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new MargoError('IO_ERROR', `cannot listen on ${o.listen} (API): ${e.code ?? e.message}`, {
          cause: e,
          ...(e.code === 'EADDRINUSE'
            ? { hint: 'Another process uses that port; pass --api-listen with another port.' }
            : {}),
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `https://${wildcard ? '127.0.0.1' : h}:${addr.port}`,
    wildcard,
    port: addr.port,
    spiffeId: wfmSpiffeId(identity),
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** How `margo serve` asked for the API (see Services.startServer). */
export interface ApiListenOptions {
  listen: string;
  tls12?: boolean;
  /** Given on the command line: failing to listen is fatal. Otherwise (recorded or default) it is logged and Git serving goes on. */
  required?: boolean;
}

/**
 * The API beside the Git server: undefined when switched off (`off`), or when a recorded/default
 * address cannot be used (logged: a data folder from before the API must keep serving Git).
 */
export async function startApiBeside(
  a: ApiListenOptions | undefined,
  parts: Omit<ApiServerOptions, 'listen' | 'tls12'> & {
    log: (msg: string, fields: Record<string, unknown>) => void;
  },
): Promise<RunningApiServer | undefined> {
  const listen = a?.listen ?? DEFAULT_API_LISTEN;
  if (listen === 'off') return undefined;
  try {
    return await startApiServer({ ...parts, listen, ...(a?.tls12 ? { tls12: true } : {}) });
  } catch (e) {
    if (a?.required) throw e;
    parts.log('the Workload Management API is not served', { listen, error: (e as Error).message });
    return undefined;
  }
}
