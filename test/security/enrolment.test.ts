// Attacker scenarios against enrolment, with the real onboarding handler on a real HTTP server on
// 127.0.0.1 and the real device-side enrolment client. Nothing is mocked.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrol, loadEnrolment } from '../../packages/agent/src/enrol/index.js';
import {
  ClientCredentialStore,
  EnrolmentTokenStore,
  RevocationList,
  caFingerprint,
  createDeviceKeyAndCsr,
  enrolmentRequestFields,
  formatEnrolmentString,
  initPki,
  newEnrolmentSecret,
  readDeviceCert,
  signPayload,
  verifyDeviceCert,
  verifyPayload,
} from '@margo-gitops/trust';
import { codeOf, startOnboardingServer, tempDir } from './helpers.js';

const BITS = 2048; // faster keys for tests; production default is 3072

async function post(url: string, body: unknown): Promise<{ status: number; code: string }> {
  const res = await fetch(`${url}/onboarding`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, code: ((await res.json()) as { code: string }).code };
}

async function orchestrator(t: import('node:test').TestContext) {
  const data = await tempDir(t, 'margo-sec-orch-');
  const pki = await initPki(join(data, 'pki'), { commonName: 'security test root', bits: BITS });
  let now = new Date();
  const tokens = new EnrolmentTokenStore(data, { now: () => now });
  const clients = new ClientCredentialStore(data);
  const gitTokens = new Map<string, string>();
  const url = await startOnboardingServer(t, {
    dataDir: data,
    pki,
    enrolmentTokens: tokens,
    clients,
    rateLimit: { maxFailures: 50, windowMs: 60_000 },
    publicGitUrl: (id) => `http://127.0.0.1/git/devices/${id}.git`,
    issueGitToken: (id) => {
      const tok = `mgt_${id}_${Math.random().toString(36).slice(2)}`;
      gitTokens.set(id, tok);
      return tok;
    },
  });
  return {
    data,
    pki,
    tokens,
    clients,
    url,
    gitTokens,
    fingerprint: await caFingerprint(pki.dir),
    setNow: (d: Date) => (now = d),
  };
}

test('a device enrols once with a pinned CA; the token cannot be used again, not even by another device', async (t) => {
  const o = await orchestrator(t);
  const { enrolment: token } = await o.tokens.issue('press-7', { ttlSeconds: 600 });
  const stateA = await tempDir(t, 'margo-sec-dev-a-');
  const e = await enrol({
    serverUrl: o.url,
    enrolment: token,
    stateDir: stateA,
    caFingerprint: o.fingerprint,
    bits: BITS,
  });
  assert.equal(e.repoUrl, 'http://127.0.0.1/git/devices/press-7.git');
  assert.equal(e.token, o.gitTokens.get('press-7'));
  verifyDeviceCert(o.pki.ca.certPem, e.certPem, { deviceId: 'press-7' });

  // a second device (or an attacker who copied the string) tries the same string
  const stateB = await tempDir(t, 'margo-sec-dev-b-');
  assert.equal(
    await codeOf(() => enrol({ serverUrl: o.url, enrolment: token, stateDir: stateB, bits: BITS })),
    'TRUST_ENROL_TOKEN_USED',
  );
  // ... or for another device id (a raw request: the client always enrols the id the string names)
  const other = createDeviceKeyAndCsr('press-8', { bits: BITS }).csrPem;
  assert.equal(
    (await post(o.url, enrolmentRequestFields(token, other, 'press-8'))).code,
    'TRUST_ENROL_TOKEN_WRONG_DEVICE',
  );
  assert.equal(await codeOf(() => loadEnrolment(stateB)), 'TRUST_ENROL_STATE_MISSING');
  // the orchestrator still holds the first certificate only
  assert.equal(await readDeviceCert(o.pki.dir, 'press-7'), e.certPem);
});

