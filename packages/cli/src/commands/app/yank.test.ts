import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import { yankRecord } from './yank.js';

test('app yank: the record is YAML the Git server accepts (kind Yank, the reason kept verbatim)', () => {
  const reason = 'CVE-2026-0001: "bad" image # not a comment';
  assert.deepEqual(YAML.parse(yankRecord(reason)), {
    apiVersion: 'catalog.margo-gitops.io/v1alpha1',
    kind: 'Yank',
    reason,
  });
});
