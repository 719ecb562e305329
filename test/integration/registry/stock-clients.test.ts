/**
 * Stock clients against the embedded registry of a real `margo serve`: `helm registry login` +
 * `helm pull` of a chart packaged by helm and committed as a Helm OCI artifact layout, and
 * `docker login` + `docker pull` of the testbed's real image margo/echo:1, copied byte for byte
 * (manifest, config, layers) from the testbed registry into a package's oci/ folder and pushed to
 * the catalog with git.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import {
  HELM_CHART_LAYER,
  HELM_CONFIG,
  jsonBytes,
  OCI_MANIFEST,
  sha256Digest,
} from '../../../packages/oci/src/index.js';
import { repoRoot } from '../../e2e/cli/harness.js';
import { loadTestbed, requireComponent, testbedProcessEnv } from '../../testbed/env.js';
import { copyImage, descriptor, layoutFiles, pushCatalog, startMargo, type Served } from './helpers.js';

let s: Served | undefined;

before(async () => {
  const tb = loadTestbed();
  s = await startMargo(tb ? testbedProcessEnv(tb) : process.env);
});

after(async () => {
  await s?.close();
});

test('helm registry login + helm pull oci:// of a chart served from the catalog', async (t) => {
  const tb = requireComponent(t, 'helm');
  if (!tb || !s) return;
  const helm = tb.helm!;
  const env = testbedProcessEnv(tb, {
    HELM_REGISTRY_CONFIG: join(s.dir, 'helm-registry.json'),
    HELM_CACHE_HOME: join(s.dir, 'helm-cache'),
    HELM_CONFIG_HOME: join(s.dir, 'helm-config'),
  });
  const out = join(s.dir, 'packaged');
  execFileSync(helm, ['package', join(repoRoot, 'test/fixtures/charts/hello'), '-d', out], { env });
  const chart = readFileSync(join(out, 'hello-0.1.0.tgz'));
  const meta = parse(readFileSync(join(repoRoot, 'test/fixtures/charts/hello/Chart.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  const config = jsonBytes(meta);
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(HELM_CONFIG, config),
    layers: [descriptor(HELM_CHART_LAYER, chart)],
  });
  const pushed = await pushCatalog(
    s,
    layoutFiles('helm-demo/0.1.0', [
      {
        repository: 'helm-demo/hello',
        tag: '0.1.0',
        component: 'hello',
        manifest,
        mediaType: OCI_MANIFEST,
        blobs: [config, chart],
      },
    ]),
    'helm-demo chart artifact',
  );
  assert.ok(pushed.ok, pushed.output);

  const login = spawnSync(
    helm,
    ['registry', 'login', s.host, '--username', 'margo', '--password-stdin', '--plain-http'],
    {
      env,
      input: s.tokens.operator,
      encoding: 'utf8',
    },
  );
  assert.equal(login.status, 0, login.stderr);
  const dest = join(s.dir, 'pulled');
  mkdirSync(dest);
  const pull = spawnSync(
    helm,
    ['pull', `oci://${s.host}/helm-demo/hello`, '--version', '0.1.0', '--plain-http', '-d', dest],
    { env, encoding: 'utf8' },
  );
  assert.equal(pull.status, 0, pull.stderr);
  assert.match(pull.stdout + pull.stderr, new RegExp(`Digest: ${sha256Digest(manifest)}`));
  assert.deepEqual(readdirSync(dest), ['hello-0.1.0.tgz']);
  assert.deepEqual(readFileSync(join(dest, 'hello-0.1.0.tgz')), chart);

  // Unknown version: helm fails, nothing written.
  const missing = spawnSync(
    helm,
    [
      'pull',
      `oci://${s.host}/helm-demo/hello`,
      '--version',
      '9.9.9',
      '--plain-http',
      '-d',
      join(s.dir, 'none'),
    ],
    { env, encoding: 'utf8' },
  );
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /not found/i);
});

test('docker login + docker pull of an image committed to a package oci/ folder', async (t) => {
  const tb = requireComponent(t, ['docker', 'registry', 'image']);
  if (!tb || !s) return;
  const image = await copyImage(tb.registry!, 'margo/echo', '1');
  const app = `echo-${randomBytes(3).toString('hex')}`;
  const pushed = await pushCatalog(
    s,
    layoutFiles(`${app}/1.0.0`, [
      {
        repository: `${app}/images/echo`,
        tag: '1',
        manifest: image.manifest,
        mediaType: image.mediaType,
        blobs: image.blobs,
      },
    ]),
    'bundled image',
  );
  assert.ok(pushed.ok, pushed.output);
  const env = testbedProcessEnv(tb, { DOCKER_CONFIG: join(s.dir, 'docker-config') });
  const ref = `${s.host}/${app}/images/echo:1`;
  const login = spawnSync('docker', ['login', s.host, '--username', 'margo', '--password-stdin'], {
    env,
    input: s.tokens.operator,
    encoding: 'utf8',
  });
  assert.equal(login.status, 0, login.stderr);
  t.after(() => void spawnSync('docker', ['rmi', '-f', ref], { env }));
  const pull = spawnSync('docker', ['pull', ref], { env, encoding: 'utf8' });
  assert.equal(pull.status, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Digest: ${sha256Digest(image.manifest)}`));
  const id = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', ref], {
    env,
    encoding: 'utf8',
  }).trim();
  assert.equal(id, image.configDigest);

  const unknown = spawnSync('docker', ['pull', `${s.host}/${app}/images/echo:2`], { env, encoding: 'utf8' });
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /manifest unknown|not found/i);
});
