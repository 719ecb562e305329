// The `margo` CLI against a real `margo serve` (the built CLI, real processes, stock git where an
// attacker would use it):
// - lost races: operators' commands run at the same moment as each other and as the server's own
//   fleet write when a device enrols; every change lands and every command exits 0 (before the
//   fix, git's --porcelain rejection on stdout went unnoticed: one of four labels was lost, exit 1);
// - a planted link: someone with push access to the Git host put `victim -> /outside` (or a
//   submodule) into the catalog; `margo app publish` of an app called `victim` must not write
//   outside its clone, nor print success with an empty commit (before the fix it did both);
// - secrets: a `--secret` value the application's schema refuses was sealed and committed anyway
//   (the orchestrator cannot check sealed values), and the only way to pass one was argv, where
//   any local user sees it in `ps`; now it is checked first, and can come from stdin or a file.
//
// MARGO_CLI_BIN runs another build of the CLI (how this test was checked to fail on the old code).
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { freePort, json, margoBin, MargoCli, repoRoot, stop, type Run } from '../e2e/cli/harness.js';

const LABELLERS = 4;

let dir: string;
let cli: MargoCli;
let port: number;
let server: ChildProcess | undefined;
const agents: ChildProcess[] = [];

const margo = (...args: string[]): Promise<Run> => cli.run(...args);

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
const fleetRepo = () => join(dir, 'margo-data', 'repos', 'fleet.git');
const catalogRepo = () => join(dir, 'margo-data', 'repos', 'catalog.git');
const deviceDoc = (id: string) =>
  YAML.parse(git(dir, '--git-dir', fleetRepo(), 'show', `main:devices/${id}.yaml`)) as {
    labels?: Record<string, string>;
    enrolment?: { certificateFingerprint?: string };
  };

/** A copy of examples/hello-world published as application `id`. */
async function packageAs(id: string, name: string): Promise<string> {
  const pkg = join(dir, name);
  await cp(join(repoRoot, 'examples/hello-world'), pkg, { recursive: true });
  const file = join(pkg, 'margo.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/^(\s+id:) hello-world$/m, `$1 ${id}`));
  return pkg;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'margo-cli-races-'));
  port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MARGO_CONFIG: join(dir, 'config.json'),
    NO_COLOR: '1',
    MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env, process.env.MARGO_CLI_BIN ?? margoBin);
  // Racing writers each re-apply their change after every lost round: on a busy machine that
  // takes longer than one command usually may.
  cli.runTimeoutSeconds = 300;
  json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
});

after(async () => {
  for (const a of agents) await stop(a);
  await stop(server);
  await rm(dir, { recursive: true, force: true });
});

