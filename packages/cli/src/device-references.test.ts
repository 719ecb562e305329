import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ociReferences } from './device-references.js';
import { deviceMayRead } from './registry-route.js';

test('ociReferences: host (lower-cased) and repository of each oci:// reference, tag or digest cut off', () => {
  const refs = ociReferences(
    [
      'repository: oci://Margo.Example:8470/hello-world/hello',
      "repository: 'oci://127.0.0.1:8470/helm-app/hello:1.0.0'",
      'image: oci://r.example/a/b@sha256:0123',
      'packageLocation: http://x/catalog/a/1/c.tar.gz',
    ].join('\n'),
  );
  assert.deepEqual(
    [...refs].sort(),
    ['127.0.0.1:8470/helm-app/hello', 'margo.example:8470/hello-world/hello', 'r.example/a/b'].sort(),
  );
});

test('deviceMayRead: referenced repositories on this host, and the bundled images of their applications', () => {
  const refs = new Set(['127.0.0.1:8470/hello-world/hello', 'other.example/helm-app/hello']);
  assert.equal(deviceMayRead(refs, '127.0.0.1:8470', 'hello-world/hello'), true);
  assert.equal(deviceMayRead(refs, '127.0.0.1:8470', 'hello-world/images/echo'), true);
  assert.equal(deviceMayRead(refs, '127.0.0.1:8470', 'hello-world/other'), false);
  assert.equal(deviceMayRead(refs, '127.0.0.1:8470', 'helm-app/hello'), false);
  assert.equal(deviceMayRead(refs, '127.0.0.1:8470', 'helm-app/images/x'), false);
  assert.equal(deviceMayRead(refs, '127.0.0.1:9999', 'hello-world/hello'), false);
});
