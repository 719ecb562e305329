/**
 * The agent's metrics endpoint: `GET /metrics` on a local port, no authentication (it listens on
 * loopback unless the operator names another host).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MargoError } from '@margo-gitops/spec';
import type { AgentMetrics } from './agent-metrics.js';
import { parseMetricsListen } from './view.js';

export interface AgentMetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function serveAgentMetrics(listen: string, metrics: AgentMetrics): Promise<AgentMetricsServer> {
  const addr = parseMetricsListen(listen);
  if (typeof addr === 'string') throw new MargoError('AGENT_CONFIG_INVALID', `metricsListen: ${addr}`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new MargoError(
          'AGENT_CONFIG_INVALID',
          `cannot listen on ${listen} for metrics: ${e.code ?? e.message}`,
          {
            cause: e,
            hint: 'Give --metrics-listen (MARGO_AGENT_METRICS_LISTEN) a free port.',
          },
        ),
      ),
    );
    server.listen(addr.port, addr.host, () => resolve());
  });
  // Metrics never keep the process alive on their own.
  server.unref();
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${h}:${a.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