describe('concurrent fleet writers against a real margo serve', { timeout: 600_000 }, () => {
  it(`${LABELLERS} concurrent \`margo device label\` runs and two enrolments: every label and enrolment record lands, all exit 0`, async () => {
    json(await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'));
    const tokens: Record<string, string> = {};
    for (const id of ['enrol-a', 'enrol-b']) {
      tokens[id] = json<{ enrolmentToken: string }>(
        await margo('device', 'add', id, '--role', 'standalone-device', '-o', 'json'),
      ).enrolmentToken;
    }
    // All at once: the label commands, and two agents whose enrolment makes the server write the
    // fleet too (devices/<id>.yaml enrolment record) while the operators' pushes race.
    const labels = Array.from({ length: LABELLERS }, (_, i) =>
      margo('device', 'label', 'dev1', `k${i}=v${i}`),
    );
    const enrolLabels = ['enrol-a', 'enrol-b'].map((id) => margo('device', 'label', id, `site=${id}`));
    const starting = ['enrol-a', 'enrol-b'].map((id) =>
      cli
        .start(
          `agent-${id}`,
          [
            'agent',
            '--server',
            `http://127.0.0.1:${port}`,
            '--token',
            tokens[id]!,
            '--state',
            join(dir, `state-${id}`),
          ],
          /agent for device \S+ running/,
        )
        .then((a) => void agents.push(a)),
    );
    const runs = await Promise.all([...labels, ...enrolLabels]);
    for (const r of runs) assert.equal(r.code, 0, `a label command failed (exit ${r.code}): ${r.err}`);
    assert.deepEqual(
      deviceDoc('dev1').labels,
      Object.fromEntries(Array.from({ length: LABELLERS }, (_, i) => [`k${i}`, `v${i}`])),
    );
    await Promise.all(starting);
    for (const id of ['enrol-a', 'enrol-b']) {
      const doc = await cli.until(60, `the enrolment record of ${id} in the fleet`, async () => {
        const d = deviceDoc(id);
        return d.enrolment?.certificateFingerprint ? d : undefined;
      });
      assert.match(doc.enrolment!.certificateFingerprint!, /^sha256:/);
      assert.deepEqual(doc.labels, { site: id });
    }
    // Enrolled is all these agents were for (later tests only seal to their certificates).
    for (const a of agents.splice(0)) await stop(a);
  });
});

describe('publish and a link planted in the catalog', { timeout: 300_000 }, () => {
  // The attacker pushes straight into the bare repository with stock git: the server refuses
  // symlinks and submodules at push time (another fix), so this is someone with access to the
  // Git host itself. The CLI must hold on its own.
  async function plant(entry: (wt: string) => Promise<void> | void, message: string): Promise<void> {
    const wt = await mkdtemp(join(dir, 'mallory-'));
    git(dir, 'clone', '-q', '-b', 'main', catalogRepo(), wt);
    await entry(wt);
    git(wt, 'add', '-A', '--', '.', ':!sub'); // a gitlink has no work tree folder: keep it staged
    git(wt, 'commit', '-qm', message);
    git(wt, 'push', '-q', 'origin', 'HEAD:main');
  }
  const catalogHead = () => git(dir, '--git-dir', catalogRepo(), 'rev-parse', 'main');

  it('a catalog symlink `victim -> /outside`: refused with CLI_PUBLISH_LINK, nothing written outside, no success', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'margo-outside-'));
    try {
      await plant((wt) => symlink(outside, join(wt, 'victim')), 'innocent');
      const before = catalogHead();
      const r = await margo('app', 'publish', await packageAs('victim', 'pkg-victim'));
      assert.deepEqual(await readdir(outside), [], 'nothing may be written through the link');
      assert.notEqual(r.code, 0, `publish reported success: ${r.out}`);
      assert.match(r.err, /CLI_PUBLISH_LINK/);
      assert.match(r.err, /victim/);
      assert.doesNotMatch(r.out, /published/);
      assert.equal(catalogHead(), before);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a submodule (gitlink) planted at `sub/1.0.0` is refused too', async () => {
    await plant((wt) => {
      const head = git(wt, 'rev-parse', 'HEAD');
      git(wt, 'update-index', '--add', '--cacheinfo', `160000,${head},sub/1.0.0`);
    }, 'a submodule');
    const r = await margo('app', 'publish', await packageAs('sub', 'pkg-sub'));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /CLI_PUBLISH_LINK.*sub\/1\.0\.0/);
  });

  it('a package that holds a symlink is refused before anything is pushed', async () => {
    const pkg = await packageAs('linky', 'pkg-linky');
    await symlink('/etc/passwd', join(pkg, 'resources', 'passwd'));
    const before = catalogHead();
    const r = await margo('app', 'publish', pkg);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /CLI_PUBLISH_LINK.*resources\/passwd/);
    assert.equal(catalogHead(), before);
  });

  it('publishing the same bytes twice says "nothing to do" (exit 0); other bytes under that version are refused (exit 5)', async () => {
    const pkg = await packageAs('twice', 'pkg-twice');
    const first = json<{ commit: string }>(await margo('app', 'publish', pkg, '-o', 'json'));
    assert.match(first.commit, /^[0-9a-f]{40}$/);
    const again = await margo('app', 'publish', pkg);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /already published .*nothing to do/);
    await mkdir(join(pkg, 'resources', 'extra'), { recursive: true });
    await writeFile(join(pkg, 'resources', 'extra', 'note.md'), 'changed\n');
    const changed = await margo('app', 'publish', pkg);
    assert.equal(changed.code, 5, changed.err);
    assert.match(changed.err, /CLI_APP_EXISTS/);
  });
});

describe('deploy secrets', { timeout: 300_000 }, () => {
  /** `margo ARGS` with `input` on its standard input (the way to keep a secret out of `ps`). */
  const margoStdin = (input: string, ...args: string[]): Promise<Run> =>
    new Promise((res) => {
      const child = spawn(process.execPath, [cli.bin, ...args], { cwd: dir, env: cli.env });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => res({ code: code ?? -1, out, err }));
      child.stdin.end(input);
    });
  const deployArgs = (...more: string[]) => [
    'deploy',
    'hello-world@1.0.0',
    '--name',
    'sec',
    '--device',
    'enrol-a',
    ...more,
  ];
  const fleetHead = () => git(dir, '--git-dir', fleetRepo(), 'rev-parse', 'main');

  it('a secret value the schema refuses is not sealed nor committed (ORCH_PARAMETER_INVALID), and is not shown', async () => {
    json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
    const before = fleetHead();
    const tooLong = 'x'.repeat(201); // the greeting rule allows 200 characters
    const r = await margoStdin(tooLong, ...deployArgs('--secret', 'GREETING=-'));
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /ORCH_PARAMETER_INVALID.*GREETING.*maxLength 200/);
    assert.doesNotMatch(r.err, /xxxxxxxx/);
    assert.equal(fleetHead(), before);
  });

  it('a secret from standard input is sealed without a warning; one on argv warns that ps shows it', async () => {
    const quiet = await margoStdin('kept-out-of-ps\n', ...deployArgs('--secret', 'GREETING=-', '-o', 'json'));
    assert.equal(quiet.code, 0, quiet.err);
    assert.doesNotMatch(quiet.err, /warning/);
    const file = git(dir, '--git-dir', fleetRepo(), 'show', 'main:deployments/sec.yaml');
    assert.match(file, /sealed:v1:/);
    assert.doesNotMatch(file, /kept-out-of-ps/);
    const loud = await margo(...deployArgs('--secret', 'GREETING=on-the-command-line'));
    assert.equal(loud.code, 0, loud.err);
    assert.match(loud.err, /warning: --secret GREETING=\.\.\. puts the value on the command line/);
    assert.equal((await margo('undeploy', 'sec')).code, 0);
  });
});
