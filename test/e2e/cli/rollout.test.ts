// `margo rollout ...` and fleet push validation against a real `margo serve` (built CLI, real Git
// over HTTP with the admin token): a state file written with the orchestrator's createRollout is
// pushed like any fleet change; broken ones are refused with file:line:col and code; the operator
// commands commit through the server; `rollout status` shows the server's live view (or, from a
// server without one, the fleet file). No device and no Docker are needed.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRollout, formatRolloutState, type RolloutState } from '@margo-gitops/orchestrator';
import { freePort, json, MargoCli, repoRoot, stop } from './harness.js';

let dir: string;
let cli: MargoCli;
let port: number;
let server: ChildProcess | undefined;
let admin = '';
let work = '';

const fleetBare = () => join(dir, 'margo-data', 'repos', 'fleet.git');
const fleetGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', fleetBare(), ...args], { encoding: 'utf8' }).trim();
const trailer = (key: string) => fleetGit('log', '-1', `--format=%(trailers:key=${key},valueonly)`, 'main');
const stored = () => JSON.parse(fleetGit('show', 'main:rollouts/web.json')) as RolloutState;

/** git in the user's clone of the fleet, the admin token in a header (as the CLI sends it). */
function git(...args: string[]) {
  return spawnSync('git', ['-c', `http.extraHeader=Authorization: Bearer ${admin}`, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: cli.env,
  });
}
async function pushFile(path: string, text: string, message: string) {
  git('pull', '--quiet', '--rebase', 'origin', 'main');
  await mkdir(join(work, 'rollouts'), { recursive: true });
  await writeFile(join(work, path), text);
  git('add', '-A');
  git('commit', '--quiet', '-m', message);
  return git('push', 'origin', 'HEAD:main');
}

const T = Date.parse('2026-03-02T08:00:00Z');
const initial = createRollout({
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
  now: T,
}).state;

before(async () => {
  assert.ok(existsSync(join(repoRoot, 'packages/cli/dist/main.js')), 'build first: npm run build');
  dir = await mkdtemp(join(tmpdir(), 'margo-e2e-rollout-'));
  port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MARGO_CONFIG: join(dir, 'home', 'config.json'),
    NO_COLOR: '1',
    GIT_AUTHOR_NAME: 'Olga Operator',
    GIT_AUTHOR_EMAIL: 'olga@example.org',
    GIT_COMMITTER_NAME: 'Olga Operator',
    GIT_COMMITTER_EMAIL: 'olga@example.org',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env);
  const init = json<{ tokens: Record<string, string> }>(
    await cli.run('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
  );
  admin = init.tokens.admin!;
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  work = join(dir, 'work');
  const c = spawnSync(
    'git',
    [
      '-c',
      `http.extraHeader=Authorization: Bearer ${admin}`,
      'clone',
      '--quiet',
      `http://127.0.0.1:${port}/git/fleet.git`,
      work,
    ],
    { encoding: 'utf8', env },
  );
  assert.equal(c.status, 0, c.stderr);
});

after(async () => {
  await stop(server);
  await rm(dir, { recursive: true, force: true });
});

