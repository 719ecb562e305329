import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createDesiredStateVerifier,
  createManifestSigner,
  createStatusVerifier,
  createStatusSigner,
  createUnsealer,
} from './adapters.js';
import { createRootCA, createSigningKey } from './ca.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import { MANIFEST_FILE, parseSignedManifest } from './manifest.js';
import { SIGNATURES_FILE, signFiles, verifyPayload, verifySignedFiles } from './payload-signature.js';
import { seal } from './sealed.js';

const BITS = 2048;
const ca = createRootCA({ commonName: 'test root', bits: BITS });
const signing = createSigningKey(ca, { bits: BITS });
const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
const cert = signDeviceCsr(ca, dev.csrPem, { expectedDeviceId: 'press-7' });

test('signer + verifier adapters: sign, accept, re-check, refuse replay (persisted), refuse edits', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'margo-adapters-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const start = new Date();
  let now = start;
  const sign = createManifestSigner(() => signing, { now: () => now, ttlMs: 86_400_000 });
  const files = new Map([['deployments/a.yaml', Buffer.from('a: 1\n')]]);
  const v1 = await sign('press-7', files, { version: 0 });
  const m1 = parseSignedManifest(v1.get(MANIFEST_FILE)).manifest;
  assert.equal(m1.version, (BigInt(now.getTime()) * 1000n).toString());
  assert.equal(m1.expiresAt, new Date(start.getTime() + 86_400_000).toISOString());
  now = new Date(now.getTime() + 1000);
  const v2 = await sign('press-7', new Map([...files, [MANIFEST_FILE, Buffer.from('old')]]), {
    version: Number(m1.version),
  });
  assert.ok(BigInt(parseSignedManifest(v2.get(MANIFEST_FILE)).manifest.version) > BigInt(m1.version));

  const path = join(dir, 'identity', 'applied-manifest.json');
  const verify = createDesiredStateVerifier({
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    appliedManifestPath: path,
    now: () => now,
  });
  await verify(v1, { commit: 'c1' });
  await verify(v1, { commit: 'c1' }); // same commit again: fine
  await verify(v2, { commit: 'c2' });
  const restarted = createDesiredStateVerifier({
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    appliedManifestPath: path,
    now: () => now,
  });
  await assert.rejects(restarted(v1, { commit: 'c1' }), { code: 'TRUST_MANIFEST_ROLLBACK' } as never);
  await assert.rejects(restarted(new Map(v2).set('deployments/a.yaml', Buffer.from('a: 2\n')), {}), {
    code: 'TRUST_MANIFEST_FILE_CHANGED',
  } as never);
  const other = createDesiredStateVerifier({
    caCertPem: ca.certPem,
    deviceId: 'press-8',
    appliedManifestPath: join(dir, 'x.json'),
    now: () => now,
  });
  await assert.rejects(other(v2, {}), { code: 'TRUST_MANIFEST_WRONG_DEVICE' } as never);
});

test('status signer and unsealer adapters; flat signatures.json', () => {
  const signStatus = createStatusSigner(dev.keyPem, cert);
  const body = Buffer.from('{"state":"installed"}');
  assert.equal(
    verifyPayload(body, signStatus(body), { caCertPem: ca.certPem, deviceId: 'press-7' }).deviceId,
    'press-7',
  );
  assert.equal(createUnsealer(dev.keyPem)(seal('pw', cert)), 'pw');

  const files = new Map([['deployments/x.json', body]]);
  const sigs = signFiles(files, dev.keyPem, cert);
  const doc = JSON.parse(sigs.toString());
  assert.deepEqual(Object.keys(doc), ['deployments/x.json'], 'flat map path -> signature');
  // the agent's status reporter writes the same flat shape with its own signer
  const agentStyle = Buffer.from(JSON.stringify({ 'deployments/x.json': signStatus(body) }));
  assert.deepEqual(
    verifySignedFiles(files, agentStyle, { caCertPem: ca.certPem, deviceId: 'press-7' }).refused,
    [],
  );
  assert.equal(SIGNATURES_FILE, 'signatures.json');
});

test('createStatusVerifier keeps verified files and re-reads revocations; revokeDeviceCredentials', async (t) => {
  const { initPki, writeDeviceCert } = await import('./pki-store.js');
  const { revokeDeviceCredentials } = await import('./revoke-device.js');
  const { ClientCredentialStore } = await import('./client-credentials.js');
  const { EnrolmentTokenStore } = await import('./enrolment-tokens.js');
  const data = await mkdtemp(join(tmpdir(), 'margo-statusv-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const pki = await initPki(join(data, 'pki'), { commonName: 'r', bits: BITS });
  const k = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const c = signDeviceCsr(pki.ca, k.csrPem, { expectedDeviceId: 'press-7' });
  await writeDeviceCert(pki.dir, 'press-7', c);
  const status = new Map<string, Buffer>([
    ['a.json', Buffer.from('{"a":1}')],
    ['b.json', Buffer.from('{"b":1}')],
  ]);
  const tree = new Map(status)
    .set(SIGNATURES_FILE, signFiles(status, k.keyPem, c))
    .set('b.json', Buffer.from('{"b":2}'));
  const verifyStatus = createStatusVerifier({ caCertPem: pki.ca.certPem, pkiDir: pki.dir });
  const r1 = await verifyStatus('press-7', tree);
  assert.deepEqual([...r1.files.keys()], ['a.json']);
  assert.deepEqual(
    r1.refused.map((x) => [x.path, x.code]),
    [['b.json', 'TRUST_STATUS_FORGED']],
  );

  const clients = new ClientCredentialStore(data);
  const { clientId, clientSecret } = await clients.issue('press-7');
  await new EnrolmentTokenStore(data).issue('press-7');
  const r = await revokeDeviceCredentials(data, 'press-7', { reason: 'test' });
  assert.deepEqual([r.certificate.deviceId, r.clientsRevoked, r.enrolmentTokensWithdrawn], ['press-7', 1, 1]);
  await assert.rejects(clients.issueAccessToken(clientId, clientSecret), {
    code: 'TRUST_OAUTH_INVALID_CLIENT',
  } as never);
  const r2 = await verifyStatus('press-7', tree);
  assert.deepEqual([...r2.files.keys()], []);
  assert.ok(r2.refused.some((x) => x.path === 'a.json' && x.code === 'TRUST_DEVICE_CERT_REVOKED'));
});
