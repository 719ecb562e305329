import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scrape } from '../../../../test/fixtures/prometheus.ts';
import type { PollResult } from '../agent.js';
import { loadAgentConfig } from '../config/load-agent-config.js';
import { createAgentMetrics } from './agent-metrics.js';
import { serveAgentMetrics } from './metrics-server.js';
import { parseMetricsListen, reportedStates } from './view.js';

const poll = (p: Partial<PollResult>): PollResult => ({
  ok: true,
  reconciled: false,
  actions: [],
  repairs: 0,
  ...p,
});

test('polls, applies and failures are counted; gauges read the view at scrape time', async () => {
  let view = { outboxDepth: 3, deploymentStates: ['installed', 'installed', 'failed'], held: false };
  const m = createAgentMetrics({ transport: 'git', view: () => view, processMetrics: false });
  m.polled(poll({}), 20);
  m.polled(
    poll({
      reconciled: true,
      actions: [
        { kind: 'install', name: 'web', result: 'ok', durationMs: 1500 },
        { kind: 'update', name: 'db', result: 'failed', durationMs: 500, code: 'AGENT_PULL_FAILED' },
        { kind: 'noop', name: 'cache', result: 'ok', durationMs: 1 },
        { kind: 'install', name: 'api', result: 'held' },
      ],
    }),
    2100,
  );
  m.polled(poll({ ok: false, error: { code: 'AGENT_REPO_UNREACHABLE', message: 'down' } }), 5);
  m.polled(poll({ ok: false, skipped: 'downtime' }), 0.1);
  let s = new Scrape((await m.scrape()).body);
  assert.equal(s.sum('margo_agent_poll_duration_seconds_count', { transport: 'git', outcome: 'ok' }), 2);
  assert.equal(s.sum('margo_agent_poll_duration_seconds_count', { outcome: 'error' }), 1);
  assert.equal(s.sum('margo_agent_poll_duration_seconds_count', { outcome: 'skipped' }), 1);
  assert.ok(Math.abs(s.sum('margo_agent_poll_duration_seconds_sum', { outcome: 'ok' }) - 2.12) < 1e-9);
  assert.equal(s.sum('margo_agent_applies_total', { outcome: 'ok' }), 1, 'noop is not an apply');
  assert.equal(s.sum('margo_agent_applies_total', { outcome: 'failed' }), 1);
  assert.equal(s.sum('margo_agent_applies_total', { outcome: 'held' }), 1);
  assert.equal(s.sum('margo_agent_apply_duration_seconds_count'), 2);
  assert.equal(s.sum('margo_agent_apply_duration_seconds_sum'), 2);
  assert.equal(s.sum('margo_agent_failures_total', { code: 'AGENT_PULL_FAILED' }), 1);
  assert.equal(s.sum('margo_agent_failures_total', { code: 'AGENT_REPO_UNREACHABLE' }), 1);
  assert.equal(s.sum('margo_agent_outbox_depth'), 3);
  assert.equal(s.sum('margo_agent_deployments', { state: 'installed' }), 2);
  assert.equal(s.sum('margo_agent_deployments', { state: 'failed' }), 1);
  assert.equal(s.sum('margo_agent_held'), 0);
  view = { outboxDepth: 0, deploymentStates: ['removing'], held: true };
  s = new Scrape((await m.scrape()).body);
  assert.equal(s.sum('margo_agent_outbox_depth'), 0);
  assert.equal(s.sum('margo_agent_held'), 1);
  assert.equal(
    s.sum('margo_agent_deployments', { state: 'installed' }),
    0,
    'states no longer seen are dropped',
  );
  assert.equal(s.sum('margo_agent_deployments', { state: 'removing' }), 1);
});

test('the metrics port answers GET /metrics only, on loopback by default', async (t) => {
  const m = createAgentMetrics({
    transport: 'rest',
    view: () => ({ outboxDepth: 0, deploymentStates: [], held: false }),
  });
  const srv = await serveAgentMetrics('0', m);
  t.after(() => srv.close());
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const r = await fetch(srv.url);
  assert.equal(r.status, 200);
  const s = new Scrape(await r.text());
  assert.ok(s.has('margo_agent_applies_total') && s.has('process_resident_memory_bytes'));
  assert.equal((await fetch(srv.url.replace('/metrics', '/'))).status, 404);
  await assert.rejects(serveAgentMetrics('nonsense', m), { code: 'AGENT_CONFIG_INVALID' });
});

test('metricsListen: PORT, HOST:PORT, [IPv6]:PORT; a wrong value is a configuration problem', () => {
  assert.deepEqual(parseMetricsListen('9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsListen('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
  assert.deepEqual(parseMetricsListen('[::1]:9464'), { host: '::1', port: 9464 });
  assert.deepEqual(parseMetricsListen('edge.local:1'), { host: 'edge.local', port: 1 });
  for (const bad of ['', 'x', ':9464', '1.2.3.4:', '70000', 'http://x:1'])
    assert.equal(typeof parseMetricsListen(bad), 'string', bad);
  const base = { deviceId: 'd1', repoUrl: 'http://x/git/devices/d1.git', token: 't', stateDir: '/tmp/s' };
  const ok = loadAgentConfig({ flags: base, env: { MARGO_AGENT_METRICS_LISTEN: '127.0.0.1:9464' } });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.config.metricsListen, '127.0.0.1:9464');
  const bad = loadAgentConfig({ flags: { ...base, metricsListen: 'nope' } });
  assert.deepEqual(
    bad.problems.map((p) => p.path),
    ['metricsListen'],
  );
});

test('reported deployment states come from the status files the sink holds', () => {
  const files: Record<string, string> = {
    'deployments/a.json': JSON.stringify({ status: { state: 'installed' } }),
    'deployments/b.json': JSON.stringify({ status: { state: 'failed' } }),
    'deployments/c.json': '{not json',
    'capabilities.json': JSON.stringify({ status: { state: 'x' } }),
  };
  assert.deepEqual(reportedStates({ paths: () => Object.keys(files), get: (p) => files[p] }).sort(), [
    'failed',
    'installed',
  ]);
});
