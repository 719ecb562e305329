// Drives the git-backed commands through main() against real bare repositories (native git) in a
// temp folder, in local mode (--server = the data folder). Only the trust/token services are
// stubbed here (their own packages test them); everything git is real.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { catalogFilesHandler } from '../catalog-files.js';
import { listenComposed } from '../http-server.js';
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
  issueEnrolmentToken: async (_c, id) => ({ token: `enrol-${id}`, expiresAt: '2030-01-01T00:00:00.000Z' }),
  revokeDevice: async () => {},
  sealSecret: async (_c, id, v) => `sealed:v1:${Buffer.from(`${id}:${v}`).toString('base64')}`,
  startServer: notUsed,
  startAgent: notUsed,
  fetchStatus: notUsed,
};

async function margo(...args: string[]) {
  return margoWithStdin(undefined, ...args);
}

async function margoWithStdin(stdin: string | undefined, ...args: string[]) {
  const io = memoryIo(stdin !== undefined ? { stdin } : {});
  const code = await main(['node', 'margo', ...args], { io, env, cwd: root, services });
  return { code, out: io.stdout(), err: io.stderr() };
}

const fleetFile = (path: string) =>
  execFileSync('git', ['--git-dir', join(data, 'repos/fleet.git'), 'show', `main:${path}`], {
    encoding: 'utf8',
  });
const fleetLog = () =>
  execFileSync('git', ['--git-dir', join(data, 'repos/fleet.git'), 'log', '--format=%s', 'main'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n');

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-cli-cmd-'));
  data = join(root, 'margo-data');
  env = { ...process.env, MARGO_CONFIG: join(root, 'cfg', 'config.json'), MARGO_SERVER: data, NO_COLOR: '1' };
  delete env.MARGO_TOKEN;
  // a small compose application package
  const app = join(root, 'app');
  await mkdir(join(app, 'resources', 'compose'), { recursive: true });
  await writeFile(
    join(app, 'resources', 'compose', 'docker-compose.yml'),
    'services:\n  web:\n    image: 127.0.0.1:5000/margo/echo:1\n',
  );
  await writeFile(
    join(app, 'margo.yaml'),
    YAML.stringify({
      apiVersion: 'margo.org/v1-alpha1',
      kind: 'ApplicationDescription',
      metadata: {
        id: 'test-app',
        name: 'Test app',
        version: '1.0.0',
        catalog: { organization: [{ name: 'x' }] },
      },
      deploymentProfiles: [
        {
          type: 'compose',
          components: [{ name: 'web', properties: { packageLocation: 'resources/compose.tar.gz' } }],
        },
      ],
      parameters: {
        GREETING: { value: 'hi', targets: [{ pointer: 'ENV.GREETING', components: ['web'] }] },
        PASSWORD: { value: 'changeme', targets: [{ pointer: 'ENV.PASSWORD', components: ['web'] }] },
      },
      configuration: {
        sections: [
          { name: 'Secrets', settings: [{ parameter: 'PASSWORD', name: 'Password', schema: 'password' }] },
        ],
        schema: [{ name: 'password', dataType: 'string', minLength: 6, maxLength: 64 }],
      },
    }),
  );
});
after(() => rm(root, { recursive: true, force: true }));

