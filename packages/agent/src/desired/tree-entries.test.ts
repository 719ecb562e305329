import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMargoError } from '@margo-gitops/spec';
import { checkTreeEntries } from './tree-entries.js';

const oid = 'a'.repeat(40);

test('tree entries: plain files pass; symlinks and gitlinks refuse the whole tree, named', () => {
  checkTreeEntries(
    new Map([
      ['deployments/web.yaml', { oid, mode: '100644' }],
      ['tools/run.sh', { oid, mode: '100755' }],
    ]),
  );
  for (const [mode, kind] of [
    ['120000', 'symlink'],
    ['160000', 'gitlink'],
    ['100664', 'mode'],
  ] as const) {
    assert.throws(
      () =>
        checkTreeEntries(
          new Map([
            ['deployments/web.yaml', { oid, mode: '100644' }],
            ['deployments/evil.yaml', { oid, mode }],
          ]),
        ),
      (e: unknown) =>
        isMargoError(e) &&
        e.code === 'TRUST_TREE_ENTRY_INVALID' &&
        e.message.includes(`deployments/evil.yaml (${kind}`) &&
        e.message.includes(mode) &&
        JSON.stringify(e.data) === JSON.stringify({ entries: [{ path: 'deployments/evil.yaml', mode }] }),
      mode,
    );
  }
});