test('expired token, wrong CSR subject, already enrolled id, unknown token, wrong CA pin are refused', async (t) => {
  const o = await orchestrator(t);
  const dir = await tempDir(t, 'margo-sec-dev-');
  const expired = (await o.tokens.issue('press-1', { ttlSeconds: 60 })).enrolment;
  o.setNow(new Date(Date.now() + 61_000));
  assert.equal(
    await codeOf(() =>
      enrol({
        serverUrl: o.url,
        enrolment: expired,
        stateDir: join(dir, '1'),
        bits: BITS,
      }),
    ),
    'TRUST_ENROL_TOKEN_EXPIRED',
  );
  o.setNow(new Date());

  // a CSR whose subject is another device (raw request: the client always makes a matching CSR)
  const tok2 = (await o.tokens.issue('press-2')).enrolment;
  const foreignCsr = createDeviceKeyAndCsr('press-3', { bits: BITS }).csrPem;
  const res = await post(o.url, enrolmentRequestFields(tok2, foreignCsr));
  assert.deepEqual([res.status, res.code], [403, 'TRUST_CSR_SUBJECT_MISMATCH']);
  assert.equal(await readDeviceCert(o.pki.dir, 'press-2'), undefined);

  // already enrolled: a fresh, valid token does not allow a second identity for the same id
  await enrol({
    serverUrl: o.url,
    enrolment: tok2,
    stateDir: join(dir, '2'),
    bits: BITS,
  });
  const tok2b = (await o.tokens.issue('press-2')).enrolment;
  assert.equal(
    await codeOf(() =>
      enrol({
        serverUrl: o.url,
        enrolment: tok2b,
        stateDir: join(dir, '2b'),
        bits: BITS,
      }),
    ),
    'TRUST_DEVICE_ALREADY_ENROLLED',
  );

  assert.equal(
    await codeOf(() =>
      enrol({
        serverUrl: o.url,
        enrolment: formatEnrolmentString({
          deviceId: 'press-4',
          ...newEnrolmentSecret(),
          caFingerprint: o.fingerprint,
        }),
        stateDir: join(dir, '4'),
        bits: BITS,
      }),
    ),
    'TRUST_ENROL_TOKEN_UNKNOWN',
  );
  // the old bearer form (ID:mge_...) is refused by the client before anything is sent ...
  assert.equal(
    await codeOf(() =>
      enrol({ serverUrl: o.url, enrolment: 'press-4:mge_guessed', stateDir: join(dir, '4') }),
    ),
    'TRUST_ENROL_STRING_INVALID',
  );
  // ... and by the server, which never accepts a request that carries a secret
  const legacy = await post(o.url, { deviceId: 'press-4', csr: foreignCsr, enrolmentToken: 'mge_x' });
  assert.deepEqual([legacy.status, legacy.code], [400, 'TRUST_ENROL_STRING_INVALID']);
  const tok5 = (await o.tokens.issue('press-5')).enrolment;
  assert.equal(
    await codeOf(() =>
      enrol({
        serverUrl: o.url,
        enrolment: tok5,
        stateDir: join(dir, '5'),
        caFingerprint: '00'.repeat(32),
        bits: BITS,
      }),
    ),
    'TRUST_ENROL_CA_MISMATCH',
  );
});

test('a revoked device: certificate, status signatures and OAuth access die at once; re-enrolment refused', async (t) => {
  const o = await orchestrator(t);
  const dir = await tempDir(t, 'margo-sec-dev-');
  const e = await enrol({
    serverUrl: o.url,
    enrolment: (await o.tokens.issue('press-7')).enrolment,
    stateDir: dir,
    bits: BITS,
  });
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: e.clientId,
    client_secret: e.clientSecret,
  });
  const tokenRes = await fetch(e.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  const access = ((await tokenRes.json()) as { access_token: string }).access_token;
  await o.clients.verifyAccessToken(access);
  const status = Buffer.from('{"state":"installed"}');
  const sig = signPayload(status, e.keyPem, e.certPem);
  const rl = new RevocationList(o.pki.dir);
  assert.equal(
    verifyPayload(status, sig, {
      caCertPem: o.pki.ca.certPem,
      deviceId: 'press-7',
      revoked: await rl.serials(),
    }).deviceId,
    'press-7',
  );

  // margo device revoke press-7
  await rl.revokeDevice('press-7', 'stolen');
  await o.clients.revokeDevice('press-7');

  const revoked = await rl.serials();
  assert.equal(
    await codeOf(() => verifyDeviceCert(o.pki.ca.certPem, e.certPem, { deviceId: 'press-7', revoked })),
    'TRUST_DEVICE_CERT_REVOKED',
  );
  assert.equal(
    await codeOf(() =>
      verifyPayload(status, sig, { caCertPem: o.pki.ca.certPem, deviceId: 'press-7', revoked }),
    ),
    'TRUST_DEVICE_CERT_REVOKED',
  );
  assert.equal(await codeOf(() => o.clients.verifyAccessToken(access)), 'TRUST_ACCESS_TOKEN_INVALID');
  const again = await fetch(e.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  assert.equal(again.status, 401);
  const tok = (await o.tokens.issue('press-7')).enrolment;
  assert.equal(
    await codeOf(() =>
      enrol({
        serverUrl: o.url,
        enrolment: tok,
        stateDir: join(dir, 'new'),
        bits: BITS,
      }),
    ),
    'TRUST_DEVICE_ALREADY_ENROLLED',
  );
});
