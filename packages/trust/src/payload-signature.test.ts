import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { createRootCA, createSigningKey } from './ca.js';
import { createDeviceKeyAndCsr, describeCertificate, signDeviceCsr } from './device-identity.js';
import {
  signFiles,
  signPayload,
  verifyPayload,
  verifySignedFiles,
  type VerifyPayloadOptions,
} from './payload-signature.js';

const BITS = 2048;
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const otherCa = createRootCA({ commonName: 'attacker root', validityDays: 30, bits: BITS });
const a = createDeviceKeyAndCsr('press-7', { bits: BITS });
const b = createDeviceKeyAndCsr('press-8', { bits: BITS });
const certA = signDeviceCsr(ca, a.csrPem, { expectedDeviceId: 'press-7' });
const certB = signDeviceCsr(ca, b.csrPem, { expectedDeviceId: 'press-8' });
const certAbyOtherCa = signDeviceCsr(otherCa, a.csrPem, { expectedDeviceId: 'press-7' });
const signer = createSigningKey(ca, { bits: BITS });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

const body = Buffer.from('{"state":"installed"}');

test('signPayload produces <cert>;<signature> that verifies both ways', () => {
  const h = signPayload(body, a.keyPem, certA);
  assert.match(h, /^[A-Za-z0-9+/]+=*;[A-Za-z0-9+/]+=*$/);
  assert.equal(verifyPayload(body, h, { caCertPem: ca.certPem, deviceId: 'press-7' }).deviceId, 'press-7');
  assert.equal(verifyPayload(body, h, { expectedCertPem: certA }).serial, describeCertificate(certA).serial);
  // Margo's bare-public-key form is accepted when the expected certificate is known
  const spki = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const bare = `${spki.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')};${sign('sha256', body, spki.privateKey).toString('base64')}`;
  assert.equal(
    codeOf(() => verifyPayload(body, bare, { expectedCertPem: certA })),
    'TRUST_STATUS_WRONG_SIGNER',
  );
});

test('verifyPayload refuses unsigned, other device, forged, revoked', () => {
  const good = signPayload(body, a.keyPem, certA);
  const [certPart, sigPart] = good.split(';');
  const byB = signPayload(body, b.keyPem, certB);
  const foreign = signPayload(body, a.keyPem, certAbyOtherCa);
  const stolenCertOwnKey = `${certPart};${signPayload(body, b.keyPem, certB).split(';')[1]}`;
  const bySigner = signPayload(body, signer.keyPem, signer.certPem);
  const ca7: VerifyPayloadOptions = { caCertPem: ca.certPem, deviceId: 'press-7' };
  const cases: {
    name: string;
    bytes?: Buffer;
    header: string | undefined;
    opts: VerifyPayloadOptions;
    code: string;
  }[] = [
    { name: 'no header', header: undefined, opts: ca7, code: 'TRUST_STATUS_UNSIGNED' },
    { name: 'empty header', header: ' ', opts: ca7, code: 'TRUST_STATUS_UNSIGNED' },
    { name: 'one part', header: certPart!, opts: ca7, code: 'TRUST_STATUS_MALFORMED' },
    { name: 'not a key', header: `AAAA;${sigPart}`, opts: ca7, code: 'TRUST_STATUS_MALFORMED' },
    {
      name: 'body changed',
      bytes: Buffer.from('{"state":"failed"}'),
      header: good,
      opts: ca7,
      code: 'TRUST_STATUS_FORGED',
    },
    {
      name: 'cert of A, signature by B key',
      header: stolenCertOwnKey,
      opts: ca7,
      code: 'TRUST_STATUS_FORGED',
    },
    { name: 'cert from another CA', header: foreign, opts: ca7, code: 'TRUST_STATUS_FORGED' },
    {
      name: 'desired-state signer is not a device',
      header: bySigner,
      opts: ca7,
      code: 'TRUST_STATUS_FORGED',
    },
    { name: 'signed by device B (CA mode)', header: byB, opts: ca7, code: 'TRUST_STATUS_WRONG_SIGNER' },
    {
      name: 'signed by device B (expected cert)',
      header: byB,
      opts: { expectedCertPem: certA },
      code: 'TRUST_STATUS_WRONG_SIGNER',
    },
    {
      name: 'body changed (expected cert)',
      bytes: Buffer.from('x'),
      header: good,
      opts: { expectedCertPem: certA },
      code: 'TRUST_STATUS_FORGED',
    },
    {
      name: 'revoked (expected cert)',
      header: good,
      opts: { expectedCertPem: certA, revoked: new Set([describeCertificate(certA).serial]) },
      code: 'TRUST_DEVICE_CERT_REVOKED',
    },
    {
      name: 'revoked',
      header: good,
      opts: { ...ca7, revoked: new Set([describeCertificate(certA).serial]) },
      code: 'TRUST_DEVICE_CERT_REVOKED',
    },
  ];
  for (const c of cases)
    assert.equal(
      codeOf(() => verifyPayload(c.bytes ?? body, c.header, c.opts)),
      c.code,
      c.name,
    );
});

test('signFiles / verifySignedFiles keep good files and flag bad ones', () => {
  const files = new Map([
    ['capabilities.json', Buffer.from('{"id":"press-7"}')],
    ['deployments/x.json', Buffer.from('{"state":"installed"}')],
  ]);
  const sigs = signFiles(files, a.keyPem, certA);
  const ok = verifySignedFiles(files, sigs, { caCertPem: ca.certPem, deviceId: 'press-7' });
  assert.deepEqual([...ok.verified.keys()], ['capabilities.json', 'deployments/x.json']);
  assert.deepEqual(ok.refused, []);
  const tampered = new Map(files)
    .set('deployments/x.json', Buffer.from('{"state":"failed"}'))
    .set('deployments/new.json', Buffer.from('{}'));
  const r = verifySignedFiles(tampered, sigs, { caCertPem: ca.certPem, deviceId: 'press-7' });
  assert.deepEqual([...r.verified.keys()], ['capabilities.json']);
  assert.deepEqual(
    r.refused.map((x) => [x.path, x.code]),
    [
      ['deployments/new.json', 'TRUST_STATUS_UNSIGNED'],
      ['deployments/x.json', 'TRUST_STATUS_FORGED'],
    ],
  );
  assert.ok(
    verifySignedFiles(files, undefined, { expectedCertPem: certA }).refused.every(
      (x) => x.code === 'TRUST_STATUS_UNSIGNED',
    ),
  );
  assert.ok(
    verifySignedFiles(files, Buffer.from('x'), { expectedCertPem: certA }).refused.every(
      (x) => x.code === 'TRUST_STATUS_MALFORMED',
    ),
  );
});
