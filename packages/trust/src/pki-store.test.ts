import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRootCA, createSigningKey } from './ca.js';
import {
  createDeviceKeyAndCsr,
  describeCertificate,
  signDeviceCsr,
  verifyDeviceCert,
} from './device-identity.js';
import { createSignedManifest, verifyManifest } from './manifest.js';
import {
  caFingerprint,
  initPki,
  loadPki,
  readDeviceCert,
  rotateSigningKey,
  writeDeviceCert,
  writePki,
} from './pki-store.js';
import { RevocationList } from './revocation.js';

const BITS = 2048;

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('PKI folder: owner-only modes, no overwrite, insecure keys refused, rotation, device certs, revocation', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'margo-pki-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'pki');
  const pki = await initPki(dir, { commonName: 'test root', bits: BITS });
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'signing.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'ca.crt'))).mode & 0o777, 0o644);
  assert.match(await caFingerprint(dir), /^[0-9a-f]{64}$/);

  const loaded = await loadPki(dir);
  assert.equal(loaded.ca.certPem, pki.ca.certPem);
  assert.equal(loaded.signing.keyPem, pki.signing.keyPem);

  // refuses to overwrite
  const ca2 = createRootCA({ commonName: 'x', bits: BITS });
  assert.equal(
    await codeOfAsync(() => writePki(dir, { ca: ca2, signing: createSigningKey(ca2, { bits: BITS }) })),
    'TRUST_PKI_EXISTS',
  );
  assert.equal((await loadPki(dir)).ca.certPem, pki.ca.certPem);

  // a group-readable key is refused
  await chmod(join(dir, 'signing.key'), 0o640);
  assert.equal(await codeOfAsync(() => loadPki(dir)), 'TRUST_PKI_INSECURE_PERMISSIONS');
  await chmod(join(dir, 'signing.key'), 0o600);
  assert.equal(await codeOfAsync(() => loadPki(join(root, 'nothing'))), 'TRUST_PKI_MISSING');

  // rotation: old manifests still verify (same CA), new key differs, old cert archived
  const files = new Map([['a.yaml', Buffer.from('a')]]);
  const before = createSignedManifest(
    { deviceId: 'd1', files, version: 1n, expiresAt: new Date(Date.now() + 86_400_000) },
    pki.signing,
  );
  const rotated = await rotateSigningKey(pki, { bits: BITS });
  assert.notEqual(rotated.signing.certPem, pki.signing.certPem);
  assert.equal((await loadPki(dir)).signing.certPem, rotated.signing.certPem);
  assert.equal((await stat(join(dir, 'signing.key'))).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(join(dir, 'retired')), [
    `signing-${describeCertificate(pki.signing.certPem).serial}.crt`,
  ]);
  const after = createSignedManifest(
    { deviceId: 'd1', files, version: 2n, expiresAt: new Date(Date.now() + 86_400_000) },
    rotated.signing,
  );
  verifyManifest(before, { caCertPem: pki.ca.certPem, deviceId: 'd1', files });
  verifyManifest(after, { caCertPem: pki.ca.certPem, deviceId: 'd1', files, lastAppliedVersion: 1n });

  // device certificates: exclusive; revocation persisted and effective
  const dev = createDeviceKeyAndCsr('d1', { bits: BITS });
  const cert = signDeviceCsr(pki.ca, dev.csrPem, { expectedDeviceId: 'd1' });
  await writeDeviceCert(dir, 'd1', cert);
  assert.equal(await codeOfAsync(() => writeDeviceCert(dir, 'd1', cert)), 'TRUST_DEVICE_ALREADY_ENROLLED');
  assert.equal(await readDeviceCert(dir, 'd1'), cert);
  assert.equal(await readDeviceCert(dir, 'd2'), undefined);
  const rl = new RevocationList(dir);
  verifyDeviceCert(pki.ca.certPem, cert, { revoked: await rl.serials() });
  const entry = await rl.revokeDevice('d1', 'stolen');
  assert.equal(entry.deviceId, 'd1');
  await rl.revokeDevice('d1'); // idempotent
  assert.equal((await new RevocationList(dir).list()).length, 1);
  assert.equal((await stat(join(dir, 'revoked.json'))).mode & 0o777, 0o600);
  const revoked = await rl.serials();
  assert.throws(() => verifyDeviceCert(pki.ca.certPem, cert, { revoked }), {
    code: 'TRUST_DEVICE_CERT_REVOKED',
  } as never);
  assert.equal(await new RevocationList(dir).isRevoked(entry.serial.toUpperCase()), true);
  assert.equal(await codeOfAsync(() => rl.revokeDevice('ghost')), 'TRUST_PKI_MISSING');
});
