// `margo app publish` writes the package's OCI image layout (oci/) into the catalog, or pushes the
// artifacts to an external registry (the testbed's htpasswd docker-registry on 127.0.0.1:5001) and
// commits only index.json, manifests and configs. Real `margo serve` (built CLI), stock git reads the
// catalog, the testbed's real helm pulls the chart back. Needs `npm run build` and the testbed's
// registry + helm.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ANNOTATION,
  COMPOSE_ARTIFACT,
  HELM_CHART_LAYER,
  parseLayoutIndex,
  parseManifest,
  pullManifest,
} from '@margo-gitops/oci';
import { loadTestbed, requireComponent, testbedProcessEnv, type Testbed } from '../../testbed/env.js';
import { freePort, json, MargoCli, repoRoot as repo, stop, type Run } from './harness.js';

let dir: string;
let cli: MargoCli;
let server: ChildProcess | undefined;
let tb: Testbed | undefined;
let adminToken = '';
let port = 0;
const ns = `margo-e2e-${randomBytes(4).toString('hex')}`;
const margo = (...args: string[]): Promise<Run> => cli.run(...args);

const gitDir = () => join(dir, 'margo-data', 'repos', 'catalog.git');
const git = (...args: string[]) =>
  execFileSync('git', ['--git-dir', gitDir(), ...args], { maxBuffer: 256 * 1024 * 1024 });
const catalogFiles = (prefix: string) =>
  git('ls-tree', '-r', '--name-only', 'main', '--', prefix).toString().trim().split('\n').filter(Boolean);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A copy of an example with another version (one catalog holds each version once). */
