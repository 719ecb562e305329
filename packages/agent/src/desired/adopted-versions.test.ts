import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdoptedVersions } from './adopted-versions.js';

const report = (commit: string, adoptedManifestVersion?: string) => ({
  deploymentId: 'd',
  name: 'n',
  deviceId: 'dev',
  components: [],
  commit,
  ...(adoptedManifestVersion ? { adoptedManifestVersion } : {}),
});

test('a report carries the manifest version of its own commit, exactly', () => {
  const v = new AdoptedVersions();
  v.remember('c1', '18446744073709551615');
  v.remember('c2', '7');
  assert.equal(v.forReport('c1', undefined), '18446744073709551615');
  assert.equal(v.forReport('c2', report('c1', '18446744073709551615')), '7');
  // A commit not verified here (an earlier run): the version the report had for that same commit.
  assert.equal(v.forReport('c0', report('c0', '3')), '3');
  assert.equal(v.forReport('c0', report('c1', '3')), undefined);
  const text = '{\n  "deploymentId": "d",\n  "adoptedManifestVersion": 18446744073709551614,\n  "x": 1\n}';
  assert.equal(v.fromStatusFile(text, 'c9'), '18446744073709551614');
  assert.equal(v.forReport('c9', undefined), '18446744073709551614');
  assert.equal(v.fromStatusFile('{"deploymentId":"d"}', 'c8'), undefined);
  for (let i = 0; i < 300; i++) v.remember(`x${i}`, String(i));
  assert.equal(v.forReport('c1', undefined), undefined, 'bounded');
  assert.equal(v.forReport('x299', undefined), '299');
});
