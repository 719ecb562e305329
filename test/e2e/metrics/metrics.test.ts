// Prometheus metrics end to end, on real components: `margo serve`, two enrolled stand-alone
// agents (the bundle devices run): dev1 over Git with `--metrics-listen`, dev2 over the REST API,
// and the testbed's Docker engine. /metrics and the agent's port are scraped during the run and
// read with parse-prometheus-text-format; the figures must match what happened: N deploys -> N more
// desired-state commits (as many as dev1's `main` got, counted with git), N applies on the agent,
// device polls over Git and over the API, enrolment commits, device and deployment gauges; a
// scrape without a token (or a wrong one) is 401, a publisher token 403, a viewer token 200.
// Needs `npm run build` and the testbed's docker + image.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Scrape } from '../../fixtures/prometheus.ts';
import { requireComponent } from '../../testbed/env.js';
import {
  cliSuite,
  deployHelloArgs,
  freePort,
  json,
  MargoCli,
  margoAgentBin,
  removeWorkloadOnPort,
  repoRoot as repo,
  servedHello,
  stop,
  type Run,
} from '../cli/harness.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let cli: MargoCli;
let port: number;
let hostPort: number;
let agentMetricsPort: number;
let server: ChildProcess | undefined;
const agents: ChildProcess[] = [];
let tokens: { admin: string; publisher: string; operator: string; viewer: string };

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const until = <T>(seconds: number, what: string, get: () => Promise<T | undefined | false>) =>
  cli.until(seconds, what, get);

async function scrapeServer(token: string | undefined): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/metrics`, {
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    signal: AbortSignal.timeout(10_000),
  });
}
async function server$(): Promise<Scrape> {
  const r = await scrapeServer(tokens.viewer);
  assert.equal(r.status, 200);
  return new Scrape(await r.text());
}
async function agent$(): Promise<Scrape> {
  const r = await fetch(`http://127.0.0.1:${agentMetricsPort}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(r.status, 200);
  return new Scrape(await r.text());
}
/** Commits on dev1's `main` in the server's repository (what the orchestrator wrote). */
function dev1MainCommits(): number {
  const gitDir = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
  try {
    return Number(
      execFileSync('git', ['--git-dir', gitDir, 'rev-list', '--count', 'main'], { encoding: 'utf8' }),
    );
  } catch {
    return 0;
  }
}
async function state(): Promise<string | undefined> {
  const r = await margo('status', 'hello', '-o', 'json');
  if (r.code !== 0) return undefined;
  const rows = (JSON.parse(r.out) as { deployment: { devices: { deviceId: string; state: string }[] } })
    .deployment.devices;
  return rows.find((d) => d.deviceId === 'dev1')?.state;
}
const served = (): Promise<string | undefined> => servedHello(hostPort);
const desiredCommits = (s: Scrape) => s.sum('margo_commits_total', { repo: 'device', kind: 'desired-state' });