describe('margo commands on real git repositories', () => {
  it('init creates the data folder and a 0600 client context, and refuses to overwrite', async () => {
    const r = await margo('init', '--data', data, '-o', 'json');
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.deepEqual(res.tokens, {
      admin: 'tok-admin',
      publisher: 'tok-publisher',
      operator: 'tok-operator',
    });
    const cfg = JSON.parse(await readFile(env.MARGO_CONFIG!, 'utf8'));
    assert.equal(cfg.current, 'local');
    assert.equal(cfg.contexts.local.dataDir, data);
    assert.equal(
      execFileSync('stat', ['-c', '%a', cfg.contexts.local.tokenFile], { encoding: 'utf8' }).trim(),
      '600',
    );
    assert.equal((await readFile(cfg.contexts.local.tokenFile, 'utf8')).trim(), 'tok-admin');
    assert.match(fleetFile('README.md'), /Fleet repository/);
    const again = await margo('init', '--data', data);
    assert.equal(again.code, 5);
    assert.match(again.err, /error CLI_DATA_DIR_EXISTS/);
  });

  it('device add commits devices/<id>.yaml and prints the enrolment token once', async () => {
    const r = await margo('device', 'add', 'dev1', '--role', 'standalone-device', '--label', 'site=plant-a');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /enrol-dev1/);
    assert.deepEqual(YAML.parse(fleetFile('devices/dev1.yaml')), {
      apiVersion: 'fleet.margo-gitops.io/v1alpha1',
      kind: 'Device',
      id: 'dev1',
      labels: { site: 'plant-a' },
      role: 'standalone-device',
      expectedReportSeconds: 300,
    });
    assert.equal((await margo('device', 'add', 'dev1')).code, 5);
    assert.equal((await margo('device', 'add', 'bad id!')).code, 2);
  });

  it('device label, list and show', async () => {
    assert.equal((await margo('device', 'label', 'dev1', 'line=3', 'site-')).code, 0);
    const list = await margo('device', 'list', '-o', 'json');
    assert.deepEqual(JSON.parse(list.out)[0].labels, { line: '3' });
    const table = await margo('device', 'list');
    assert.match(
      table.out,
      /^ID\s+ROLE\s+LABELS\s+REPORTING\s+LAST REPORT\s+DEPLOYMENTS\ndev1\s+standalone-device\s+line=3\s+-\s+-\s+-\n$/,
    );
    assert.equal((await margo('device', 'show', 'nope')).code, 3);
    assert.match((await margo('device', 'show', 'dev1', '-o', 'yaml')).out, /id: dev1/);
  });

  it('app publish packs the compose folder, refuses a second publish of the same version', async () => {
    const r = await margo('app', 'publish', 'app', '-o', 'json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).packed, ['resources/compose.tar.gz']);
    const files = execFileSync(
      'git',
      ['--git-dir', join(data, 'repos/catalog.git'), 'ls-tree', '-r', '--name-only', 'main'],
      { encoding: 'utf8' },
    );
    assert.match(files, /test-app\/1\.0\.0\/margo\.yaml/);
    assert.match(files, /test-app\/1\.0\.0\/resources\/compose\.tar\.gz/);
    // The same bytes again: nothing to do, said so, no commit. Different bytes: refused.
    const same = await margo('app', 'publish', 'app', '-o', 'json');
    assert.equal(same.code, 0, same.err);
    assert.deepEqual([JSON.parse(same.out).commit, JSON.parse(same.out).alreadyPublished], [null, true]);
    await writeFile(
      join(root, 'app', 'margo.yaml'),
      (await readFile(join(root, 'app', 'margo.yaml'), 'utf8')) + '# changed\n',
    );
    const again = await margo('app', 'publish', 'app');
    assert.equal(again.code, 5);
    assert.match(again.err, /CLI_APP_EXISTS/);
    assert.equal((await margo('app', 'publish', 'nowhere')).code, 1);
    assert.deepEqual(
      JSON.parse((await margo('app', 'list', '-o', 'json')).out).map((a: { id: string }) => a.id),
      ['test-app'],
    );
    assert.match((await margo('app', 'show', 'test-app')).out, /Parameters:\s+GREETING/);
    assert.equal((await margo('app', 'show', 'test-app@9')).code, 3);
  });

  it('the catalog files route serves the packed tarball', async () => {
    const srv = await listenComposed(
      [{ prefix: '/catalog/', name: 'catalog', handle: catalogFilesHandler(data) }],
      '127.0.0.1:0',
    );
    try {
      const res = await fetch(`${srv.url}/catalog/test-app/1.0.0/resources/compose.tar.gz`);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(body[0], 0x1f); // gzip magic
      assert.equal((await fetch(`${srv.url}/catalog/test-app/1.0.0/nope`)).status, 404);
      assert.equal((await fetch(`${srv.url}/catalog/test-app/../x`)).status, 404);
      assert.equal((await fetch(`${srv.url}/other`)).status, 404);
    } finally {
      await srv.close();
    }
  });

  it('deploy --secret-file and --secret NAME=- (stdin) seal without a warning; secret values are checked against the schema and never shown', async () => {
    const sealedFor = () =>
      Buffer.from(
        String(YAML.parse(fleetFile('deployments/sec.yaml')).secrets.PASSWORD.sealed.dev1).slice(
          'sealed:v1:'.length,
        ),
        'base64',
      ).toString();
    const base = ['deploy', 'test-app@1.0.0', '--name', 'sec', '--device', 'dev1', '-o', 'json'];
    await writeFile(join(root, 'pw.txt'), 'from-a-file\n');
    let r = await margo(...base, '--secret-file', 'PASSWORD=pw.txt');
    assert.equal(r.code, 0, r.err);
    assert.equal(sealedFor(), 'dev1:from-a-file', 'one trailing newline dropped');
    assert.doesNotMatch(r.err, /warning/);
    r = await margoWithStdin('from-stdin\n', ...base, '--secret', 'PASSWORD=-');
    assert.equal(r.code, 0, r.err);
    assert.equal(sealedFor(), 'dev1:from-stdin');
    assert.doesNotMatch(r.err, /warning/);
    // Too short for the schema rule (minLength 6): refused like a --set value, before any commit.
    const commits = fleetLog().length;
    r = await margoWithStdin('tiny', ...base, '--secret', 'PASSWORD=-');
    assert.equal(r.code, 1);
    assert.match(r.err, /ORCH_PARAMETER_INVALID.*PASSWORD.*minLength 6/);
    assert.doesNotMatch(r.err, /tiny/);
    r = await margo(...base, '--secret', 'NOPE=whatever-long');
    assert.equal(r.code, 1);
    assert.match(r.err, /ORCH_PARAMETER_UNKNOWN.*"NOPE"/);
    assert.equal(fleetLog().length, commits);
    // A forgotten `=` is a usage error that does not echo the argument (it may be the secret).
    r = await margo(...base, '--secret', 'hunter2hunter2');
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.err, /hunter2/);
    assert.equal((await margo('undeploy', 'sec')).code, 0);
  });

  it('deploy, change a parameter, undeploy, rollback: one commit each', async () => {
    const before = fleetLog().length;
    let r = await margo(
      'deploy',
      'test-app@1.0.0',
      '--name',
      'hello',
      '--device',
      'dev1',
      '--set',
      'GREETING=hi',
      '--secret',
      'PASSWORD=s3cret',
      '-o',
      'json',
    );
    assert.equal(r.code, 0, r.err);
    const first = JSON.parse(r.out).commit as string;
    let doc = YAML.parse(fleetFile('deployments/hello.yaml'));
    assert.deepEqual(doc.parameters, { GREETING: 'hi' });
    assert.match(doc.secrets.PASSWORD.sealed.dev1, /^sealed:v1:/);
    assert.doesNotMatch(fleetFile('deployments/hello.yaml'), /s3cret/);
    assert.match(r.err, /warning: --secret PASSWORD=\.\.\. puts the value on the command line/);
    assert.doesNotMatch(r.err, /s3cret/);

    r = await margo(
      'deploy',
      'test-app@1.0.0',
      '--name',
      'hello',
      '--device',
      'dev1',
      '--set',
      'GREETING=bye',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(YAML.parse(fleetFile('deployments/hello.yaml')).parameters.GREETING, 'bye');
    r = await margo(
      'deploy',
      'test-app@1.0.0',
      '--name',
      'hello',
      '--device',
      'dev1',
      '--set',
      'GREETING=bye',
    );
    assert.match(r.out, /unchanged/);

    r = await margo('undeploy', 'hello');
    assert.equal(r.code, 0, r.err);
    assert.throws(() => fleetFile('deployments/hello.yaml'));
    assert.equal((await margo('undeploy', 'hello')).code, 3);

    r = await margo('rollback', 'hello', '-o', 'json');
    assert.equal(r.code, 0, r.err);
    assert.equal(YAML.parse(fleetFile('deployments/hello.yaml')).parameters.GREETING, 'bye');

    r = await margo('rollback', 'hello', '--to', first);
    assert.equal(r.code, 0, r.err);
    doc = YAML.parse(fleetFile('deployments/hello.yaml'));
    assert.equal(doc.parameters.GREETING, 'hi');
    assert.equal((await margo('rollback', 'hello', '--to', 'deadbeef')).code, 3);
    assert.equal((await margo('rollback', 'never-existed')).code, 3);
    assert.deepEqual(fleetLog().slice(0, fleetLog().length - before), [
      'rollback hello to ' + first,
      'rollback hello',
      'undeploy hello',
      'deploy hello: test-app@1.0.0',
      'deploy hello: test-app@1.0.0',
    ]);
  });

  it('device revoke removes the device from the fleet', async () => {
    const r = await margo('device', 'revoke', 'dev1');
    assert.equal(r.code, 0, r.err);
    assert.throws(() => fleetFile('devices/dev1.yaml'));
    assert.equal((await margo('device', 'revoke', 'dev1')).code, 3);
  });
});
