// Integration tests of the agent loop against a real git server (git http-backend), with an
// in-process recording driver standing in for a container runtime (the real runtimes are covered
// by compose/helm/faults tests on the testbed). Covers: dependsOn order, waiting on a failed
// dependency, verifier refusal, unsupported profile, downtime windows with an injected clock,
// sealed values through the unseal hook, status signatures and history compaction.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { MargoError, parseObserved } from '@margo-gitops/spec';
import type { ProfileType } from '@margo-gitops/spec';
import {
  Agent,
  loadAgentConfig,
  type ComponentContext,
  type Driver,
  type Observation,
  type RemoveContext,
} from '@margo-gitops/agent';
import { deploymentYaml, DeviceRepo, git, startGitServer, tempDir } from './helpers.ts';

class RecordingDriver implements Driver {
  readonly name = 'compose' as const;
  log: string[] = [];
  running = new Map<string, Record<string, unknown>>();
  failing = new Set<string>();
  supports(type: ProfileType): boolean {
    return type === 'compose';
  }
  async init(): Promise<void> {}
  async prepare(ctx: ComponentContext) {
    ctx.progress('downloading');
    return {};
  }
  async apply(ctx: ComponentContext) {
    const key = `${ctx.deployment.name}/${ctx.component.name}`;
    if (this.failing.has(ctx.deployment.name)) throw new MargoError('AGENT_COMPOSE_FAILED', `${key} refused`);
    this.log.push(`apply ${key} ${JSON.stringify(ctx.values)}`);
    this.running.set(key, Object.fromEntries(ctx.values));
    return { key };
  }
  async remove(ctx: RemoveContext) {
    this.log.push(`remove ${String(ctx.record.key)}`);
    this.running.delete(String(ctx.record.key));
  }
  async observe(record: Record<string, unknown>): Promise<Observation> {
    return { ok: this.running.has(String(record.key)) };
  }
}

const ids = {
  db: '0000000e-7777-4a5b-9c3d-000000000001',
  api: '0000000e-7777-4a5b-9c3d-000000000002',
  web: '0000000e-7777-4a5b-9c3d-000000000003',
  helm: '0000000e-7777-4a5b-9c3d-000000000004',
};
const app = (name: keyof typeof ids, deps: string[] = [], greeting = 'hi') =>
  deploymentYaml({
    name,
    id: ids[name],
    components: [{ name: 'c', properties: { packageLocation: 'x.tgz' } }],
    parameters: { g: { value: greeting, pointer: 'ENV.GREETING', components: ['c'] } },
    ...(deps.length ? { annotations: { 'margo-gitops.io/depends-on': deps.join(', ') } } : {}),
  });

