import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGitHttpHandler, type GitHttpHandler, type GitHttpHandlerOptions } from './http-handler.js';

export interface StartedGitServer {
  /** `http://127.0.0.1:<port>` + base path, e.g. `http://127.0.0.1:39211/git`. */
  url: string;
  port: number;
  server: http.Server;
  handler: GitHttpHandler;
  close(): Promise<void>;
}

/**
 * Starts the embedded Git server alone on `host:port` (default 127.0.0.1, a free port): for tests,
 * benchmarks and single-purpose hosts. `margo serve` composes createGitHttpHandler instead.
 *
 * @example
 * const srv = await startGitServer({ reposRoot, tokens });
 * // git clone http://x:<token>@127.0.0.1:<port>/git/catalog.git
 */
export async function startGitServer(
  opts: GitHttpHandlerOptions & { host?: string; port?: number },
): Promise<StartedGitServer> {
  const handler = createGitHttpHandler(opts);
  const server = http.createServer((req, res) => {
    handler(req, res)
      .then((handled) => {
        if (!handled) {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('not found\n');
        }
      })
      .catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = (opts.basePath ?? '/git').replace(/\/+$/, '');
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}${base}`,
    port,
    server,
    handler,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await handler.close();
    },
  };
}
