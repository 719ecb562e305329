import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { gunzipSync } from 'node:zlib';
import { isMargoError } from '@margo-gitops/spec';
import { composeArtifact } from '../layout.js';
import { COMPOSE_ARTIFACT, COMPOSE_LAYER, HELM_CHART_LAYER, HELM_CONFIG } from '../media-types.js';
import { composePathsOutside, packCompose, packHelmChart, tarGz } from './index.js';

const repo = new URL('../../../../', import.meta.url).pathname;

function composeDir(extra: (d: string) => void = () => {}): string {
  const d = mkdtempSync(join(tmpdir(), 'pack-'));
  writeFileSync(
    join(d, 'compose.yaml'),
    'services:\n  web:\n    image: busybox\n    env_file: ./conf/web.env\n',
  );
  mkdirSync(join(d, 'conf'));
  writeFileSync(join(d, 'conf', 'web.env'), 'A=1\n');
  writeFileSync(join(d, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(d, 'run.sh'), 0o755);
  extra(d);
  return d;
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isMargoError(e) ? e.code : String(e)),
  );
}

test('tarGz: entry order, and nothing else, decides nothing: same entries -> same bytes', () => {
  const a = [
    { path: 'x', type: 'dir' as const },
    { path: 'x/b', type: 'file' as const, data: Buffer.from('b') },
    { path: 'x/a', type: 'file' as const, data: Buffer.from('a'), executable: true },
  ];
  assert.deepEqual(tarGz(a), tarGz([...a].reverse()));
  const gz = tarGz(a);
  assert.deepEqual([...gz.subarray(4, 8)], [0, 0, 0, 0], 'gzip mtime 0');
  assert.equal(gz[9], 0xff, 'gzip OS unknown');
  assert.throws(() => tarGz([{ path: '../x', type: 'dir' }]), /relative archive path/);
  assert.throws(() => tarGz([{ path: '/x', type: 'dir' }]), /relative archive path/);
});

