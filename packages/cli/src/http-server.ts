import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MargoError } from '@margo-gitops/spec';
import { parseListen } from './paths.js';

/** A request handler mounted under a path prefix. Returns false (or nothing after not answering) to pass. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface Route {
  /** Path prefix, e.g. `/git/`. Longest prefix wins. */
  prefix: string;
  name: string;
  handle: RouteHandler;
}

export interface ComposedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * One node:http server for every handler of `margo serve`. Unmatched paths get a 404 JSON body;
 * a handler that throws gets a 500 (logged by the caller's `onError`), never a crash.
 */
export async function listenComposed(
  routes: Route[],
  listen: string,
  onError: (e: unknown, req: IncomingMessage) => void = () => {},
): Promise<ComposedServer> {
  const sorted = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = sorted.find((r) => path === r.prefix.replace(/\/$/, '') || path.startsWith(r.prefix));
    try {
      // A handler that passes (returns false without answering) falls through to the 404 below;
      // otherwise the client would wait for an answer that never comes.
      if (route && ((await route.handle(req, res)) !== false || res.headersSent || res.writableEnded)) return;
      if (path === '/' || path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ ok: true, routes: routes.map((r) => ({ name: r.name, prefix: r.prefix })) }) +
            '\n',
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'NOT_FOUND', message: `nothing is served at ${path}` } }) + '\n',
      );
    } catch (e) {
      onError(e, req);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL_ERROR', message: 'internal error' } }) + '\n');
    }
  });
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new MargoError('IO_ERROR', `cannot listen on ${listen}: ${e.code ?? e.message}`, {
          cause: e,
          hint:
            e.code === 'EADDRINUSE'
              ? 'Another process uses that port; pass --listen with another port.'
              : undefined,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
