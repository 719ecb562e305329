// bench/rollout's wire client (bench/rollout/git-wire.ts) against stock git: kept under test/ so
// scripts/run-tests.mjs runs it with the other tests (it walks packages/ and test/).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commitObjects, packOf, parsePack } from '../../bench/rollout/git-wire.js';

const git = (cwd: string, args: string[], input?: Buffer): string =>
  execFileSync('git', args, { cwd, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();

test('parsePack reads a pack stock git deltified (OFS and REF deltas) to the same objects', () => {
  const dir = mkdtempSync(join(tmpdir(), 'git-wire-'));
  try {
    git(dir, ['init', '-q', '-b', 'main']);
    const big = Array.from({ length: 200 }, (_, i) => `line ${i} of a deployment document\n`).join('');
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(dir, 'web.yaml'), `${big}version: ${i}\n`);
      git(dir, ['add', '.']);
      git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', `v${i}`]);
    }
    const oids = git(dir, ['rev-list', '--objects', 'main'])
      .split('\n')
      .map((l) => l.split(' ')[0]!);
    let deltas = 0;
    for (const flags of [[], ['--no-reuse-delta']]) {
      for (const delta of ['--delta-base-offset', '']) {
        const pack = execFileSync(
          'git',
          ['pack-objects', '--stdout', '-q', '--window=10', ...flags, ...(delta ? [delta] : [])],
          { cwd: dir, input: oids.join('\n') + '\n' },
        );
        // how many entries of this pack are deltas (verify-pack lists their base)
        writeFileSync(join(dir, 'p.pack'), pack);
        git(dir, ['index-pack', 'p.pack']);
        deltas += git(dir, ['verify-pack', '-v', 'p.idx'])
          .split('\n')
          .filter((l) => /^[0-9a-f]{40} \w+ +\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l)).length;
        const objects = parsePack(pack);
        assert.equal(objects.size, oids.length);
        for (const oid of oids) {
          const o = objects.get(oid);
          assert.ok(o, `object ${oid} (${delta || 'ref deltas'})`);
          assert.equal(
            o.content.toString('latin1'),
            execFileSync('git', ['cat-file', o.type, oid], { cwd: dir }).toString('latin1'),
          );
        }
      }
    }
    assert.ok(deltas > 0, 'the packs held deltas');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('commitObjects + packOf: stock git accepts the pack and finds the commit and tree it names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'git-wire-'));
  try {
    git(dir, ['init', '-q', '--bare']);
    const files = new Map([
      ['observed.json', Buffer.from('{}\n')],
      ['capabilities.json', Buffer.from('{"a":1}\n')],
      ['deployments/b.json', Buffer.from('b\n')],
      ['deployments/a.json', Buffer.from('a\n')],
      ['deployments-x.json', Buffer.from('sorted after deployments/\n')],
    ]);
    const c = commitObjects(files, null, 'dev-1', 1700000000, 'status\n');
    git(dir, ['unpack-objects', '-q', '--strict'], packOf(c.objects));
    git(dir, ['update-ref', 'refs/heads/status', c.oid]);
    git(dir, ['fsck', '--strict', '--no-dangling']);
    assert.deepEqual(git(dir, ['ls-tree', '-r', '--name-only', 'status']).split('\n'), [
      'capabilities.json',
      'deployments-x.json',
      'deployments/a.json',
      'deployments/b.json',
      'observed.json',
    ]);
    assert.equal(git(dir, ['show', 'status:deployments/b.json']), 'b');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
