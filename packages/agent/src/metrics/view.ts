/**
 * What the agent's metrics read at scrape time, without prom-client (the agent's main bundle
 * carries this; prom-client is loaded only when metrics are switched on).
 */
import { DEPLOYMENT_STATUS_DIR } from '@margo-gitops/spec';

/** What the agent shows at scrape time (Agent.metricsView). */
export interface AgentMetricsView {
  /** Status changes queued and not yet delivered. */
  outboxDepth: number;
  /** The state of each deployment as last reported (installed, failed, installing, ...). */
  deploymentStates: string[];
  held: boolean;
}

/** The state of every deployment status file the sink holds (reported or queued). */
export function reportedStates(sink: { paths(): string[]; get(path: string): string | undefined }): string[] {
  const out: string[] = [];
  for (const p of sink.paths()) {
    if (!p.startsWith(DEPLOYMENT_STATUS_DIR)) continue;
    try {
      const state = (JSON.parse(sink.get(p) ?? '{}') as { status?: { state?: unknown } }).status?.state;
      if (typeof state === 'string') out.push(state);
    } catch {
      /* unreadable: rewritten on the next change */
    }
  }
  return out;
}

/**
 * `PORT` (loopback), `HOST:PORT` or `[IPv6]:PORT`; a message when it is not one of those.
 *
 * @example
 * parseMetricsListen('9464')           // { host: '127.0.0.1', port: 9464 }
 * parseMetricsListen('0.0.0.0:9464')   // every address: the operator asked for it
 */
export function parseMetricsListen(s: string): { host: string; port: number } | string {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?([0-9]{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    return `"${s}" is not PORT, HOST:PORT or [IPv6]:PORT (e.g. 127.0.0.1:9464)`;
  const host = m[1] ? m[1].replace(/^\[(.*)\]$/, '$1') : '127.0.0.1';
  return { host, port };
}