describe('margo rollout against margo serve', { timeout: 300_000 }, () => {
  it('fleet push validation refuses a broken rollouts/*.json with file:line:col and code, and stores nothing', async () => {
    const head = fleetGit('rev-parse', 'main');
    const good = formatRolloutState(initial);
    const syntax = await pushFile(
      'rollouts/web.json',
      good.replace('"to": "2222222222222222",', '"to": "2222222222222222"'),
      'broken',
    );
    assert.notEqual(syntax.status, 0);
    assert.match(
      syntax.stderr,
      /remote: rollouts\/web\.json:6:3 ROLLOUT_STATE_INVALID rollout state: not JSON/,
    );
    assert.match(syntax.stderr, /push refused: 1 problem; nothing was stored/);
    git('reset', '--quiet', '--hard', 'origin/main');
    const shape = await pushFile(
      'rollouts/web.json',
      good.replace('"progressing"', '"sideways"'),
      'bad phase',
    );
    assert.match(
      shape.stderr,
      /rollouts\/web\.json:1:1 ROLLOUT_STATE_INVALID rollout state: unknown phase "sideways"/,
    );
    git('reset', '--quiet', '--hard', 'origin/main');
    const named = await pushFile('rollouts/api.json', good, 'wrong file');
    assert.match(named.stderr, /rollouts\/api\.json:3:3 ORCH_FLEET_NAME_MISMATCH .*rollouts\/web\.json/);
    git('reset', '--quiet', '--hard', 'origin/main');
    assert.equal(fleetGit('rev-parse', 'main'), head);
    const ok = await pushFile('rollouts/web.json', good, 'rollout web: started by hand');
    assert.equal(ok.status, 0, ok.stderr);
  });

  it('pause / resume / promote / abort commit through the server, by the person, with trailers', async () => {
    const p = await cli.run('rollout', 'pause', 'web');
    assert.equal(p.code, 0, p.err);
    assert.match(
      p.out,
      /^rollout web paused by Olga Operator \(commit [0-9a-f]{12} to rollouts\/web\.json\)\n/,
    );
    assert.equal(
      fleetGit('log', '-1', '--format=%an|%s', 'main'),
      'Olga Operator|rollout web: paused by Olga Operator',
    );
    assert.deepEqual([trailer('Margo-Rollout'), trailer('Margo-Rollout-Phase')], ['web', 'paused']);
    assert.equal(stored().pause?.by, 'Olga Operator');

    const again = await cli.run('rollout', 'pause', 'web');
    assert.equal(again.code, 1);
    assert.match(again.err, /^error ROLLOUT_TRANSITION_INVALID: rollout web is paused/m);

    assert.equal((await cli.run('rollout', 'resume', 'web')).code, 0);
    const pr = json<{ wave: string; phase: string }>(
      await cli.run('rollout', 'promote', 'web', '-o', 'json'),
    );
    assert.deepEqual([pr.wave, pr.phase], ['canary', 'progressing']);
    assert.equal(stored().waves[0]?.promotedBy, 'Olga Operator');
    assert.equal(trailer('Margo-Rollout-Wave'), 'canary');

    const missing = await cli.run('rollout', 'abort', 'nope');
    assert.equal(missing.code, 3);
    assert.match(missing.err, /CLI_ROLLOUT_NOT_FOUND/);
  });

  it('rollout status shows the live view of the server, or says it is unavailable and reads the fleet', async (t) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/status/rollouts/web`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const body = (await res.json()) as { rollout?: { state: RolloutState; commit: string } };
    const j = json<{ live: boolean; unavailable?: string; state: RolloutState; commit: string }>(
      await cli.run('rollout', 'status', 'web', '-o', 'json'),
    );
    t.diagnostic(body.rollout ? 'the server has rollout views' : 'the server has no rollout views');
    if (body.rollout) {
      // a server with rollout views: the CLI shows exactly what it serves
      assert.equal(j.live, true);
      assert.deepEqual(j.state, body.rollout.state);
      assert.equal(body.rollout.commit, fleetGit('rev-parse', 'main'));
    } else {
      assert.equal(j.live, false);
      assert.match(j.unavailable!, /older version|not read|HTTP 404/);
    }
    assert.equal(j.state.waves[0]?.promotedBy, 'Olga Operator');
    const text = await cli.run('rollout', 'status', 'web');
    assert.match(text.out, /canary +(in progress|waiting for gate .*|paused)/);
    const list = await cli.run('rollout', 'status');
    assert.match(list.out, /^ROLLOUT .*\nweb +progressing +canary +0\/2 +0\/3/);

    const ab = await cli.run('rollout', 'abort', 'web');
    assert.equal(ab.code, 0, ab.err);
    assert.equal(stored().phase === 'rollingBack' || stored().phase === 'rolledBack', true);
    assert.equal(stored().rollback?.by, 'Olga Operator');
  });
});
