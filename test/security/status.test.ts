// Attacker scenarios against the status a device reports on its `status` branch: unsigned,
// forged (edited on the Git host), signed by another device, signed with a self-made
// certificate, or by a revoked device. The orchestrator side keeps verified files and flags the
// rest with their codes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  RevocationList,
  SIGNATURES_FILE,
  createDeviceKeyAndCsr,
  createRootCA,
  initPki,
  signDeviceCsr,
  signFiles,
  verifySignedFiles,
  writeDeviceCert,
} from '@margo-gitops/trust';
import { BareRepo, tempDir } from './helpers.js';

const BITS = 2048;

test('status files: unsigned, forged, other device, foreign CA and revoked device are flagged; genuine ones kept', async (t) => {
  const root = await tempDir(t, 'margo-sec-status-');
  const pki = await initPki(join(root, 'pki'), { commonName: 'security test root', bits: BITS });
  const mk = (id: string, ca = pki.ca) => {
    const k = createDeviceKeyAndCsr(id, { bits: BITS });
    return { id, keyPem: k.keyPem, certPem: signDeviceCsr(ca, k.csrPem, { expectedDeviceId: id }) };
  };
  const a = mk('press-7');
  const b = mk('press-8');
  const impostor = mk('press-7', createRootCA({ commonName: 'security test root', bits: BITS }));
  await writeDeviceCert(pki.dir, a.id, a.certPem);
  const repo = BareRepo.init(join(root, 'press-7.git'));

  const status = new Map([
    ['capabilities.json', Buffer.from('{"id":"press-7"}')],
    ['deployments/3f2a.json', Buffer.from('{"status":{"state":"installed"}}')],
  ]);
  const write = (files: Map<string, Buffer>, signer: { keyPem: string; certPem: string } | undefined) => {
    const all = new Map(files);
    if (signer) all.set(SIGNATURES_FILE, signFiles(files, signer.keyPem, signer.certPem));
    repo.commit(all, 'status', 'status');
  };
  const check = async () => {
    const files = repo.readTree('status');
    const sigs = files.get(SIGNATURES_FILE);
    files.delete(SIGNATURES_FILE);
    return verifySignedFiles(files, sigs, {
      caCertPem: pki.ca.certPem,
      deviceId: 'press-7',
      revoked: await new RevocationList(pki.dir).serials(),
    });
  };
  const codes = (r: Awaited<ReturnType<typeof check>>) => [...new Set(r.refused.map((x) => x.code))];

  write(status, a);
  let r = await check();
  assert.deepEqual(codes(r), []);
  assert.equal(r.verified.get('deployments/3f2a.json')?.deviceId, 'press-7');

  write(status, undefined);
  assert.deepEqual(codes(await check()), ['TRUST_STATUS_UNSIGNED']);

  // edited on the Git host after the device signed it
  write(status, a);
  const forged = repo.readTree('status');
  forged.set('deployments/3f2a.json', Buffer.from('{"status":{"state":"failed"}}'));
  repo.commit(forged, 'attacker', 'status');
  r = await check();
  assert.deepEqual(
    r.refused.map((x) => [x.path, x.code]),
    [['deployments/3f2a.json', 'TRUST_STATUS_FORGED']],
  );
  assert.deepEqual([...r.verified.keys()], ['capabilities.json']);

  write(status, b);
  assert.deepEqual(codes(await check()), ['TRUST_STATUS_WRONG_SIGNER']);
  write(status, impostor);
  assert.deepEqual(codes(await check()), ['TRUST_STATUS_FORGED']);

  write(status, a);
  await new RevocationList(pki.dir).revokeDevice('press-7');
  assert.deepEqual(codes(await check()), ['TRUST_DEVICE_CERT_REVOKED']);
});