describe('Prometheus metrics end to end', { timeout: 900_000 }, () => {
  before(async () => {
    ({ dir, env, cli } = await cliSuite('margo-e2e-metrics-'));
    port = await freePort();
    hostPort = await freePort();
    agentMetricsPort = await freePort();
  });

  after(async () => {
    if (server && server.exitCode === null && agents[0]?.exitCode === null) {
      const r = await margo('undeploy', 'hello');
      if (r.code === 0) await until(60, 'removal at cleanup', async () => !(await served())).catch(() => {});
    }
    for (const a of agents) await stop(a);
    await stop(server);
    removeWorkloadOnPort(hostPort, env);
    await rm(dir, { recursive: true, force: true });
  });

  it('GET /metrics: 401 without a token or with a wrong one, 403 for a publisher, 200 for viewer/operator/admin', async () => {
    const init = json<{ tokens: { admin: string; publisher: string; operator: string } }>(
      await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
    );
    const viewer = json<{ token: string }>(
      await margo(
        'token',
        'create',
        '--data',
        'margo-data',
        '--role',
        'viewer',
        '--name',
        'prometheus',
        '-o',
        'json',
      ),
    );
    tokens = { ...init.tokens, viewer: viewer.token };
    server = await cli.start(
      'serve',
      ['serve', '--data', 'margo-data'],
      // serve prints its endpoints one line per write: wait for the last one this test reads.
      /metrics\s+http:\/\/\S+\/metrics/,
    );
    assert.match(cli.logs.serve!, /metrics\s+http:\/\/\S+\/metrics/, 'serve names the endpoint');
    for (const [token, code, status] of [
      [undefined, 'METRICS_UNAUTHORIZED', 401],
      ['not-a-token', 'METRICS_UNAUTHORIZED', 401],
      [tokens.publisher, 'METRICS_FORBIDDEN', 403],
    ] as const) {
      const r = await scrapeServer(token);
      assert.equal(r.status, status, String(code));
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(((await r.json()) as { code: string }).code, code);
    }
    for (const t of [tokens.viewer, tokens.operator, tokens.admin]) {
      const r = await scrapeServer(t);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const s = new Scrape(await r.text());
      assert.ok(s.has('margo_reconcile_passes_total') && s.has('process_cpu_user_seconds_total'));
      assert.ok(s.sum('margo_reconcile_passes_total', { outcome: 'ok' }) >= 1, 'the first pass');
    }
    assert.ok(!cli.logs.serve!.includes(tokens.viewer), 'no token in the log');
  });

  it('two agents enrol (dev1 over Git with --metrics-listen, dev2 over the API) and poll', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    for (const [id, transport, extra] of [
      ['dev1', 'git', ['--metrics-listen', `127.0.0.1:${agentMetricsPort}`]],
      ['dev2', 'rest', []],
    ] as const) {
      const added = json<{ enrolmentToken: string }>(
        await margo('device', 'add', id, '--role', 'standalone-device', '-o', 'json'),
      );
      agents.push(
        await cli.start(
          `agent-${id}`,
          [
            '--server',
            `http://127.0.0.1:${port}`,
            '--token',
            added.enrolmentToken,
            '--state',
            `agent-${id}`,
            '--transport',
            transport,
            ...extra,
          ],
          new RegExp(`agent for device ${id} running`),
          {},
          [margoAgentBin],
        ),
      );
    }
    assert.match(
      cli.logs['agent-dev1']!,
      new RegExp(`"url":"http://127\\.0\\.0\\.1:${agentMetricsPort}/metrics"`),
    );
    const s = await until(60, 'both devices reporting, polls over Git and the API', async () => {
      const x = await server$();
      const figures = {
        reporting: x.sum('margo_devices', { freshness: 'reporting' }),
        git: x.sum('margo_device_polls_total', { transport: 'git', outcome: 'ok' }),
        // dev2 has no desired state yet: its polls are answered 503 (API_UNAVAILABLE), polls all the same.
        api: x.sum('margo_device_polls_total', { transport: 'api' }),
      };
      if (figures.reporting === 2 && figures.git >= 3 && figures.api >= 3) return x;
      throw new Error(JSON.stringify(figures));
    });
    assert.equal(s.sum('margo_devices', { freshness: 'never' }), 0);
    assert.equal(s.sum('margo_devices_held'), 0);
    // The enrolment records: one fleet commit per device.
    assert.equal(s.sum('margo_commits_total', { repo: 'fleet', kind: 'enrolment' }), 2);
    // dev2's polls are GETs of its state manifest, each counted as an API request too (by status code).
    const apiPolls = s.sum('margo_device_polls_total', { transport: 'api' });
    const manifestGets = s.sum('margo_api_requests_total', { route: 'manifest' });
    assert.equal(
      s.sum('margo_device_polls_total', { transport: 'api', outcome: 'server-error' }),
      s.sum('margo_api_requests_total', { route: 'manifest', code: '503' }),
    );
    assert.ok(Math.abs(apiPolls - manifestGets) <= 1, `${apiPolls} polls, ${manifestGets} manifest GETs`);
    assert.ok(s.sum('margo_api_request_duration_seconds_count', { route: 'manifest' }) >= apiPolls - 1);
    assert.ok(s.sum('margo_git_bytes_total', { direction: 'out' }) > 0);
    assert.ok(s.sum('margo_git_requests_total', { service: 'upload-pack', outcome: 'ok' }) >= 3);
    // The agent's own port: polls over git, counted by the agent as the server counts them.
    const [a, b] = [await agent$(), await server$()];
    const agentPolls = a.sum('margo_agent_poll_duration_seconds_count', { transport: 'git', outcome: 'ok' });
    const serverPolls = b.sum('margo_device_polls_total', { transport: 'git', outcome: 'ok' });
    assert.ok(agentPolls >= 3, `agent polls ${agentPolls}`);
    assert.ok(
      Math.abs(serverPolls - agentPolls) <= 2,
      `the server saw ${serverPolls} git polls of dev1, the agent made ${agentPolls}`,
    );
    assert.equal(a.sum('margo_agent_applies_total'), 0, 'nothing to apply yet');
    assert.equal(a.sum('margo_agent_held'), 0);
  });

  it('N deploys: N more desired-state commits (as git counts them) and N applies on the agent', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    assert.ok(agents.length === 2, 'the agents are not running');
    json(await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
    const s0 = await server$();
    const a0 = await agent$();
    const commits0 = dev1MainCommits();
    const greetings = ['hi', 'bye'];
    for (const g of greetings) {
      json(await margo(...deployHelloArgs({ device: 'dev1', greeting: g, hostPort })));
      await until(180, `GREETING=${g} served`, async () =>
        new RegExp(`GREETING=${g}`).test((await served()) ?? ''),
      );
      await until(60, 'hello installed on dev1', async () => (await state()) === 'installed');
    }
    const [s1, a1] = await until(30, 'the agent to report its last apply', async () => {
      const a = await agent$();
      return a.sum('margo_agent_applies_total', { outcome: 'ok' }) >= greetings.length
        ? [await server$(), a]
        : undefined;
    });
    const n = greetings.length;
    assert.equal(dev1MainCommits() - commits0, n, 'one desired-state commit per deploy on dev1');
    assert.equal(desiredCommits(s1) - desiredCommits(s0), n, 'commits_total follows the commits made');
    assert.equal(
      a1.sum('margo_agent_applies_total', { outcome: 'ok' }) -
        a0.sum('margo_agent_applies_total', { outcome: 'ok' }),
      n,
    );
    assert.equal(a1.sum('margo_agent_applies_total', { outcome: 'failed' }), 0);
    assert.equal(a1.sum('margo_agent_apply_duration_seconds_count'), n);
    assert.ok(a1.sum('margo_agent_apply_duration_seconds_sum') > 0);
    assert.equal(a1.sum('margo_agent_deployments', { state: 'installed' }), 1);
    await until(
      30,
      'the outbox to drain',
      async () => (await agent$()).sum('margo_agent_outbox_depth') === 0,
    );
    // The server: the deployment's row installed, the passes that wrote counted, status pushes received.
    assert.equal(s1.sum('margo_deployments', { state: 'installed' }), 1);
    assert.ok(
      s1.sum('margo_reconcile_passes_total', { outcome: 'ok' }) >
        s0.sum('margo_reconcile_passes_total', { outcome: 'ok' }),
    );
    assert.ok(
      s1.sum('margo_reconcile_pass_duration_seconds_count', { reason: 'push-fleet' }) >
        s0.sum('margo_reconcile_pass_duration_seconds_count', { reason: 'push-fleet' }),
    );
    assert.ok(
      s1.sum('margo_git_requests_total', { service: 'receive-pack', outcome: 'ok' }) >
        s0.sum('margo_git_requests_total', { service: 'receive-pack', outcome: 'ok' }),
      'status pushes',
    );
    assert.ok(
      s1.sum('margo_git_bytes_total', { direction: 'in' }) >
        s0.sum('margo_git_bytes_total', { direction: 'in' }),
    );
  });
});
