// The agent's metrics (loaded only when metricsListen is set: prom-client stays out of the main bundle).
export { createAgentMetrics, type AgentMetrics } from './agent-metrics.js';
export { serveAgentMetrics, type AgentMetricsServer } from './metrics-server.js';