function copyWithVersion(example: string, version: string): string {
  const d = mkdtempSync(join(dir, `${example}-`));
  cpSync(join(repo, 'examples', example), d, { recursive: true });
  const f = join(d, 'margo.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^ {2}version: .*$/m, `  version: ${version}`));
  return d;
}

/** Checks every blob of `<app>/<version>/oci/` is named by its digest; returns the index entries. */
function checkLayout(app: string, version: string) {
  const base = `${app}/${version}/oci`;
  assert.equal(git('show', `main:${base}/oci-layout`).toString(), '{"imageLayoutVersion":"1.0.0"}');
  const entries = parseLayoutIndex(git('show', `main:${base}/index.json`));
  const blobs = catalogFiles(`${base}/blobs`);
  for (const b of blobs) assert.equal(sha256(git('show', `main:${b}`)), `sha256:${b.split('/').pop()}`);
  return { entries, blobs: blobs.map((b) => `sha256:${b.split('/').pop()}`) };
}

before(async () => {
  assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
  dir = mkdtempSync(join(tmpdir(), 'margo-e2e-publish-oci-'));
  tb = loadTestbed();
  const env: NodeJS.ProcessEnv = {
    ...(tb ? testbedProcessEnv(tb) : process.env),
    MARGO_CONFIG: join(dir, 'config.json'),
    NO_COLOR: '1',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  delete env.MARGO_REGISTRY_PASSWORD;
  cli = new MargoCli(dir, env);
  port = await freePort();
  adminToken = json<{ tokens: { admin: string } }>(
    await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
  ).tokens.admin;
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
});

after(async () => {
  await stop(server);
  await rm(dir, { recursive: true, force: true });
});

describe('margo app publish: OCI artifacts', { timeout: 300_000 }, () => {
  it('hello-world: one Compose artifact whose layer is the package tarball (one Git blob)', async () => {
    const r = json<{
      artifacts: { component: string; repository: string; tags: string[]; digest: string }[];
    }>(await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
    assert.deepEqual(
      r.artifacts.map((a) => [a.component, a.repository, a.tags]),
      [['hello', 'hello-world/hello', ['1.0.0']]],
    );
    const { entries, blobs } = checkLayout('hello-world', '1.0.0');
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.deepEqual(
      [e.repository, e.tag, e.component, e.registry],
      ['hello-world/hello', '1.0.0', 'hello', undefined],
    );
    assert.equal(e.descriptor.digest, r.artifacts[0]!.digest);
    assert.equal(e.descriptor.artifactType, COMPOSE_ARTIFACT);
    const m = parseManifest(
      git('show', `main:hello-world/1.0.0/oci/blobs/sha256/${e.descriptor.digest.slice(7)}`),
      'm',
    );
    assert.equal(m.artifactType, COMPOSE_ARTIFACT);
    // manifest, empty config, layer: all committed; the layer is the very tarball of packageLocation.
    assert.deepEqual(blobs.sort(), [e.descriptor.digest, m.config!.digest, m.layers[0]!.digest].sort());
    const tarballBlob = git('rev-parse', 'main:hello-world/1.0.0/resources/compose.tar.gz').toString().trim();
    const layerBlob = git(
      'rev-parse',
      `main:hello-world/1.0.0/oci/blobs/sha256/${m.layers[0]!.digest.slice(7)}`,
    )
      .toString()
      .trim();
    assert.equal(layerBlob, tarballBlob);
    const listing = execFileSync(
      'sh',
      ['-c', `git --git-dir ${gitDir()} cat-file blob ${tarballBlob} | tar -tz`],
      {
        encoding: 'utf8',
      },
    );
    assert.deepEqual(listing.trim().split('\n'), ['hello/', 'hello/compose.yaml']);
  });

  it('helm-app: the chart folder becomes a Helm OCI chart that helm reads', async (t) => {
    const r = json<{ artifacts: { kind: string; repository: string; tags: string[] }[] }>(
      await margo('app', 'publish', join(repo, 'examples/helm-app'), '-o', 'json'),
    );
    assert.deepEqual(
      r.artifacts.map((a) => [a.kind, a.repository, a.tags]),
      [['helm', 'helm-app/hello', ['1.0.0']]],
    );
    const { entries } = checkLayout('helm-app', '1.0.0');
    const m = parseManifest(
      git('show', `main:helm-app/1.0.0/oci/blobs/sha256/${entries[0]!.descriptor.digest.slice(7)}`),
      'm',
    );
    assert.equal(m.layers[0]!.mediaType, HELM_CHART_LAYER);
    const helm = requireComponent(t, 'helm')?.helm;
    if (!helm) return;
    const tgz = join(dir, 'hello-chart.tgz');
    writeFileSync(tgz, git('show', `main:helm-app/1.0.0/oci/blobs/sha256/${m.layers[0]!.digest.slice(7)}`));
    assert.match(execFileSync(helm, ['show', 'chart', tgz], { encoding: 'utf8' }), /^name: hello$/m);
    assert.match(execFileSync(helm, ['template', 'x', tgz], { encoding: 'utf8' }), /kind: Deployment/);
  });

  it('--registry: pushes to the htpasswd registry, commits manifests and configs only; helm pulls it back', async (t) => {
    tb = requireComponent(t, ['registry', 'helm']);
    if (!tb) return;
    const pwFile = join(dir, 'registry-password');
    writeFileSync(pwFile, `${tb.registryPassword}\n`, { mode: 0o600 });
    const registry = `oci://${tb.registryAuth}/${ns}`;
    const pkg = copyWithVersion('helm-app', '2.0.0');
    const r = json<{ artifacts: { repository: string; tags: string[]; digest: string; registry: string }[] }>(
      await margo(
        'app',
        'publish',
        pkg,
        '--registry',
        registry,
        '--registry-username',
        tb.registryUser!,
        '--registry-password-file',
        pwFile,
        '-o',
        'json',
      ),
    );
    const a = r.artifacts[0]!;
    // The package version, and the chart's own version (what `revision` names).
    assert.deepEqual(
      [a.repository, a.tags, a.registry],
      ['helm-app/hello', ['2.0.0', '1.0.0'], `${tb.registryAuth}/${ns}`],
    );
    const { entries, blobs } = checkLayout('helm-app', '2.0.0');
    assert.deepEqual(
      entries.map((e) => [e.tag, e.registry]),
      [
        ['1.0.0', `${tb.registryAuth}/${ns}`],
        ['2.0.0', `${tb.registryAuth}/${ns}`],
      ],
    );
    const m = parseManifest(git('show', `main:helm-app/2.0.0/oci/blobs/sha256/${a.digest.slice(7)}`), 'm');
    assert.deepEqual(blobs.sort(), [a.digest, m.config!.digest].sort(), 'no layer blob is committed');

    // Stock helm, logged in with its own config, pulls the chart from the external registry.
    const helmEnv = { ...process.env, HELM_REGISTRY_CONFIG: join(dir, 'helm-registry.json'), HOME: dir };
    execFileSync(
      helm(tb),
      [
        'registry',
        'login',
        tb.registryAuth!,
        '--username',
        tb.registryUser!,
        '--password-stdin',
        '--insecure',
      ],
      {
        input: tb.registryPassword,
        env: helmEnv,
      },
    );
    const out = mkdtempSync(join(dir, 'pull-'));
    execFileSync(
      helm(tb),
      [
        'pull',
        `oci://${tb.registryAuth}/${ns}/helm-app/hello`,
        '--version',
        '1.0.0',
        '--plain-http',
        '-d',
        out,
      ],
      { env: helmEnv },
    );
    const pulled = readFileSync(join(out, 'hello-1.0.0.tgz'));
    assert.equal(sha256(pulled), m.layers[0]!.digest);
    // And the client fetches the same manifest by tag.
    const back = await pullManifest(
      {
        host: tb.registryAuth!,
        plainHttp: true,
        timeoutMs: 10_000,
        credentials: { username: tb.registryUser!, password: tb.registryPassword! },
      },
      `${ns}/helm-app/hello`,
      '2.0.0',
    );
    assert.equal(back.digest, a.digest);
  });

  it('--registry with a wrong password: OCI_AUTH_REFUSED, the password shown nowhere, nothing committed', async (t) => {
    tb = requireComponent(t, 'registry');
    if (!tb) return;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const before = git('rev-parse', 'main').toString();
    const pkg = copyWithVersion('hello-world', '3.0.0');
    const cliWrong = new MargoCli(dir, { ...cli.env, MARGO_REGISTRY_PASSWORD: wrong });
    const r = await cliWrong.run(
      'app',
      'publish',
      pkg,
      '--registry',
      `oci://${tb.registryAuth}/${ns}`,
      '--registry-username',
      'margo',
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.err,
      /error OCI_AUTH_REFUSED: registry 127\.0\.0\.1:\d+ refused the credentials of user "margo"/,
    );
    assert.ok(!r.err.includes(wrong) && !r.out.includes(wrong), 'the password leaked into the output');
    assert.equal(git('rev-parse', 'main').toString(), before);
    assert.deepEqual(catalogFiles('hello-world/3.0.0'), []);
  });

  it('--image bundles a local Docker image; the real engine pulls it from the embedded registry', async (t) => {
    tb = requireComponent(t, ['docker', 'image']);
    if (!tb) return;
    const pkg = copyWithVersion('hello-world', '5.0.0');
    const r = json<{ artifacts: { kind: string; repository: string; tags: string[]; component?: string }[] }>(
      await margo('app', 'publish', pkg, '--image', 'busybox:1.36.1', '-o', 'json'),
    );
    assert.deepEqual(
      r.artifacts.map((a) => [a.kind, a.repository, a.tags, a.component]),
      [
        ['compose', 'hello-world/hello', ['5.0.0'], 'hello'],
        ['image', 'hello-world/images/busybox', ['1.36.1'], undefined],
      ],
    );
    const { entries } = checkLayout('hello-world', '5.0.0');
    const img = entries.find((e) => e.repository === 'hello-world/images/busybox')!;
    assert.equal(img.component, undefined);
    const env = { ...cli.env, DOCKER_CONFIG: mkdtempSync(join(dir, 'docker-')) };
    const ref = `127.0.0.1:${port}/hello-world/images/busybox:1.36.1`;
    execFileSync('docker', ['login', `127.0.0.1:${port}`, '-u', 'margo', '--password-stdin'], {
      input: adminToken,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    try {
      execFileSync('docker', ['pull', '-q', ref], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const id = (r: string) =>
        execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', r], { env, encoding: 'utf8' }).trim();
      assert.equal(id(ref), id('busybox:1.36.1'));
    } finally {
      execFileSync('docker', ['rmi', ref], { env, stdio: 'ignore' });
    }
  });

  it('a Compose file naming a path outside its folder: OCI_PACK_PATH_OUTSIDE, nothing committed', async () => {
    const pkg = copyWithVersion('hello-world', '4.0.0');
    const f = join(pkg, 'resources/compose/compose.yaml');
    writeFileSync(
      f,
      readFileSync(f, 'utf8').replace(
        '    restart: unless-stopped',
        '    env_file: ../../secret.env\n    restart: unless-stopped',
      ),
    );
    const before = git('rev-parse', 'main').toString();
    const r = await margo('app', 'publish', pkg);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /error OCI_PACK_PATH_OUTSIDE: .*env_file names "\.\.\/\.\.\/secret\.env"/);
    assert.equal(git('rev-parse', 'main').toString(), before);
  });
});

function helm(t: Testbed): string {
  return t.helm!;
}
