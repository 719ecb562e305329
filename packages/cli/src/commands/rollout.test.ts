// `margo rollout ...` through main() against real bare repositories (native git) in local mode
// (--server = the data folder): the state file is written with the orchestrator's createRollout,
// the operator commands commit to it, git log shows who and what. No server runs here, so
// `rollout status` reads the fleet repository ("live view unavailable").
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRollout, formatRolloutState, type RolloutState } from '@margo-gitops/orchestrator';
import { memoryIo } from '../io.js';
import { main } from '../main.js';
import { createReposNative } from '../native-repos.js';
import type { Services } from '../services.js';

let root: string;
let data: string;
let env: NodeJS.ProcessEnv;
const notUsed = async () => {
  throw new Error('not used in this test');
};
const services: Services = {
  createPki: async (dir) => void (await writeFile(join(dir, 'ca.crt'), 'test')),
  createRepos: createReposNative,
  issueToken: async (_d, role) => `tok-${role}`,
  issueEnrolmentToken: notUsed,
  revokeDevice: notUsed,
  sealSecret: notUsed,
  startServer: notUsed,
  startAgent: notUsed,
  fetchStatus: notUsed,
};

async function margo(...args: string[]) {
  const io = memoryIo({});
  const code = await main(['node', 'margo', ...args], { io, env, cwd: root, services });
  return { code, out: io.stdout(), err: io.stderr() };
}
const fleetGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', join(data, 'repos/fleet.git'), ...args], { encoding: 'utf8' }).trim();
const fileState = () => JSON.parse(fleetGit('show', 'main:rollouts/web.json')) as RolloutState;
const trailer = (key: string) => fleetGit('log', '-1', `--format=%(trailers:key=${key},valueonly)`, 'main');

/** Commits a state file to fleet main as a person would (clone, add, push). */
function pushState(state: RolloutState): void {
  const work = join(root, `clone-${Date.now()}`);
  execFileSync('git', ['clone', '--quiet', join(data, 'repos/fleet.git'), work]);
  execFileSync('mkdir', ['-p', join(work, 'rollouts')]);
  execFileSync('sh', ['-c', 'cat > rollouts/web.json'], { cwd: work, input: formatRolloutState(state) });
  const g = (...a: string[]) => execFileSync('git', a, { cwd: work, env });
  g('add', '-A');
  g('commit', '--quiet', '-m', 'rollout web: started');
  g('push', '--quiet', 'origin', 'HEAD:main');
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-cli-rollout-'));
  data = join(root, 'margo-data');
  await mkdir(join(root, 'cfg'), { recursive: true });
  env = {
    ...process.env,
    MARGO_CONFIG: join(root, 'cfg', 'config.json'),
    MARGO_SERVER: data,
    NO_COLOR: '1',
    GIT_AUTHOR_NAME: 'Alice Operator',
    GIT_AUTHOR_EMAIL: 'alice@example.org',
    GIT_COMMITTER_NAME: 'Alice Operator',
    GIT_COMMITTER_EMAIL: 'alice@example.org',
  };
  delete env.MARGO_TOKEN;
  // commitChange's git takes the author from the process environment (as the real CLI does)
  for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL'])
    process.env[k] = env[k];
  const init = await margo('init', '--data', data, '-o', 'json');
  assert.equal(init.code, 0, init.err);
  const { state } = createRollout({
    deployment: 'web',
    from: '1111111111111111',
    to: '2222222222222222',
    spec: {
      waves: [
        { name: 'canary', devices: ['edge-1'], gate: { healthySeconds: 600, manual: true } },
        { name: 'all', percent: 100, gate: { healthySeconds: 0, manual: false } },
      ],
      onFailure: 'pause',
      failureThreshold: { count: 2 },
    },
    targets: ['edge-1', 'edge-2', 'edge-3'].map((deviceId) => ({ deviceId, labels: {} })),
    now: Date.parse('2026-03-02T08:00:00Z'),
  });
  state.devices['edge-1'] = { wave: 0, status: 'failed', since: state.startedAt, error: 'image pull: 404' };
  pushState(state);
});
after(() => rm(root, { recursive: true, force: true }));

