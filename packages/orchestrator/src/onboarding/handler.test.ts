import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ClientCredentialStore,
  EnrolmentTokenStore,
  createDeviceKeyAndCsr,
  describeCertificate,
  enrolmentRequestFields,
  initPki,
  readDeviceCert,
  unseal,
  verifyDeviceCert,
} from '@margo-gitops/trust';
import { createOnboardingHttpHandler, type OnboardingHandlerOptions } from './handler.js';
import { FailureRateLimiter } from './rate-limit.js';

const BITS = 2048; // tests only

async function setup(t: import('node:test').TestContext, extra: Partial<OnboardingHandlerOptions> = {}) {
  const data = await mkdtemp(join(tmpdir(), 'margo-onb-'));
  const pki = await initPki(join(data, 'pki'), { commonName: 'test root', bits: BITS });
  let now = new Date();
  const clock = { set: (d: Date) => (now = d), get: () => now };
  const tokens = new EnrolmentTokenStore(data, { now: () => now });
  const clients = new ClientCredentialStore(data);
  const enrolled: { deviceId: string; facts: Record<string, unknown> }[] = [];
  const gitTokenExpiry = new Map<string, Date>();
  const handler = createOnboardingHttpHandler({
    dataDir: data,
    pki,
    enrolmentTokens: tokens,
    clients,
    publicGitUrl: (id) => `http://git.example/git/devices/${id}.git`,
    publicApiUrl: () => 'https://git.example:8471',
    issueGitToken: (id, o) => {
      gitTokenExpiry.set(id, o.expiresAt);
      return `mgt_git-token-for-${id}`;
    },
    onEnrolled: (deviceId, _cert, facts) => void enrolled.push({ deviceId, facts }),
    ...extra,
  });
  const server: Server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          res.statusCode = 404;
          res.end();
        }
      },
      (e) => {
        res.statusCode = 500;
        res.end(String(e));
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    await new Promise((r) => server.close(r));
    await rm(data, { recursive: true, force: true });
  });
  const post = async (body: unknown) => {
    const res = await fetch(`${base}/onboarding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Record<string, any>,
    };
  };
  return { data, pki, tokens, clients, enrolled, base, post, clock, gitTokenExpiry };
}

test('GET /onboarding/certificate serves the root CA as base64 without line breaks', async (t) => {
  const s = await setup(t);
  const res = await fetch(`${s.base}/onboarding/certificate`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { certificate: string };
  assert.match(body.certificate, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(Buffer.from(body.certificate, 'base64').toString('utf8'), s.pki.ca.certPem);
  assert.equal((await fetch(`${s.base}/other`)).status, 404, 'unknown paths are left to the next handler');
  assert.equal((await fetch(`${s.base}/onboarding/certificate`, { method: 'POST' })).status, 405);
});

test('POST /onboarding enrols once and issues working client credentials', async (t) => {
  const s = await setup(t);
  const { enrolment: token } = await s.tokens.issue('press-7', { ttlSeconds: 600 });
  const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const r = await s.post({ ...enrolmentRequestFields(token, dev.csrPem), facts: { hostname: 'p7' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.repository.url, 'http://git.example/git/devices/press-7.git');
  assert.deepEqual(r.body.api, { url: 'https://git.example:8471' }, 'the agent learns where the API is');
  // the secrets of the answer are sealed to the device key: a relaying proxy cannot read them
  assert.doesNotMatch(JSON.stringify(r.body), /mgt_git-token-for-press-7|mgc_/);
  assert.equal(unseal(r.body.repository.token, dev.keyPem), 'mgt_git-token-for-press-7');
  const clientSecret = unseal(r.body.clientSecret, dev.keyPem);
  assert.equal(r.body.caCertificate, s.pki.ca.certPem);
  assert.equal(
    verifyDeviceCert(s.pki.ca.certPem, r.body.certificate, { deviceId: 'press-7' }).deviceId,
    'press-7',
  );
  assert.equal(await readDeviceCert(s.pki.dir, 'press-7'), r.body.certificate);
  // the Git token expires with the certificate
  assert.equal(
    s.gitTokenExpiry.get('press-7')?.getTime(),
    describeCertificate(r.body.certificate).notAfter.getTime(),
  );
  assert.deepEqual(s.enrolled, [{ deviceId: 'press-7', facts: { hostname: 'p7' } }]);
  assert.equal(r.body.tokenEndpoint, `${s.base}/oauth/token`);

  // OAuth2 client credentials: form body, then Basic header
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: r.body.clientId,
    client_secret: clientSecret,
  });
  const t1 = await fetch(r.body.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  assert.equal(t1.status, 200);
  const tok = (await t1.json()) as { access_token: string; token_type: string; expires_in: number };
  assert.equal(tok.token_type, 'Bearer');
  assert.equal(tok.expires_in, 3600);
  assert.equal((await s.clients.verifyAccessToken(tok.access_token)).deviceId, 'press-7');
  const basic = Buffer.from(`${r.body.clientId}:${clientSecret}`).toString('base64');
  const t2 = await fetch(r.body.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(t2.status, 200);

  const bad = [
    {
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: r.body.clientId,
        client_secret: 'wrong',
      }),
      status: 401,
      error: 'invalid_client',
    },
    {
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: r.body.clientId,
        client_secret: clientSecret,
      }),
      status: 400,
      error: 'unsupported_grant_type',
    },
    { body: new URLSearchParams({ grant_type: 'client_credentials' }), status: 401, error: 'invalid_client' },
  ];
  for (const b of bad) {
    const res: Response = await fetch(r.body.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: b.body,
    });
    assert.equal(res.status, b.status);
    assert.equal(((await res.json()) as { error: string }).error, b.error);
  }
});

test('POST /onboarding refuses each bad request with problem+json and its code', async (t) => {
  const s = await setup(t, { rateLimit: { maxFailures: 100, windowMs: 60_000 } });
  const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const other = createDeviceKeyAndCsr('press-8', { bits: BITS });
  const used = (await s.tokens.issue('press-7')).enrolment;
  assert.equal((await s.post(enrolmentRequestFields(used, dev.csrPem))).status, 201);
  const again = (await s.tokens.issue('press-7')).enrolment;
  const for8 = (await s.tokens.issue('press-8')).enrolment;
  const shortLived = (await s.tokens.issue('press-9', { ttlSeconds: 1 })).enrolment;
  const cases: { name: string; body: unknown; status: number; code: string; before?: () => void }[] = [
    {
      name: 'reused token',
      body: enrolmentRequestFields(used, dev.csrPem),
      status: 401,
      code: 'TRUST_ENROL_TOKEN_USED',
    },
    {
      name: 'unknown token',
      body: { ...enrolmentRequestFields(for8, other.csrPem), tokenId: 'x'.repeat(16) },
      status: 401,
      code: 'TRUST_ENROL_TOKEN_UNKNOWN',
    },
    {
      name: 'token of another device',
      body: enrolmentRequestFields(for8, dev.csrPem, 'press-7'),
      status: 401,
      code: 'TRUST_ENROL_TOKEN_WRONG_DEVICE',
    },
    {
      name: 'CSR subject mismatch',
      body: enrolmentRequestFields(for8, dev.csrPem),
      status: 403,
      code: 'TRUST_CSR_SUBJECT_MISMATCH',
    },
    {
      name: 'CSR garbage',
      body: enrolmentRequestFields(for8, 'x'),
      status: 400,
      code: 'TRUST_CSR_INVALID',
    },
    {
      name: 'already enrolled',
      body: enrolmentRequestFields(again, dev.csrPem),
      status: 409,
      code: 'TRUST_DEVICE_ALREADY_ENROLLED',
    },
    { name: 'not JSON', body: '{', status: 400, code: 'TRUST_ENROL_REQUEST_INVALID' },
    {
      name: 'missing fields',
      body: { deviceId: 'press-8' },
      status: 400,
      code: 'TRUST_ENROL_REQUEST_INVALID',
    },
    {
      name: 'bad device id',
      body: enrolmentRequestFields(for8, dev.csrPem, '../x'),
      status: 400,
      code: 'TRUST_DEVICE_ID_INVALID',
    },
    {
      name: 'expired token',
      body: enrolmentRequestFields(shortLived, createDeviceKeyAndCsr('press-9', { bits: BITS }).csrPem),
      status: 401,
      code: 'TRUST_ENROL_TOKEN_EXPIRED',
      before: () => s.clock.set(new Date(Date.now() + 5000)),
    },
  ];
  for (const c of cases) {
    c.before?.();
    const r = await s.post(c.body);
    assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.type, 'application/problem+json', c.name);
    assert.equal(r.body.code, c.code, c.name);
    assert.equal(r.body.status, c.status, c.name);
    assert.ok(r.body.type && r.body.title && r.body.detail, c.name);
    assert.doesNotMatch(JSON.stringify(r.body), /mge_[A-Za-z0-9_-]{20}/, `${c.name}: no token echoed`);
  }
  // the refused CSR-mismatch attempt did not use up press-8's token
  assert.equal((await s.post(enrolmentRequestFields(for8, other.csrPem))).status, 201);
});

test('failed enrolments are rate-limited per address', async (t) => {
  const s = await setup(t, { rateLimit: { maxFailures: 3, windowMs: 60_000 } });
  const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const { enrolment: token } = await s.tokens.issue('press-7');
  // an attacker holding the device's request: its own CSR under the device's proof, three times
  const proxy = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const stolen = enrolmentRequestFields(token, dev.csrPem);
  for (let i = 0; i < 3; i++) {
    const bad = await s.post({ ...stolen, csr: proxy.csrPem });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'TRUST_ENROL_PROOF_INVALID');
  }
  const r = await s.post(enrolmentRequestFields(token, dev.csrPem));
  assert.equal(r.status, 429);
  assert.equal(r.body.code, 'TRUST_ENROL_RATE_LIMITED');
  assert.ok(Number(r.retryAfter) > 0);
  assert.equal(await readDeviceCert(s.pki.dir, 'press-7'), undefined);
  // the bad proofs did not use the token up: from another address the device still enrols
  assert.equal((await s.tokens.list())[0]!.usedAt, undefined);
});

test('malformed and oversized bodies: 4xx problems (never 500), counted by the rate limiter', async (t) => {
  const s = await setup(t, { rateLimit: { maxFailures: 5, windowMs: 60_000 } });
  const raw = async (body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.base}/onboarding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as { code: string } };
  };
  const oversized = await raw(Buffer.alloc(1 << 20, 0x20));
  assert.deepEqual([oversized.status, oversized.body.code], [400, 'TRUST_ENROL_REQUEST_INVALID']);
  const gz = await raw('\x1f\x8b not gzip', { 'content-encoding': 'gzip' });
  const badPath = await fetch(`${s.base}/onboarding/%zz`, { method: 'POST' });
  assert.deepEqual(
    [badPath.status, ((await badPath.json()) as { code: string }).code],
    [404, 'TRUST_ENROL_REQUEST_INVALID'],
  );
  assert.deepEqual([gz.status, gz.body.code], [400, 'TRUST_ENROL_REQUEST_INVALID']);
  const notJson = await raw('{"deviceId":');
  assert.deepEqual([notJson.status, notJson.body.code], [400, 'TRUST_ENROL_REQUEST_INVALID']);
  const legacy = await raw(JSON.stringify({ deviceId: 'press-7', csr: 'x', enrolmentToken: 'mge_x' }));
  assert.deepEqual([legacy.status, legacy.body.code], [400, 'TRUST_ENROL_STRING_INVALID']);
  const limited = await raw('{}');
  assert.deepEqual([limited.status, limited.body.code], [429, 'TRUST_ENROL_RATE_LIMITED']);
});

test('a failure after the certificate is signed is undone so a fresh token can retry', async (t) => {
  let fail = true;
  const s = await setup(t, {
    onEnrolled: () => {
      if (fail) throw new Error('fleet repo unavailable');
    },
  });
  const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
  const r = await s.post(enrolmentRequestFields((await s.tokens.issue('press-7')).enrolment, dev.csrPem));
  assert.equal(r.status, 500);
  assert.equal(r.body.detail, 'internal error');
  assert.equal(await readDeviceCert(s.pki.dir, 'press-7'), undefined);
  assert.deepEqual(await s.clients.list(), []);
  fail = false;
  assert.equal(
    (await s.post(enrolmentRequestFields((await s.tokens.issue('press-7')).enrolment, dev.csrPem))).status,
    201,
  );
});

test('FailureRateLimiter: sliding window', () => {
  let now = 0;
  const l = new FailureRateLimiter({ maxFailures: 2, windowMs: 1000, now: () => now });
  assert.equal(l.retryAfterSeconds('a'), 0);
  l.fail('a');
  now = 500;
  l.fail('a');
  assert.equal(l.retryAfterSeconds('a'), 1);
  assert.equal(l.retryAfterSeconds('b'), 0);
  now = 1001;
  assert.equal(l.retryAfterSeconds('a'), 0);
});
