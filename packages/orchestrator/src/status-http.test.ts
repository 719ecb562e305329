import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FleetStatus } from './core/fleet-status.js';
import { createRollout } from './rollout/state.js';
import { createStatusHttpHandler, type StatusRolloutView, type StatusSource } from './status-http.js';

const T = Date.parse('2026-03-02T08:00:00Z');
const state = createRollout({
  deployment: 'web',
  from: 'aaaa',
  to: 'bbbb',
  spec: {
    waves: [
      { name: 'canary', devices: ['edge-1'], gate: { healthySeconds: 60, manual: true } },
      { name: 'all', percent: 100, gate: { healthySeconds: 0, manual: false } },
    ],
    onFailure: 'pause',
    failureThreshold: { count: 1 },
  },
  targets: ['edge-1', 'edge-2', 'edge-3'].map((deviceId) => ({ deviceId, labels: {} })),
  now: T,
}).state;
const view: StatusRolloutView = {
  name: 'web',
  state,
  commit: 'c0ffee',
  waiting: [{ deviceId: 'edge-1', reason: 'window', until: T + 3_600_000 }],
  gate: { wave: 'canary', waitingFor: 'devices' },
  wakeAt: T + 3_600_000,
};
const fleet = {
  generatedAt: 'now',
  deployments: [{ name: 'rollouts' }, { name: 'web' }],
} as unknown as FleetStatus;

async function serve(source: StatusSource): Promise<{ url: string; server: Server }> {
  const handler = createStatusHttpHandler(source, {
    authorize: (req) => req.headers.authorization === 'Bearer ok',
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/status`, server };
}
const get = async (url: string, token = 'ok') => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
};

describe('status API rollout routes', () => {
  let withViews: { url: string; server: Server };
  let without: { url: string; server: Server };
  before(async () => {
    withViews = await serve({
      getFleetStatus: async () => fleet,
      rolloutViews: async () => [view],
      rolloutView: async (name) => (name === 'web' ? view : undefined),
    });
    without = await serve({ getFleetStatus: async () => fleet });
  });
  after(() => {
    withViews.server.close();
    without.server.close();
  });

  it('lists rollouts with phase, wave and counts', async () => {
    const r = await get(`${withViews.url}/rollouts`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.rollouts, [
      {
        name: 'web',
        phase: 'progressing',
        from: 'aaaa',
        to: 'bbbb',
        wave: 'canary',
        wavesPassed: 0,
        waves: 2,
        total: 3,
        counts: { waiting: 3 },
        failures: 0,
        failureLimit: 1,
        waiting: 1,
        wakeAt: '2026-03-02T09:00:00.000Z',
        commit: 'c0ffee',
      },
    ]);
  });

  it('answers one rollout with its whole view, an unknown one with 404 ORCH_ROLLOUT_NOT_FOUND', async () => {
    const r = await get(`${withViews.url}/rollouts/web`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.rollout, view);
    const missing = await get(`${withViews.url}/rollouts/nope`);
    assert.deepEqual([missing.status, missing.body.code], [404, 'ORCH_ROLLOUT_NOT_FOUND']);
    const anon = await get(`${withViews.url}/rollouts/web`, 'bad');
    assert.equal(anon.status, 401);
  });

  it('leaves the deployment routes to a source without rollout views (an older orchestrator)', async () => {
    const r = await get(`${without.url}/rollouts`);
    assert.deepEqual([r.status, r.body.deployment.name], [200, 'rollouts']);
    const one = await get(`${without.url}/rollouts/web`);
    assert.deepEqual([one.status, one.body.code], [404, 'ORCH_DEPLOYMENT_NOT_FOUND']);
    const dep = await get(`${withViews.url}/web`);
    assert.equal(dep.body.deployment.name, 'web');
  });
});
