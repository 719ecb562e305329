import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createRootCA } from './ca.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import { signWitness, verifyWitness } from './api-witness.js';
import { signFiles, signPayload, verifySignedFiles } from './payload-signature.js';
import { clientSpiffeId, type SpiffeIdentity } from './spiffe.js';
import { issueServerSvid } from './svid.js';
import { certificateSerial } from './x509-native.js';

const BITS = 2048; // tests only
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const otherCa = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const id: SpiffeIdentity = { trustDomain: 'plant.example', wfmId: 'wfm1' };
const server = issueServerSvid(ca, id, ['127.0.0.1'], { bits: BITS });
const foreignServer = issueServerSvid(otherCa, id, ['127.0.0.1'], { bits: BITS });
const peer = clientSpiffeId(id, 'press-7');

function deviceSvid(deviceId: string) {
  const { keyPem, csrPem } = createDeviceKeyAndCsr(deviceId, { bits: BITS });
  const certPem = signDeviceCsr(ca, csrPem, {
    expectedDeviceId: deviceId,
    spiffeId: clientSpiffeId(id, deviceId),
  });
  return { keyPem, certPem };
}

const bytes = Buffer.from('{"deploymentId":"a","status":{"state":"installed"},"components":[]}\n');
const path = 'deployments/a.json';
const base = { caCertPem: ca.certPem, deviceId: 'press-7', path, identity: id };
const entry = signWitness(bytes, { deviceId: 'press-7', path, peer, ...server });

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'accepted';
};

test('a witness entry of our server SVID verifies for its device, path and bytes', () => {
  const v = verifyWitness(bytes, entry, base);
  assert.equal(v.deviceId, 'press-7');
  assert.equal(v.witness.spiffeId, 'spiffe://plant.example/margo/wfm/wfm1');
  assert.equal(v.witness.peer, peer);
  assert.equal(v.serial, certificateSerial(new X509Certificate(server.certPem)));
  // Without a known identity any WFM id our CA issued is accepted.
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, identity: undefined })),
    'accepted',
  );
});

test('a witness entry moved to another path or device, or over other bytes, is forged', () => {
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, path: 'deployments/b.json' })),
    'TRUST_WITNESS_FORGED',
  );
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, path: 'capabilities.json' })),
    'TRUST_WITNESS_FORGED',
  );
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, deviceId: 'press-8' })),
    'TRUST_WITNESS_FORGED',
  );
  const changed = Buffer.from(bytes.toString().replace('installed', 'failed'));
  assert.equal(
    code(() => verifyWitness(changed, entry, base)),
    'TRUST_WITNESS_FORGED',
  );
});

test('a device certificate can never be a witness, even one of our CA signing correctly', () => {
  const dev = deviceSvid('press-7');
  const e = signWitness(bytes, { deviceId: 'press-7', path, peer, ...dev });
  assert.equal(
    code(() => verifyWitness(bytes, e, base)),
    'TRUST_WITNESS_UNTRUSTED',
  );
  assert.equal(
    code(() => verifyWitness(bytes, e, { ...base, identity: undefined })),
    'TRUST_WITNESS_UNTRUSTED',
  );
});

test('a witness certificate from another CA, or naming another fleet manager, is refused', () => {
  const e = signWitness(bytes, { deviceId: 'press-7', path, peer, ...foreignServer });
  assert.equal(
    code(() => verifyWitness(bytes, e, base)),
    'TRUST_WITNESS_UNTRUSTED',
  );
  assert.equal(
    code(() =>
      verifyWitness(bytes, entry, { ...base, identity: { trustDomain: 'plant.example', wfmId: 'other' } }),
    ),
    'TRUST_WITNESS_UNTRUSTED',
  );
  assert.equal(
    code(() =>
      verifyWitness(bytes, entry, { ...base, identity: { trustDomain: 'other.example', wfmId: 'wfm1' } }),
    ),
    'TRUST_WITNESS_UNTRUSTED',
  );
});

test('a revoked or expired witness, and malformed entries, are refused', () => {
  const serial = certificateSerial(new X509Certificate(server.certPem));
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, revoked: new Set([serial]) })),
    'TRUST_WITNESS_REVOKED',
  );
  const later = new Date(Date.now() + 200 * 86_400_000);
  assert.equal(
    code(() => verifyWitness(bytes, entry, { ...base, now: later })),
    'TRUST_WITNESS_UNTRUSTED',
  );
  for (const bad of [
    {},
    { witness: 1, peer },
    { witness: 'x', peer },
    { witness: 'AAAA;AAAA', peer },
    null,
    'x;y',
  ])
    assert.match(
      String(code(() => verifyWitness(bytes, bad, base))),
      /^TRUST_WITNESS_(MALFORMED|UNTRUSTED)$/,
    );
});

test('verifySignedFiles: device entries and witness entries side by side, each bound to its path', () => {
  const dev = deviceSvid('press-7');
  const caps = Buffer.from('{"properties":{"id":"press-7"}}\n');
  const files = new Map<string, Buffer>([
    [path, bytes],
    ['capabilities.json', caps],
  ]);
  const sigs = JSON.parse(
    signFiles(new Map([['capabilities.json', caps]]), dev.keyPem, dev.certPem).toString(),
  ) as Record<string, unknown>;
  sigs[path] = entry;
  const opts = { caCertPem: ca.certPem, deviceId: 'press-7', witness: id };
  let r = verifySignedFiles(files, Buffer.from(JSON.stringify(sigs)), opts);
  assert.deepEqual([...r.verified.keys()].sort(), ['capabilities.json', path]);
  assert.deepEqual(r.refused, []);

  // The witness entry copied onto another file: refused there, the original still fine.
  const other = 'deployments/b.json';
  const moved = { ...sigs, [other]: entry };
  r = verifySignedFiles(new Map([...files, [other, bytes]]), Buffer.from(JSON.stringify(moved)), opts);
  assert.deepEqual(
    r.refused.map((x) => [x.path, x.code]),
    [[other, 'TRUST_WITNESS_FORGED']],
  );

  // Another device's branch: every witness entry refused, the device-signed file too (wrong signer).
  r = verifySignedFiles(files, Buffer.from(JSON.stringify(sigs)), { ...opts, deviceId: 'press-8' });
  assert.deepEqual(r.refused.map((x) => [x.path, x.code]).sort(), [
    ['capabilities.json', 'TRUST_STATUS_WRONG_SIGNER'],
    [path, 'TRUST_WITNESS_FORGED'],
  ]);

  // Without a device to bind to (a check against one stored certificate) a witness never counts.
  r = verifySignedFiles(files, Buffer.from(JSON.stringify(sigs)), { expectedCertPem: dev.certPem });
  assert.deepEqual(
    r.refused.map((x) => [x.path, x.code]),
    [[path, 'TRUST_WITNESS_UNTRUSTED']],
  );
});

test('the witness cannot be a bare string in the device form (a server cert in a device entry is refused)', () => {
  const asDevice = signPayload(bytes, server.keyPem, server.certPem);
  const r = verifySignedFiles(new Map([[path, bytes]]), Buffer.from(JSON.stringify({ [path]: asDevice })), {
    caCertPem: ca.certPem,
    deviceId: 'press-7',
  });
  assert.equal(r.refused.length, 1);
  assert.match(r.refused[0]!.code, /^TRUST_/);
});
