import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatRolloutState } from '../rollout/state-file.js';
import { createRollout } from '../rollout/state.js';
import { readRollouts, type StoredRollout } from './rollout-store.js';

const T = Date.parse('2026-03-02T08:00:00Z');
const stateOf = (deployment: string, to: string) =>
  formatRolloutState(
    createRollout({
      deployment,
      from: 'aaaa',
      to,
      spec: {
        waves: [{ name: 'all', percent: 100, gate: { healthySeconds: 0, manual: false } }],
        onFailure: 'pause',
        failureThreshold: { count: 1 },
      },
      targets: ['edge-1', 'edge-2'].map((deviceId) => ({ deviceId, labels: {} })),
      now: T,
    }).state,
  );

test('readRollouts parses each state once and keeps in its cache only the states at the commit read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
  git('init', '-q', '-b', 'main');
  mkdirSync(join(dir, 'rollouts'));
  const commit = (files: Record<string, string>) => {
    for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
    git('add', '-A');
    git('commit', '-q', '-m', 'step');
    return git('rev-parse', 'HEAD');
  };
  const gitdir = join(dir, '.git');
  const cache = new Map<string, StoredRollout>();
  const c1 = commit({
    'rollouts/web.json': stateOf('web', 'bbbb'),
    'rollouts/api.json': stateOf('api', 'bbbb'),
  });
  const r1 = await readRollouts(gitdir, c1, cache);
  assert.deepEqual([...r1.rollouts.keys()].sort(), ['api', 'web']);
  assert.equal(cache.size, 2);
  // Each rollout step commits a new state: the step before leaves the cache, the unchanged api
  // state is the very object parsed before.
  let head = c1;
  for (const to of ['cccc', 'dddd', 'eeee']) {
    head = commit({ 'rollouts/web.json': stateOf('web', to) });
    const r = await readRollouts(gitdir, head, cache);
    assert.equal(r.rollouts.get('web')!.state.to, to);
    assert.equal(r.rollouts.get('api'), r1.rollouts.get('api'), 'unchanged: not parsed again');
    assert.equal(cache.size, 2, 'only the states at this commit are kept');
  }
  assert.deepEqual(
    [...cache.keys()].sort(),
    [r1.rollouts.get('api')!.blob, (await readRollouts(gitdir, head)).rollouts.get('web')!.blob].sort(),
  );
});