async function setup(
  extra: Record<string, unknown> = {},
  opts: Partial<ConstructorParameters<typeof Agent>[0]> = {},
) {
  const dir = tempDir('agent-loop-');
  const token = 'loop-token';
  const server = await startGitServer(join(dir, 'srv'), token);
  const repo = new DeviceRepo(join(dir, 'srv'), 'dev-l');
  const driver = new RecordingDriver();
  const { config, problems } = loadAgentConfig({
    flags: {
      deviceId: 'dev-l',
      repoUrl: `${server.url}/dev-l.git`,
      token,
      stateDir: join(dir, 'state'),
      pollIntervalSeconds: 1,
      ...extra,
    },
  });
  assert.deepEqual(problems, []);
  const agent = new Agent({ config, logger: pino({ level: 'silent' }), drivers: [driver], ...opts });
  return {
    repo,
    driver,
    agent,
    cleanup: async () => {
      await agent.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('loop: installs in dependency order, waits on a failed dependency, removes in reverse order', async () => {
  const { repo, driver, agent, cleanup } = await setup();
  try {
    repo.commit({
      'deployments/web.yaml': app('web', ['api']),
      'deployments/api.yaml': app('api', ['db']),
      'deployments/db.yaml': app('db'),
    });
    const r1 = await agent.pollOnce();
    assert.deepEqual(
      r1.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
      ['install:db:ok', 'install:api:ok', 'install:web:ok'],
    );
    assert.deepEqual(driver.log, [
      'apply db/c [["GREETING","hi"]]',
      'apply api/c [["GREETING","hi"]]',
      'apply web/c [["GREETING","hi"]]',
    ]);

    // db fails to upgrade -> api (changed too) waits, pending with a reason; web unchanged stays installed.
    driver.failing.add('db');
    repo.commit({
      'deployments/db.yaml': app('db', [], 'new'),
      'deployments/api.yaml': app('api', ['db'], 'new'),
    });
    const r2 = await agent.pollOnce();
    assert.deepEqual(
      r2.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
      ['reconfigure:db:failed', 'reconfigure:api:waiting', 'noop:web:ok'],
    );
    await agent.pollOnce(); // pushes
    assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.error.code, 'AGENT_COMPOSE_FAILED');
    assert.equal(repo.statusJson(`deployments/${ids.api}.json`).status.state, 'pending');
    assert.equal(
      repo.statusJson(`deployments/${ids.api}.json`).status.error.code,
      'AGENT_DEPENDENCY_NOT_READY',
    );

    // the retry after backoff succeeds once db works again (no new commit needed).
    driver.failing.clear();
    driver.log = [];
    // The retry is due after a jittered backoff: poll until it is (bounded), as the loop would.
    let r3 = await agent.pollOnce();
    for (const end = Date.now() + 15_000; !r3.actions.length && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 200));
      r3 = await agent.pollOnce();
    }
    assert.deepEqual(
      r3.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
      ['reconfigure:db:ok', 'reconfigure:api:ok', 'noop:web:ok'],
    );

    driver.log = [];
    repo.commit({ 'deployments/web.yaml': null, 'deployments/api.yaml': null, 'deployments/db.yaml': null });
    await agent.pollOnce();
    assert.deepEqual(driver.log, ['remove web/c', 'remove api/c', 'remove db/c']);
  } finally {
    await cleanup();
  }
});

test('loop: verifier refusal applies nothing; unsupported profile fails only that deployment', async () => {
  let refuse = true;
  const { repo, driver, agent, cleanup } = await setup(
    {},
    {
      verifier: async (files) => {
        assert.ok(files.has('deployments/db.yaml'));
        if (refuse) throw new MargoError('AGENT_VERIFICATION_FAILED', 'manifest signature does not verify');
      },
    },
  );
  try {
    const refused = repo.commit({ 'deployments/db.yaml': app('db') });
    await agent.pollOnce();
    assert.deepEqual(driver.log, []);
    // Nothing of the refused commit is reported as a deployment (db was never accepted here); the
    // device says it acted on the commit.
    assert.equal(repo.statusFile(`deployments/${ids.db}.json`), undefined);
    assert.equal(parseObserved(repo.statusFile('observed.json')!).commit, refused);
    refuse = false;
    repo.commit({
      'deployments/db.yaml': app('db'),
      'deployments/helm.yaml': deploymentYaml({
        name: 'helm',
        id: ids.helm,
        type: 'helm.v3',
        components: [{ name: 'c', properties: { repository: 'oci://127.0.0.1:1/c', revision: '1.0.0' } }],
      }),
    });
    const r = await agent.pollOnce();
    assert.deepEqual(
      r.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
      ['install:db:ok'],
    );
    await agent.pollOnce();
    assert.equal(
      repo.statusJson(`deployments/${ids.helm}.json`).status.error.code,
      'AGENT_PROFILE_UNSUPPORTED',
    );
    assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.state, 'installed');
  } finally {
    await cleanup();
  }
});

test('loop: downtime window skips polling entirely (injected clock)', async () => {
  let now = new Date('2026-03-10T12:30:00Z');
  const { repo, driver, agent, cleanup } = await setup(
    { downtimeWindows: ['12:00-13:00'], windowTimeBase: 'utc' },
    { now: () => now },
  );
  try {
    repo.commit({ 'deployments/db.yaml': app('db') });
    const r1 = await agent.pollOnce();
    assert.equal(r1.skipped, 'downtime');
    assert.deepEqual(driver.log, []);
    now = new Date('2026-03-10T13:00:00Z');
    const r2 = await agent.pollOnce();
    assert.equal(r2.ok, true);
    assert.deepEqual(driver.log.length, 1);
  } finally {
    await cleanup();
  }
});

