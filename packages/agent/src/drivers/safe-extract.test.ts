import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkEntries, insidePath, safeExtract, type TarEntryInfo } from './safe-extract.js';
import { artifactReference, pickLayer } from './fetch-artifact.js';

const f = (path: string, size = 1): TarEntryInfo => ({ path, type: 'File', size });
const l = (path: string, linkpath: string, type = 'SymbolicLink'): TarEntryInfo => ({
  path,
  type,
  linkpath,
  size: 0,
});

test('entries outside the folder, links out and device files are refused', () => {
  assert.equal(insidePath('./a/b/../c'), 'a/c');
  assert.equal(insidePath('a/../../b'), null);
  assert.equal(insidePath('/etc/passwd'), null);
  assert.equal(insidePath('C:\\x'), null);
  assert.equal(
    checkEntries([f('compose.yaml'), f('conf/app.env'), l('conf/link', '../compose.yaml')], 100),
    null,
  );
  assert.match(checkEntries([f('../escape')], 100)!, /outside/);
  assert.match(checkEntries([f('/abs')], 100)!, /outside/);
  assert.match(checkEntries([l('x', '../../etc')], 100)!, /points outside/);
  assert.match(checkEntries([l('x', '/etc/passwd')], 100)!, /points outside/);
  assert.match(checkEntries([l('h', '../x', 'Link')], 100)!, /hard link/);
  // `s -> .` is inside, but `s/x -> ..` would really resolve to the parent: paths through links are refused.
  assert.match(checkEntries([l('s', '.'), l('s/x', '..')], 100)!, /goes through the link/);
  assert.match(checkEntries([l('s', 'a'), f('s')], 100)!, /replaces a link/);
  assert.match(checkEntries([{ path: 'dev', type: 'CharacterDevice', size: 0 }], 100)!, /CharacterDevice/);
  assert.match(checkEntries([f('a', 60), f('b', 60)], 100)!, /unpacks to more than 100/);
});

test('a real archive with ../ is refused whole: nothing extracted, the previous folder kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'safe-extract-'));
  try {
    const tar = await import('tar');
    // node-tar writes `..` entries as given when asked to (preservePaths), like a hostile packer.
    writeFileSync(join(dir, 'compose.yaml'), 'services: {}\n');
    mkdtempSync(join(dir, 'x'));
    const archive = join(dir, 'bad.tar.gz');
    await tar.c({ file: archive, gzip: true, cwd: join(dir, 'x'), preservePaths: true }, ['../compose.yaml']);
    const dest = join(dir, 'out');
    mkdirSync(dest);
    writeFileSync(join(dest, 'previous'), 'x');
    await assert.rejects(safeExtract(archive, dest, { maxUnpackedBytes: 1 << 20, what: 'pkg' }), {
      code: 'AGENT_ARTIFACT_PATH_OUTSIDE',
    });
    assert.equal(readFileSync(join(dest, 'previous'), 'utf8'), 'x');
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['bad.tar.gz', 'compose.yaml', 'out', readdirSync(dir).find((e) => e.startsWith('x'))!].sort(),
    );
    const good = join(dir, 'good.tar.gz');
    await tar.c({ file: good, gzip: true, cwd: dir }, ['compose.yaml']);
    await safeExtract(good, dest, { maxUnpackedBytes: 1 << 20, what: 'pkg' });
    assert.equal(readFileSync(join(dest, 'compose.yaml'), 'utf8'), 'services: {}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('artifact references and layers', () => {
  const d = `sha256:${'b'.repeat(64)}`;
  assert.equal(artifactReference('1.2.3+build.5'), '1.2.3_build.5');
  assert.equal(artifactReference('1.2.3', d), d);
  assert.equal(artifactReference(d), d);
  assert.throws(() => artifactReference('1.0.0', 'sha256:short'), { code: 'AGENT_INVALID_DOCUMENT' });
  assert.throws(() => artifactReference('../x'), { code: 'AGENT_INVALID_DOCUMENT' });
  const chart = { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: d, size: 1 };
  const prov = { mediaType: 'application/vnd.cncf.helm.chart.provenance.v1.prov', digest: d, size: 1 };
  assert.equal(pickLayer([chart, prov], 'helm', 'x'), chart);
  assert.throws(() => pickLayer([prov], 'helm', 'x'), { code: 'AGENT_PACKAGE_INVALID' });
  const compose = { mediaType: 'application/vnd.org.margo.component.compose.tar+gzip', digest: d, size: 1 };
  assert.equal(pickLayer([compose], 'compose', 'x'), compose);
  assert.throws(() => pickLayer([chart, prov], 'compose', 'x'), { code: 'AGENT_PACKAGE_INVALID' });
});
