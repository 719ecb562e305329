import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalogReferences } from './catalog-files.js';

test('catalog files: the references of a desired state are its /catalog/ URLs (and the signatures beside them)', () => {
  const refs = catalogReferences(
    [
      'packageLocation: http://127.0.0.1:8470/catalog/hello-world/1.0.0/resources/compose.tar.gz#sha256=ab',
      'keyLocation: "https://m.example/catalog/hello-world/1.0.0/key%20one.asc"',
      'other: https://registry.example/v2/x',
    ].join('\n'),
  );
  assert.deepEqual([...refs].sort(), [
    'hello-world/1.0.0/key one.asc',
    'hello-world/1.0.0/key one.asc.asc',
    'hello-world/1.0.0/key one.asc.sig',
    'hello-world/1.0.0/resources/compose.tar.gz',
    'hello-world/1.0.0/resources/compose.tar.gz.asc',
    'hello-world/1.0.0/resources/compose.tar.gz.sig',
  ]);
});
