// packImage against the testbed's real Docker engine 20.10 (legacy `docker save` format) and
// registry: the converted image is pushed to 127.0.0.1:5000 and pulled back by the real engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { requireComponent, testbedProcessEnv } from '../../../../test/testbed/env.ts';
import { pushBlob, pushManifest } from '../client/index.js';
import { imageNameAndTag, packImage } from './index.js';

test('imageNameAndTag', () => {
  assert.deepEqual(imageNameAndTag('busybox:1.36.1'), { name: 'busybox', tag: '1.36.1' });
  assert.deepEqual(imageNameAndTag('127.0.0.1:5000/margo/echo:1'), { name: 'echo', tag: '1' });
  assert.deepEqual(imageNameAndTag('reg.example:443/a/b'), { name: 'b', tag: 'latest' });
  for (const bad of ['-o', 'x@sha256:00', 'UPPER:1', ''])
    assert.throws(() => imageNameAndTag(bad), /image reference/);
});

test('packImage: docker save -> deterministic OCI image that docker pulls back', async (t) => {
  const tb = requireComponent(t, ['docker', 'registry', 'image']);
  if (!tb) return;
  const env = testbedProcessEnv(tb);
  const ref = tb.image!;
  const a = await packImage(ref, { env });
  const b = await packImage(ref, { env });
  assert.equal(a.manifest.digest, b.manifest.digest);
  assert.equal(a.tag, '1');
  const imageId = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', ref], {
    env,
    encoding: 'utf8',
  }).trim();
  assert.equal(a.config.digest, imageId, 'the config is kept byte for byte (same image id)');

  const target = { host: tb.registry!, plainHttp: true, timeoutMs: 20_000 };
  const name = `margo-test/image-${randomBytes(4).toString('hex')}`;
  await pushBlob(target, name, a.config.bytes);
  for (const l of a.layers) await pushBlob(target, name, l.bytes);
  await pushManifest(target, name, a.tag, a.manifest.bytes, a.manifest.mediaType);
  const pulled = `${tb.registry}/${name}:${a.tag}`;
  try {
    execFileSync('docker', ['pull', '-q', pulled], { env });
    const id = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', pulled], {
      env,
      encoding: 'utf8',
    }).trim();
    assert.equal(id, imageId);
  } finally {
    execFileSync('docker', ['rmi', pulled], { env, stdio: 'ignore' });
  }
});

test('packImage: an image the engine does not have is OCI_PACK_INVALID', async (t) => {
  const tb = requireComponent(t, 'docker');
  if (!tb) return;
  await assert.rejects(
    packImage('margo-no-such-image:0', { env: testbedProcessEnv(tb) }),
    (e: { code?: string }) => e.code === 'OCI_PACK_INVALID',
  );
});