test('loop: sealed values go through unseal, status files are signed, history is compacted', async () => {
  const { repo, driver, agent, cleanup } = await setup(
    { statusHistoryLimit: 4 },
    {
      unseal: (v) => v.replace('sealed:v1:', 'clear-'),
      signStatus: (b) => `pk;${createHash('sha256').update(b).digest('hex')}`,
    },
  );
  try {
    for (let i = 0; i < 6; i++) {
      repo.commit({ 'deployments/db.yaml': app('db', [], `sealed:v1:${i}`) });
      await agent.pollOnce();
    }
    await agent.pollOnce();
    assert.deepEqual(driver.running.get('db/c'), { GREETING: 'clear-5' });
    const sigs = repo.statusJson('signatures.json') as Record<string, string>;
    // One signature per committed file, over exactly what was committed.
    const files = ['capabilities.json', 'observed.json', `deployments/${ids.db}.json`];
    assert.deepEqual(Object.keys(sigs).sort(), files.sort());
    for (const f of files)
      assert.equal(sigs[f], `pk;${createHash('sha256').update(repo.statusFile(f)!).digest('hex')}`, f);
    assert.ok(repo.statusCommits() <= 8, `status history compacted (${repo.statusCommits()} commits)`);
    assert.ok(
      !(repo.statusFile(`deployments/${ids.db}.json`) ?? '').includes('clear-'),
      'no clear value in status',
    );
  } finally {
    await cleanup();
  }
});

test('loop: native git backend fetches and reports like the default one', async () => {
  const { repo, driver, agent, cleanup } = await setup({ gitBackend: 'native' });
  try {
    repo.commit({ 'deployments/db.yaml': app('db') });
    const r = await agent.pollOnce();
    assert.deepEqual(
      r.actions.map((a) => `${a.kind}:${a.name}:${a.result}`),
      ['install:db:ok'],
    );
    assert.equal(driver.running.size, 1);
    assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.state, 'installed');
    const again = await agent.pollOnce();
    assert.equal(again.reconciled, false);
  } finally {
    await cleanup();
  }
});

test('loop: every desired commit is acknowledged in observed.json, even one that changes nothing here; no commit without one', async () => {
  const { repo, agent, cleanup } = await setup();
  try {
    const first = repo.commit({ 'deployments/db.yaml': app('db') });
    await agent.pollOnce();
    assert.equal(parseObserved(repo.statusFile('observed.json')!).commit, first);
    const statusBefore = repo.statusFile(`deployments/${ids.db}.json`);
    const commitsBefore = repo.statusCommits();
    // A desired commit the device has nothing to do for (db is unchanged).
    const second = repo.commit({ 'README.md': 'notes for the operator\n' });
    const r = await agent.pollOnce();
    assert.deepEqual(
      r.actions.map((a) => `${a.kind}:${a.name}`),
      ['noop:db'],
    );
    assert.equal(repo.statusFile(`deployments/${ids.db}.json`), statusBefore, 'deployment status unchanged');
    assert.equal(parseObserved(repo.statusFile('observed.json')!).commit, second);
    assert.equal(repo.statusCommits(), commitsBefore + 1, 'one status commit: the acknowledgement');
    await agent.pollOnce();
    assert.equal(repo.statusCommits(), commitsBefore + 1, 'no commit when nothing new was seen');
  } finally {
    await cleanup();
  }
});

/** Every file of the status branch as the server has it. */
function statusTree(repo: DeviceRepo): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of git(repo.bare, 'ls-tree', '-r', '--name-only', 'status').split('\n').filter(Boolean))
    out.set(p, repo.statusFile(p)!);
  return out;
}

