import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acknowledgement } from './rest-status-sink.js';

const status = (id: string, v: string | undefined) =>
  JSON.stringify(
    { deploymentId: id, ...(v ? { adoptedManifestVersion: 0 } : {}), status: { state: 'installed' } },
    null,
    2,
  ).replace('"adoptedManifestVersion": 0', `"adoptedManifestVersion": ${v}`) + '\n';

test('a version no status carries is acknowledged by re-posting one deployment status, digit for digit', () => {
  const view = new Map([
    ['capabilities.json', '{}'],
    ['deployments/b.json', status('b', '7')],
    ['deployments/a.json', status('a', '7')],
  ]);
  const big = 18446744073709551615n;
  const ack = acknowledgement(view, big);
  assert.deepEqual(Object.keys(ack ?? {}), ['deployments/a.json']);
  assert.match(ack!['deployments/a.json']!, /"adoptedManifestVersion": 18446744073709551615,/);
  // Everything else of the document stays as it was.
  assert.equal(
    ack!['deployments/a.json']!.replace('18446744073709551615', '7'),
    view.get('deployments/a.json'),
  );
});

test('nothing to acknowledge when a status carries the version (or a later one), or there is none', () => {
  const view = new Map([
    ['deployments/a.json', status('a', '7')],
    ['deployments/b.json', status('b', '9')],
  ]);
  assert.equal(acknowledgement(view, 9n), null);
  assert.equal(acknowledgement(view, 8n), null);
  assert.equal(acknowledgement(new Map([['capabilities.json', '{}']]), 3n), null);
  // A status without the field cannot carry it (the API would refuse it anyway).
  assert.equal(acknowledgement(new Map([['deployments/a.json', status('a', undefined)]]), 3n), null);
});