test('packCompose is deterministic: other mtimes, umask and a second run give the same digest', async () => {
  const d1 = composeDir();
  const d2 = mkdtempSync(join(tmpdir(), 'pack-'));
  cpSync(d1, d2, { recursive: true });
  utimesSync(join(d2, 'compose.yaml'), new Date('2030-01-01'), new Date('2030-01-01'));
  utimesSync(join(d2, 'conf'), new Date('2001-01-01'), new Date('2001-01-01'));
  chmodSync(join(d2, 'conf', 'web.env'), 0o664);
  const p1 = await packCompose(d1, 'Web App', '1.0.0');
  const p1b = await packCompose(d1, 'Web App', '1.0.0');
  const p2 = await packCompose(d2, 'Web App', '1.0.0');
  assert.equal(p1.manifest.digest, p1b.manifest.digest);
  assert.equal(p1.manifest.digest, p2.manifest.digest);
  assert.deepEqual(p1.layers[0]!.bytes, p2.layers[0]!.bytes);
  // The manifest is exactly what the registry and orchestrator compute from the layer.
  const layer = p1.layers[0]!;
  assert.deepEqual(p1.manifest.bytes, composeArtifact(layer.digest, layer.size, '1.0.0').bytes);
  const m = JSON.parse(p1.manifest.bytes.toString()) as Record<string, any>;
  assert.equal(m.artifactType, COMPOSE_ARTIFACT);
  assert.equal(m.layers[0].mediaType, COMPOSE_LAYER);
  // margo/specification: the layer names its component type and version.
  assert.deepEqual(m.layers[0].annotations, {
    'org.margo.component.type': 'compose',
    'org.margo.component.version': '1.0.0',
  });
  assert.deepEqual(p1.warnings, []);

  // What a stock tar sees: one top-level folder named after the component, root-owned, epoch, modes normalised.
  const f = join(d1, '..', `${p1.manifest.digest.slice(7, 19)}.tgz`);
  writeFileSync(f, layer.bytes);
  const listing = execFileSync('tar', ['-tvzf', f, '--numeric-owner'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.deepEqual(
    listing.map((l) => l.split(/\s+/).filter((_, i) => i !== 2)), // drop the size column
    [
      ['drwxr-xr-x', '0/0', '1970-01-01', '00:00', 'web-app/'],
      ['-rw-r--r--', '0/0', '1970-01-01', '00:00', 'web-app/compose.yaml'],
      ['drwxr-xr-x', '0/0', '1970-01-01', '00:00', 'web-app/conf/'],
      ['-rw-r--r--', '0/0', '1970-01-01', '00:00', 'web-app/conf/web.env'],
      ['-rwxr-xr-x', '0/0', '1970-01-01', '00:00', 'web-app/run.sh'],
    ],
  );
  assert.ok(gunzipSync(layer.bytes).length % 512 === 0);
});

test('packCompose refuses paths and links that leave the folder, and a folder without a compose file', async () => {
  const outEnv = composeDir((d) =>
    writeFileSync(
      join(d, 'compose.yaml'),
      'services:\n  web:\n    image: busybox\n    env_file: ../secret.env\n',
    ),
  );
  assert.equal(await code(packCompose(outEnv, 'web', '1.0.0')), 'OCI_PACK_PATH_OUTSIDE');
  const outLink = composeDir((d) => symlinkSync('../../etc/passwd', join(d, 'conf', 'p')));
  assert.equal(await code(packCompose(outLink, 'web', '1.0.0')), 'OCI_PACK_PATH_OUTSIDE');
  const absLink = composeDir((d) => symlinkSync('/etc/passwd', join(d, 'p')));
  assert.equal(await code(packCompose(absLink, 'web', '1.0.0')), 'OCI_PACK_PATH_OUTSIDE');
  const inLink = composeDir((d) => symlinkSync('../run.sh', join(d, 'conf', 'r')));
  assert.equal(await code(packCompose(inLink, 'web', '1.0.0')), 'resolved');
  const none = mkdtempSync(join(tmpdir(), 'pack-'));
  writeFileSync(join(none, 'README'), 'x');
  assert.equal(await code(packCompose(none, 'web', '1.0.0')), 'OCI_PACK_INVALID');
  const legacyName = mkdtempSync(join(tmpdir(), 'pack-'));
  writeFileSync(join(legacyName, 'docker-compose.yml'), 'services: {}\n');
  assert.match((await packCompose(legacyName, 'web', '1.0.0')).warnings[0]!, /compose\.yaml/);
});

test('composePathsOutside covers env_file, build, bind mounts, configs, include, extends', () => {
  const doc = {
    include: ['../other.yaml'],
    services: {
      a: {
        build: '../ctx',
        volumes: ['./data:/d', '../up:/u', 'named:/n', { type: 'bind', source: '../x', target: '/x' }],
      },
      b: {
        build: { context: 'https://example.invalid/r.git' },
        extends: { file: '../base.yaml', service: 'x' },
      },
      c: { env_file: [{ path: '${HOME}/e' }, '/abs/e'] },
    },
    configs: { cfg: { file: '../cfg' } },
  };
  assert.deepEqual(
    composePathsOutside(doc).map((o) => o.field),
    [
      'include',
      'services.a.build',
      'services.a.volumes',
      'services.a.volumes',
      'services.b.extends.file',
      'configs.cfg.file',
    ],
  );
});

test('packHelmChart: deterministic Helm OCI artifact that helm itself reads', async (t) => {
  const src = join(repo, 'test/fixtures/charts/hello');
  const a = await packHelmChart(src);
  const copy = mkdtempSync(join(tmpdir(), 'chart-'));
  cpSync(src, copy, { recursive: true });
  utimesSync(join(copy, 'Chart.yaml'), new Date('2030-01-01'), new Date('2030-01-01'));
  const b = await packHelmChart(copy);
  assert.equal(a.manifest.digest, b.manifest.digest);
  const m = JSON.parse(a.manifest.bytes.toString()) as Record<string, any>;
  assert.equal(m.config.mediaType, HELM_CONFIG);
  assert.equal(m.layers[0].mediaType, HELM_CHART_LAYER);
  const cfg = JSON.parse(a.config.bytes.toString()) as Record<string, unknown>;
  assert.equal(cfg.name, a.chart.name);
  // helm's own field order (chart.Metadata): name, version before apiVersion.
  assert.deepEqual(
    Object.keys(cfg).filter((k) => ['name', 'version', 'apiVersion'].includes(k)),
    ['name', 'version', 'apiVersion'],
  );

  const helm =
    process.env.MARGO_TB_HELM ?? (await import('../../../../test/testbed/env.ts')).loadTestbed()?.helm;
  if (!helm) return t.skip('helm (testbed) not available: the tgz is not checked with helm here');
  const f = join(copy, '..', `${a.chart.name}-${a.chart.version}.tgz`);
  writeFileSync(f, a.layers[0]!.bytes);
  const shown = execFileSync(helm, ['show', 'chart', f], { encoding: 'utf8' });
  assert.match(shown, new RegExp(`name: ${a.chart.name}`));
  execFileSync(helm, ['lint', f], { encoding: 'utf8' });
  assert.match(execFileSync(helm, ['template', 'x', f], { encoding: 'utf8' }), /kind: Deployment/);
});

test('packHelmChart refuses a folder without a valid Chart.yaml', async () => {
  const d = mkdtempSync(join(tmpdir(), 'chart-'));
  assert.equal(await code(packHelmChart(d)), 'OCI_PACK_INVALID');
  writeFileSync(join(d, 'Chart.yaml'), 'apiVersion: v2\nname: x\nversion: one\n');
  assert.equal(await code(packHelmChart(d)), 'OCI_PACK_INVALID');
  writeFileSync(join(d, 'Chart.yaml'), 'apiVersion: v2\nname: x\nversion: 1.2.3\n');
  assert.equal(await code(packHelmChart(d)), 'resolved');
});
