import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import forge from 'node-forge';
import { createRootCA, createSigningKey } from './ca.js';
import {
  checkDeviceCsr,
  createDeviceKeyAndCsr,
  describeCertificate,
  signDeviceCsr,
  verifyDeviceCert,
} from './device-identity.js';
import { certificateFingerprint } from './x509.js';

const BITS = 2048; // tests only; production default is 3072
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const otherCa = createRootCA({ commonName: 'attacker root', validityDays: 30, bits: BITS });
const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('root CA is a pathLen-0 CA and signs a device certificate for a matching CSR', () => {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const bc = caCert.getExtension('basicConstraints') as { cA: boolean; pathLenConstraint: number };
  assert.equal(bc.cA, true);
  assert.equal(bc.pathLenConstraint, 0);
  const certPem = signDeviceCsr(ca, dev.csrPem, { expectedDeviceId: 'press-7', validityDays: 10 });
  const v = verifyDeviceCert(ca.certPem, certPem, { deviceId: 'press-7' });
  assert.equal(v.deviceId, 'press-7');
  assert.match(v.serial, /^[0-9a-f]+$/);
  assert.equal(describeCertificate(certPem).serial, v.serial);
  assert.match(certificateFingerprint(ca.certPem), /^[0-9a-f]{64}$/);
});

test('signDeviceCsr refuses bad CSRs with their codes', () => {
  const tampered = (() => {
    // flip one bit of the signature (the last bytes of the DER)
    const der = Buffer.from(dev.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 5]! ^= 0x01;
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  })();
  const weak = (() => {
    const k = forge.pki.rsa.generateKeyPair({ bits: 1024 });
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = k.publicKey;
    csr.setSubject([{ shortName: 'CN', value: 'press-7' }]);
    csr.sign(k.privateKey, forge.md.sha256.create());
    return forge.pki.certificationRequestToPem(csr);
  })();
  const cases: { name: string; csr: string; id: string; code: string }[] = [
    { name: 'subject mismatch', csr: dev.csrPem, id: 'press-8', code: 'TRUST_CSR_SUBJECT_MISMATCH' },
    { name: 'garbage', csr: 'not a csr', id: 'press-7', code: 'TRUST_CSR_INVALID' },
    { name: 'certificate instead of CSR', csr: ca.certPem, id: 'press-7', code: 'TRUST_CSR_INVALID' },
    { name: 'self-signature broken', csr: tampered, id: 'press-7', code: 'TRUST_CSR_INVALID' },
    { name: 'weak key', csr: weak, id: 'press-7', code: 'TRUST_CSR_INVALID' },
    { name: 'invalid device id', csr: dev.csrPem, id: '../etc', code: 'TRUST_DEVICE_ID_INVALID' },
  ];
  for (const c of cases) {
    assert.equal(
      codeOf(() => signDeviceCsr(ca, c.csr, { expectedDeviceId: c.id })),
      c.code,
      c.name,
    );
    assert.equal(
      codeOf(() => checkDeviceCsr(c.csr, c.id)),
      c.code,
      c.name,
    );
  }
});

/**
 * A device certificate in every respect but its key (EC P-256), signed by the test CA with the
 * openssl command line: node-forge, which issues our certificates, cannot certify an EC key.
 */
function ecDeviceCert(): string {
  const dir = mkdtempSync(join(tmpdir(), 'margo-ec-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'dev.key');
    run('req', '-new', '-key', 'dev.key', '-subj', '/OU=margo-gitops device/CN=press-9', '-out', 'dev.csr');
    run(
      'x509',
      '-req',
      '-in',
      'dev.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '0x1234',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      'ext',
      '-out',
      'dev.pem',
    );
    const pem = readFileSync(join(dir, 'dev.pem'), 'utf8');
    // Sanity: the CA did certify it, so only the key type is left to refuse.
    assert.ok(new X509Certificate(pem).checkIssued(new X509Certificate(ca.certPem)));
    return pem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('verifyDeviceCert refuses with its codes', () => {
  const certPem = signDeviceCsr(ca, dev.csrPem, { expectedDeviceId: 'press-7' });
  const serial = describeCertificate(certPem).serial;
  const foreign = signDeviceCsr(otherCa, dev.csrPem, { expectedDeviceId: 'press-7' });
  const signer = createSigningKey(ca, { bits: BITS });
  const later = new Date(Date.now() + 1000 * 86_400_000);
  const cases: {
    name: string;
    cert: string;
    opts: Parameters<typeof verifyDeviceCert>[2];
    code: string | undefined;
  }[] = [
    { name: 'valid', cert: certPem, opts: { deviceId: 'press-7' }, code: undefined },
    {
      name: 'other device',
      cert: certPem,
      opts: { deviceId: 'press-8' },
      code: 'TRUST_DEVICE_CERT_WRONG_DEVICE',
    },
    {
      name: 'revoked',
      cert: certPem,
      opts: { revoked: new Set([serial]) },
      code: 'TRUST_DEVICE_CERT_REVOKED',
    },
    { name: 'expired', cert: certPem, opts: { now: later }, code: 'TRUST_DEVICE_CERT_EXPIRED' },
    {
      name: 'not yet valid',
      cert: certPem,
      opts: { now: new Date(Date.now() - 86_400_000) },
      code: 'TRUST_DEVICE_CERT_EXPIRED',
    },
    { name: 'issued by another CA', cert: foreign, opts: {}, code: 'TRUST_DEVICE_CERT_UNTRUSTED' },
    {
      name: 'signing cert is not a device cert',
      cert: signer.certPem,
      opts: {},
      code: 'TRUST_DEVICE_CERT_UNTRUSTED',
    },
    { name: 'the CA itself', cert: ca.certPem, opts: {}, code: 'TRUST_DEVICE_CERT_UNTRUSTED' },
    {
      name: 'an EC key certified by the CA (device keys are RSA)',
      cert: ecDeviceCert(),
      opts: {},
      code: 'TRUST_DEVICE_CERT_UNTRUSTED',
    },
    { name: 'garbage', cert: 'nope', opts: {}, code: 'TRUST_DEVICE_CERT_UNTRUSTED' },
  ];
  for (const c of cases)
    assert.equal(
      codeOf(() => verifyDeviceCert(ca.certPem, c.cert, c.opts)),
      c.code,
      c.name,
    );
});
