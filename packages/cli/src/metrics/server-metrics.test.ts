import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FleetStatus } from '@margo-gitops/orchestrator';
import { Scrape } from '../../../../test/fixtures/prometheus.ts';
import { createServerMetrics } from './server-metrics.js';

function fleet(): FleetStatus {
  const row = (deviceId: string, reporting: 'reporting' | 'stale' | 'never', hold?: boolean) => ({
    deviceId,
    reporting,
    expectedReportSeconds: 300,
    deployments: 1,
    ...(hold ? { hold: { reason: 'maintenance' } } : {}),
  });
  const counts = (c: Record<string, number>) => c as FleetStatus['deployments'][number]['counts'];
  return {
    generatedAt: new Date().toISOString(),
    fleetCommit: null,
    catalogCommit: null,
    findings: [],
    removals: [],
    devices: [row('a', 'reporting'), row('b', 'reporting', true), row('c', 'stale'), row('d', 'never')],
    deployments: [
      {
        name: 'web',
        applicationId: 'hello',
        counts: counts({ installed: 2, failed: 1 }),
        total: 3,
        errors: [],
        devices: [],
      },
      {
        name: 'db',
        applicationId: 'pg',
        counts: counts({ installed: 1, pending: 1 }),
        total: 2,
        errors: [],
        devices: [],
      },
    ],
  };
}

test('telemetry, git and API events become the documented families', async () => {
  const m = createServerMetrics({ fleetStatus: async () => fleet(), processMetrics: false });
  const t = m.telemetry;
  t.passStarted({ reason: 'start' }).end({ outcome: 'ok', devicesWritten: 2, commits: 3 });
  t.passStarted({ reason: 'status push edge-1', deviceId: 'edge-1' }).end({
    outcome: 'error',
    devicesWritten: 0,
    commits: 0,
    errorCode: 'ORCH_GIT_FAILED',
  });
  t.committed({ repo: 'device', kind: 'desired-state', deviceId: 'a', commit: 'c1' });
  t.committed({ repo: 'device', kind: 'desired-state', deviceId: 'b', commit: 'c2' });
  t.committed({ repo: 'fleet', kind: 'rollout', commit: 'c3' });
  t.rolloutStep({ name: 'web', phase: 'progressing', events: [], startedAt: 0, endedAt: 1 });
  const git = { advertisement: false, bytesIn: 0, bytesOut: 0, durationMs: 5 };
  m.gitRequest({
    ...git,
    service: 'upload-pack',
    advertisement: true,
    status: 200,
    deviceId: 'a',
    bytesOut: 100,
  });
  m.gitRequest({ ...git, service: 'upload-pack', status: 200, deviceId: 'a', bytesIn: 50, bytesOut: 900 });
  m.gitRequest({ ...git, service: 'receive-pack', status: 200, deviceId: 'a', bytesIn: 4000 });
  m.gitRequest({ ...git, service: 'upload-pack', advertisement: true, status: 401 });
  m.gitRequest({ ...git, service: 'upload-pack', advertisement: true, status: 200 }); // an operator's fetch
  m.apiRequest({ route: 'manifest', method: 'GET', status: 304, durationMs: 2, deviceId: 'b' });
  m.apiRequest({ route: 'manifest', method: 'GET', status: 200, durationMs: 20, deviceId: 'b' });
  m.apiRequest({ route: 'status', method: 'POST', status: 201, durationMs: 30, deviceId: 'b' });
  m.apiRequest({ route: 'unknown', method: 'GET', status: 404, durationMs: 1 });

  const { contentType, body } = await m.scrape();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const s = new Scrape(body);
  assert.equal(s.sum('margo_reconcile_passes_total', { outcome: 'ok' }), 1);
  assert.equal(s.sum('margo_reconcile_passes_total', { outcome: 'error' }), 1);
  assert.equal(s.sum('margo_reconcile_pass_duration_seconds_count', { reason: 'start' }), 1);
  assert.equal(s.sum('margo_reconcile_pass_duration_seconds_count', { reason: 'status-push' }), 1);
  assert.ok(!body.includes('edge-1'), 'no device id in a label');
  assert.equal(s.sum('margo_commits_total', { repo: 'device', kind: 'desired-state' }), 2);
  assert.equal(s.sum('margo_commits_total', { repo: 'fleet', kind: 'rollout' }), 1);
  assert.equal(s.sum('margo_rollout_steps_total', { phase: 'progressing' }), 1);
  assert.equal(s.sum('margo_git_requests_total'), 5);
  assert.equal(s.sum('margo_git_requests_total', { service: 'upload-pack', outcome: 'unauthorized' }), 1);
  assert.equal(s.sum('margo_git_requests_total', { service: 'receive-pack', outcome: 'ok' }), 1);
  assert.equal(s.sum('margo_git_bytes_total', { direction: 'in' }), 4050);
  assert.equal(s.sum('margo_git_bytes_total', { direction: 'out' }), 1000);
  assert.equal(s.sum('margo_device_polls_total', { transport: 'git' }), 1, 'device advertisements only');
  assert.equal(s.sum('margo_device_polls_total', { transport: 'api', outcome: 'ok' }), 2);
  assert.equal(s.sum('margo_api_requests_total', { route: 'manifest', code: '304' }), 1);
  assert.equal(s.sum('margo_api_requests_total', { route: 'status', code: '201' }), 1);
  assert.equal(s.sum('margo_api_request_duration_seconds_count', { route: 'manifest' }), 2);
  assert.ok(Math.abs(s.sum('margo_api_request_duration_seconds_sum', { route: 'manifest' }) - 0.022) < 1e-9);
  // From the roll-up.
  assert.equal(s.sum('margo_devices', { freshness: 'reporting' }), 2);
  assert.equal(s.sum('margo_devices', { freshness: 'stale' }), 1);
  assert.equal(s.sum('margo_devices', { freshness: 'never' }), 1);
  assert.equal(s.sum('margo_devices_held'), 1);
  assert.equal(s.sum('margo_deployments', { state: 'installed' }), 3);
  assert.equal(s.sum('margo_deployments', { state: 'failed' }), 1);
  assert.equal(s.sum('margo_deployments', { state: 'pending' }), 1);
  assert.equal(s.families.get('margo_reconcile_pass_duration_seconds')?.type, 'HISTOGRAM');
});

test('the roll-up is read at most once a second, and again after that', async () => {
  let reads = 0;
  let clock = 0;
  const m = createServerMetrics({
    fleetStatus: async () => {
      reads++;
      return fleet();
    },
    processMetrics: false,
    now: () => clock,
  });
  await Promise.all([m.scrape(), m.scrape(), m.scrape()]);
  assert.equal(reads, 1);
  clock += 500;
  await m.scrape();
  assert.equal(reads, 1);
  clock += 600;
  await m.scrape();
  assert.equal(reads, 2);
});

test('default process metrics come with it; registries are separate', async () => {
  const a = createServerMetrics({ fleetStatus: async () => fleet() });
  const b = createServerMetrics({ fleetStatus: async () => fleet() });
  a.telemetry.committed({ repo: 'device', kind: 'desired-state', commit: 'x' });
  const sa = new Scrape((await a.scrape()).body);
  const sb = new Scrape((await b.scrape()).body);
  assert.ok(sa.has('process_cpu_user_seconds_total') && sa.has('nodejs_heap_size_used_bytes'));
  assert.equal(sa.sum('margo_commits_total'), 1);
  assert.equal(sb.sum('margo_commits_total'), 0);
});