test('loop: every status commit carries a signed observed.json binding the commit, a rising seq and every file', async () => {
  let now = new Date('2026-03-10T12:00:00Z');
  const { repo, agent, cleanup } = await setup(
    {},
    { signStatus: (b) => `pk;${createHash('sha256').update(b).digest('hex')}`, now: () => now },
  );
  try {
    const seqs: bigint[] = [];
    for (const greeting of ['a', 'b']) {
      const commit = repo.commit({ 'deployments/db.yaml': app('db', [], greeting) });
      await agent.pollOnce();
      const tree = statusTree(repo);
      const obs = parseObserved(tree.get('observed.json')!);
      assert.equal(obs.commit, commit);
      const others = [...tree.keys()].filter((p) => p !== 'signatures.json' && p !== 'observed.json');
      assert.deepEqual([...obs.files.keys()].sort(), others.sort());
      for (const p of others)
        assert.equal(obs.files.get(p), `sha256:${createHash('sha256').update(tree.get(p)!).digest('hex')}`);
      const sigs = JSON.parse(tree.get('signatures.json')!) as Record<string, string>;
      assert.equal(
        sigs['observed.json'],
        `pk;${createHash('sha256').update(tree.get('observed.json')!).digest('hex')}`,
      );
      seqs.push(obs.seq);
    }
    assert.ok(seqs[0]! >= BigInt(now.getTime()) * 1000n, 'seq starts at the clock in microseconds');
    assert.ok(seqs[1]! > seqs[0]!, 'seq rises although the clock stood still');
    now = new Date('2020-01-01T00:00:00Z'); // a clock set back
    repo.commit({ 'deployments/db.yaml': app('db', [], 'c') });
    await agent.pollOnce();
    assert.ok(
      parseObserved(repo.statusFile('observed.json')!).seq > seqs[1]!,
      'seq rises after the clock went back',
    );
  } finally {
    await cleanup();
  }
});

test('loop: a frozen desired state is reported TRUST_MANIFEST_EXPIRED on the next poll without a new commit; a fresh signed commit clears it (moved clock)', async () => {
  let now = new Date('2026-03-10T12:00:00Z');
  const hour = 3_600_000;
  /** What the "signer" put into each commit's manifest: expiry per desired commit. */
  const expiries = new Map<string, Date>();
  const { repo, driver, agent, cleanup } = await setup(
    { driftCheckEvery: 1 },
    {
      now: () => now,
      verifier: async (_files, { commit }) => {
        const expiresAt = expiries.get(commit)!;
        if (now >= expiresAt) throw new MargoError('TRUST_MANIFEST_EXPIRED', 'expired');
        return { expiresAt };
      },
    },
  );
  const sign = (files: Record<string, string>) => {
    const c = repo.commit(files);
    expiries.set(c, new Date(now.getTime() + hour));
    return c;
  };
  try {
    const first = sign({ 'deployments/db.yaml': app('db') });
    await agent.pollOnce();
    assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.state, 'installed');
    now = new Date(now.getTime() + hour / 2);
    assert.equal((await agent.pollOnce()).reconciled, false);
    assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.state, 'installed');

    // The repository stays on `first` (frozen); the device's clock passes the expiry.
    now = new Date(now.getTime() + hour);
    const r = await agent.pollOnce();
    assert.equal(r.reconciled, false, 'no new commit was needed to notice');
    const st = repo.statusJson(`deployments/${ids.db}.json`);
    assert.equal(st.status.error.code, 'TRUST_MANIFEST_EXPIRED');
    assert.equal(st['x-margo-gitops-extensions'].commit, first);
    assert.deepEqual([...driver.running.keys()], ['db/c'], 'the last good state keeps running');
    assert.equal(driver.log.length, 1, 'nothing removed or re-applied');
    const commits = repo.statusCommits();
    await agent.pollOnce();
    assert.equal(repo.statusCommits(), commits, 'reported once, not every poll');

    // The orchestrator re-signs: a fresh commit clears the report, nothing is re-applied.
    sign({ 'deployments/db.yaml': app('db'), 'README.md': 're-signed\n' });
    await agent.pollOnce();
    const back = repo.statusJson(`deployments/${ids.db}.json`);
    assert.equal(back.status.state, 'installed');
    assert.equal(back.status.error, undefined);
    assert.equal(driver.log.length, 1);
  } finally {
    await cleanup();
  }
});

