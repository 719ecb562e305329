import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isMargoError } from '@margo-gitops/spec';
import { readAppMeta } from '../../app-package.js';
import { checkComposeTarball, planArtifacts } from './publish-oci.js';

const examples = new URL('../../../../../examples/', import.meta.url).pathname;

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isMargoError(e) ? e.code : String(e)),
  );
}

describe('publish: OCI planning', () => {
  it('multi-component: two charts and one Compose archive, same digests on a second run', async () => {
    const dir = join(examples, 'multi-component');
    const meta = await readAppMeta(dir);
    const a = await planArtifacts(dir, meta, 'multi-component');
    assert.deepEqual(
      a.artifacts.map((x) => [x.kind, x.repository, x.tags]),
      [
        ['helm', 'multi-component/backend', ['1.0.0']],
        ['helm', 'multi-component/frontend', ['1.0.0']],
        ['compose', 'multi-component/web-and-api', ['1.0.0']],
      ],
    );
    assert.deepEqual([...a.tarballs.keys()], ['resources/compose.tar.gz']);
    const b = await planArtifacts(dir, meta, 'multi-component');
    assert.deepEqual(
      b.artifacts.map((x) => x.packed.manifest.digest),
      a.artifacts.map((x) => x.packed.manifest.digest),
    );
  });

  it('a Helm revision that is neither the chart version nor the package version is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pub-'));
    cpSync(join(examples, 'helm-app'), dir, { recursive: true });
    const f = join(dir, 'margo.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace(/revision: .*/, 'revision: 7.7.7'));
    assert.equal(await code(planArtifacts(dir, await readAppMeta(dir), 'x')), 'OCI_PACK_INVALID');
    writeFileSync(f, readFileSync(f, 'utf8').replace(/repository: .*/, 'repository: ../elsewhere'));
    assert.equal(await code(planArtifacts(dir, await readAppMeta(dir), 'x')), 'OCI_PACK_PATH_OUTSIDE');
  });

  it('a tarball packed by hand is checked: absolute entries and links out are refused', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pub-'));
    mkdirSync(join(d, 'app'));
    writeFileSync(join(d, 'app', 'compose.yaml'), 'services: {}\n');
    execFileSync('tar', ['-czf', join(d, 'ok.tgz'), '-C', d, 'app']);
    assert.equal(await code(checkComposeTarball(join(d, 'ok.tgz'), 'ok.tgz')), 'resolved');
    execFileSync('tar', ['-czPf', join(d, 'abs.tgz'), join(d, 'app', 'compose.yaml')]);
    assert.equal(await code(checkComposeTarball(join(d, 'abs.tgz'), 'abs.tgz')), 'OCI_PACK_PATH_OUTSIDE');
    symlinkSync('/etc/passwd', join(d, 'app', 'p'));
    execFileSync('tar', ['-czf', join(d, 'link.tgz'), '-C', d, 'app']);
    assert.equal(await code(checkComposeTarball(join(d, 'link.tgz'), 'link.tgz')), 'OCI_PACK_PATH_OUTSIDE');
    writeFileSync(join(d, 'junk.tgz'), 'not a tarball');
    assert.notEqual(await code(checkComposeTarball(join(d, 'junk.tgz'), 'junk.tgz')), 'resolved');
  });
});