describe('margo rollout', () => {
  it('parses status, pause, resume, promote --wave and abort into the runner options', async () => {
    const calls: unknown[] = [];
    const parse = async (...args: string[]) => {
      const io = memoryIo({});
      const code = await main(['node', 'margo', 'rollout', ...args], {
        io,
        env,
        cwd: root,
        services,
        runners: { rollout: async (o) => (calls.push(o), 0) },
      });
      return code;
    };
    assert.equal(await parse('status'), 0);
    assert.equal(await parse('status', 'web', '--watch', '--interval', '5', '-o', 'json'), 0);
    assert.equal(await parse('pause', 'web'), 0);
    assert.equal(await parse('promote', 'web', '--wave', 'all', '-o', 'yaml'), 0);
    assert.equal(await parse('abort', 'web'), 0);
    assert.deepEqual(calls, [
      { action: 'status', name: undefined, output: 'table', watch: false, interval: 2 },
      { action: 'status', name: 'web', output: 'json', watch: true, interval: 5 },
      { action: 'pause', name: 'web', output: 'table' },
      { action: 'promote', name: 'web', output: 'yaml', wave: 'all' },
      { action: 'abort', name: 'web', output: 'table' },
    ]);
    assert.equal(await parse('pause'), 2, 'a name is required');
    assert.equal(await parse('resume', 'web', '--wave', 'x'), 2, '--wave belongs to promote only');
  });

  it('status without a server reads rollouts/<name>.json and says the live view is unavailable', async () => {
    const j = await margo('rollout', 'status', 'web', '-o', 'json');
    assert.equal(j.code, 0, j.err);
    const d = JSON.parse(j.out);
    assert.equal(d.live, false);
    assert.match(d.unavailable, /data folder/);
    assert.equal(d.commit, fleetGit('rev-parse', 'main'));
    assert.deepEqual(
      d.summary.waves.map((w: { name: string; progress: string }) => [w.name, w.progress]),
      [
        ['canary', 'current'],
        ['all', 'later'],
      ],
    );
    const t = await margo('rollout', 'status', 'web');
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^rollout web {2}progressing/);
    assert.match(t.out, /canary +in progress +promote \+ healthy 600s +1 +failed 1/);
    assert.match(t.out, /failed devices\n {2}edge-1 {2}\(wave canary, failed\) {2}image pull: 404/);
    assert.match(t.out, /live view unavailable \(.*data folder.*\); shown from rollouts\/web\.json/);
    const list = await margo('rollout', 'status');
    assert.match(list.out, /web +progressing +canary +0\/2 +0\/3 +1/);
  });

  it('pause, resume, promote and abort are one commit each, by the person, with trailers', async () => {
    const before = Number(fleetGit('rev-list', '--count', 'main'));
    const p = await margo('rollout', 'pause', 'web');
    assert.equal(p.code, 0, p.err);
    assert.match(
      p.out,
      /^rollout web paused by Alice Operator \(commit [0-9a-f]{12} to rollouts\/web\.json\)/,
    );
    assert.match(p.out, /follow it with: margo rollout status web --watch/);
    assert.equal(
      fleetGit('log', '-1', '--format=%an <%ae>|%s', 'main'),
      'Alice Operator <alice@example.org>|rollout web: paused by Alice Operator',
    );
    assert.equal(trailer('Margo-Rollout'), 'web');
    assert.equal(trailer('Margo-Rollout-Phase'), 'paused');
    assert.deepEqual(
      [fileState().phase, fileState().pause?.by, fileState().pause?.reason],
      ['paused', 'Alice Operator', 'operator'],
    );
    const text = fleetGit('show', 'main:rollouts/web.json');
    assert.equal(text, formatRolloutState(fileState()).trimEnd(), 'written in the stable format');

    const again = await margo('rollout', 'pause', 'web');
    assert.equal(again.code, 1);
    assert.match(
      again.err,
      /^error ROLLOUT_TRANSITION_INVALID: rollout web is paused: only a progressing rollout can be paused/m,
    );

    const r = await margo('rollout', 'resume', 'web', '-o', 'json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      name: 'web',
      action: 'resume',
      phase: 'progressing',
      by: 'Alice Operator',
      commit: fleetGit('rev-parse', 'main'),
      file: 'rollouts/web.json',
    });
    assert.equal(fileState().acceptedFailures, 1);

    const noGate = await margo('rollout', 'promote', 'web', '--wave', 'all');
    assert.equal(noGate.code, 1);
    assert.match(noGate.err, /ROLLOUT_TRANSITION_INVALID: .*wave all has no manual gate/);
    const pr = await margo('rollout', 'promote', 'web');
    assert.equal(pr.code, 0, pr.err);
    assert.match(pr.out, /wave canary promoted by Alice Operator/);
    assert.match(pr.out, /healthy for 600s/);
    assert.equal(trailer('Margo-Rollout-Wave'), 'canary');
    assert.equal(fileState().waves[0]?.promotedBy, 'Alice Operator');

    const a = await margo('rollout', 'abort', 'web');
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /goes back to 1111111111111111/);
    assert.equal(trailer('Margo-Rollout-Phase'), 'rollingBack');
    assert.deepEqual(fileState().rollback, {
      reason: 'aborted',
      at: fileState().rollback!.at,
      by: 'Alice Operator',
    });
    assert.equal(
      Number(fleetGit('rev-list', '--count', 'main')),
      before + 4,
      'failed commands committed nothing',
    );
  });

  it('an unknown rollout is CLI_ROLLOUT_NOT_FOUND (exit 3), a bad name a usage error', async () => {
    for (const args of [
      ['pause', 'nope'],
      ['status', 'nope'],
    ]) {
      const r = await margo('rollout', ...args);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /^error CLI_ROLLOUT_NOT_FOUND: no rollout "nope" in the fleet repository/m);
    }
    const bad = await margo('rollout', 'pause', '../x');
    assert.equal(bad.code, 2);
  });

  it('two operators at once: the one that loses the race is re-applied to the new state', async () => {
    // reset to a progressing rollout, then promote and pause concurrently
    const s = fileState();
    const { rollback: _r, ...rest } = s;
    pushState({
      ...rest,
      phase: 'progressing',
      waves: s.waves.map(({ promotedAt: _a, promotedBy: _b, ...w }) => w),
    });
    const [x, y] = await Promise.all([margo('rollout', 'promote', 'web'), margo('rollout', 'pause', 'web')]);
    assert.equal(x.code, 0, x.err);
    assert.equal(y.code, 0, y.err);
    const st = fileState();
    assert.equal(st.phase, 'paused');
    assert.equal(st.waves[0]?.promotedBy, 'Alice Operator', 'the promote was not lost');
  });
});