test('loop: a refused commit reports the refusal on the last good deployments, never on its own documents', async () => {
  const ghostId = '0000000e-7777-4a5b-9c3d-0000000000ff';
  const { repo, driver, agent, cleanup } = await setup(
    {},
    {
      verifier: async (files) => {
        if (files.has('deployments/ghost.yaml'))
          throw new MargoError('TRUST_MANIFEST_FILE_ADDED', 'deployments/ghost.yaml is not in the manifest');
      },
    },
  );
  try {
    const good = repo.commit({ 'deployments/db.yaml': app('db') });
    await agent.pollOnce();
    const ghost = deploymentYaml({
      name: 'ghost',
      id: ghostId,
      components: [{ name: 'c', properties: { packageLocation: 'x.tgz' } }],
    });
    const refused = repo.commit({
      'deployments/db.yaml': app('db', [], 'evil'),
      'deployments/ghost.yaml': ghost,
    });
    await agent.pollOnce();
    assert.equal(
      repo.statusFile(`deployments/${ghostId}.json`),
      undefined,
      'no status for a refused document',
    );
    const st = repo.statusJson(`deployments/${ids.db}.json`);
    assert.equal(st.status.error.code, 'TRUST_MANIFEST_FILE_ADDED');
    assert.equal(st['x-margo-gitops-extensions'].commit, good, 'still the last good commit');
    assert.equal(parseObserved(repo.statusFile('observed.json')!).commit, refused);
    assert.deepEqual(driver.running.get('db/c'), { GREETING: 'hi' });
  } finally {
    await cleanup();
  }
});

for (const gitBackend of ['iso', 'native'] as const) {
  test(`loop: a tree with a symlink or a gitlink is refused whole before anything is used (${gitBackend})`, async () => {
    const { repo, driver, agent, cleanup } = await setup({ gitBackend });
    try {
      const good = repo.commit({ 'deployments/db.yaml': app('db') });
      await agent.pollOnce();
      assert.equal(driver.log.length, 1);

      // A symlink (mode 120000) beside a changed deployment: nothing of the commit is applied.
      symlinkSync('/etc/passwd', join(repo.work, 'deployments', 'link.yaml'));
      repo.commit({ 'deployments/db.yaml': app('db', [], 'changed') });
      await agent.pollOnce();
      assert.equal(driver.log.length, 1, 'nothing applied');
      let st = repo.statusJson(`deployments/${ids.db}.json`);
      assert.equal(st.status.error.code, 'TRUST_TREE_ENTRY_INVALID');
      assert.match(st.status.error.message, /deployments\/link\.yaml \(symlink 120000\)/);

      // A gitlink (mode 160000): invisible to readFiles, so to a manifest check too.
      git(repo.work, 'rm', '-q', 'deployments/link.yaml');
      git(repo.work, 'update-index', '--add', '--cacheinfo', `160000,${good},vendor/sub`);
      git(repo.work, 'commit', '-qm', 'gitlink'); // not -a: the gitlink has no folder in the work tree
      git(repo.work, 'push', '-q', '-f', repo.bare, 'main');
      await agent.pollOnce();
      assert.equal(driver.log.length, 1, 'nothing applied');
      st = repo.statusJson(`deployments/${ids.db}.json`);
      assert.equal(st.status.error.code, 'TRUST_TREE_ENTRY_INVALID');
      assert.match(st.status.error.message, /vendor\/sub \(gitlink \(submodule\) 160000\)/);

      // A plain tree again is applied.
      git(repo.work, 'rm', '-q', '--cached', 'vendor/sub');
      repo.commit({ 'deployments/db.yaml': app('db', [], 'changed') });
      await agent.pollOnce();
      assert.equal(driver.log.length, 2);
      assert.equal(repo.statusJson(`deployments/${ids.db}.json`).status.state, 'installed');
    } finally {
      await cleanup();
    }
  });
}
