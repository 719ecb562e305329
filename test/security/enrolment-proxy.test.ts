// Finding 3 of issue 12, as the attacker did it: a proxy on the path between a device and a real
// `margo serve` (here a plain HTTP forwarding proxy, which sees exactly what a TLS-terminating one
// sees) records the device's enrolment and
//   (a) replays the request with its own CSR, to get a genuine certificate, Git token and the
//       device's sealed secrets for a key it holds;
//   (b) serves its own root CA and re-signs the device's certificate with it, so that it can sign
//       desired state for the device later.
// Both were accepted on ef69062 (no CA pin, the token was a bearer secret). Now (a) is refused by
// the server (TRUST_ENROL_PROOF_INVALID, nothing issued, the token kept), (b) by the agent
// (TRUST_ENROL_CA_MISMATCH, nothing stored), and (c) the honest enrolment with the same string
// works through the same proxy. Real processes: the built `margo` CLI for init, serve, device add
// and agent; the proxy is the only code of the test on the path.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDeviceKeyAndCsr,
  createRootCA,
  describeCertificate,
  parseEnrolmentString,
  readDeviceCert,
  signDeviceCsr,
} from '@margo-gitops/trust';
import { freePort, json, MargoCli, stop } from '../e2e/cli/harness.js';

const BITS = 2048;
type Mode = 'pass' | 'swap-csr' | 'own-ca';

interface Seen {
  method: string;
  path: string;
  body: string;
  /** What the real server answered the proxy (status, code) when it was asked. */
  upstream?: { status: number; body: string };
}

let dir: string;
let cli: MargoCli;
let port: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let proxy: Server;
let proxyUrl: string;
let mode: Mode = 'pass';
const seen: Seen[] = [];
let enrolmentString = '';
let tokenFile = '';
/** The proxy's own key for dev1 and its own root CA. */
const attacker = {
  dev: createDeviceKeyAndCsr('dev1', { bits: BITS }),
  ca: createRootCA({ commonName: 'margo-gitops root CA', bits: BITS }),
};

const margo = (...args: string[]) => cli.run(...args);
const pkiDir = () => join(dir, 'margo-data', 'pki');

function forward(method: string, path: string, headers: IncomingMessage['headers'], body: Buffer) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((res, rej) => {
    const up = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, host: `127.0.0.1:${port}`, 'content-length': body.length },
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () =>
          res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    up.on('error', rej);
    up.end(body);
  });
}

/** The attacker's proxy: records everything, forwards, and tampers according to `mode`. */
async function onRequest(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let body = Buffer.concat(chunks);
  const path = req.url ?? '/';
  const rec: Seen = { method: req.method ?? '', path, body: body.toString('utf8') };
  seen.push(rec);
  if (mode === 'own-ca' && path === '/onboarding/certificate') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ certificate: Buffer.from(attacker.ca.certPem).toString('base64') }));
    return;
  }
  if (mode === 'swap-csr' && path === '/onboarding' && req.method === 'POST') {
    // replay the device's request with the proxy's own CSR (everything else as the device sent it)
    body = Buffer.from(JSON.stringify({ ...JSON.parse(rec.body), csr: attacker.dev.csrPem }));
  }
  const up = await forward(req.method ?? 'GET', path, req.headers, body);
  if (path === '/onboarding') rec.upstream = { status: up.status, body: up.body.toString('utf8') };
  let out = up.body;
  if (mode === 'own-ca' && path === '/onboarding' && up.status === 201) {
    // keep the real Git token, hand the device a certificate under the proxy's CA
    const r = JSON.parse(up.body.toString('utf8')) as Record<string, unknown>;
    const csr = (JSON.parse(rec.body) as { csr: string }).csr;
    r.certificate = signDeviceCsr(attacker.ca, csr, { expectedDeviceId: 'dev1' });
    r.caCertificate = attacker.ca.certPem;
    out = Buffer.from(JSON.stringify(r));
  }
  const { 'content-length': _l, 'transfer-encoding': _t, connection: _c, ...h } = up.headers;
  res.writeHead(up.status, { ...h, 'content-length': out.length });
  res.end(out);
}

const enrolAttempts = () => seen.filter((s) => s.path === '/onboarding' && s.method === 'POST');
const identityStored = (state: string) => existsSync(join(dir, state, 'identity'));

async function issuedToDev1(): Promise<{ cert: boolean; gitTokens: number; clients: number }> {
  const read = async (p: string) => (await readFile(p, 'utf8').catch(() => '')) as string;
  const gitTokens = await read(join(dir, 'margo-data', 'auth', 'tokens.json'));
  const clients = await read(join(dir, 'margo-data', 'state', 'oauth-clients.json'));
  return {
    cert: (await readDeviceCert(pkiDir(), 'dev1')) !== undefined,
    gitTokens: (gitTokens.match(/"deviceId":\s*"dev1"/g) ?? []).length,
    clients: (clients.match(/"deviceId":\s*"dev1"/g) ?? []).length,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'margo-enrol-proxy-'));
  port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, MARGO_CONFIG: join(dir, 'config.json'), NO_COLOR: '1' };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env);
  proxy = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      res.statusCode = 502;
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  await stop(agent);
  await stop(server);
  await new Promise((r) => proxy.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('enrolment through an attacker-controlled proxy', { timeout: 300_000 }, () => {
  it('setup: init prints the CA fingerprint, serve, device add prints a string that pins it', async () => {
    const init = json<{ caFingerprint: string }>(
      await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
    );
    assert.match(init.caFingerprint, /^sha256:[0-9a-f]{64}$/);
    server = await cli.start(
      'serve',
      ['serve', '--data', 'margo-data'],
      /status\s+http:\/\/\S+\/api\/v1\/status/,
    );
    const add = json<{ enrolmentToken: string; caFingerprint: string }>(
      await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
    );
    enrolmentString = add.enrolmentToken;
    assert.equal(add.caFingerprint, init.caFingerprint);
    const parsed = parseEnrolmentString(enrolmentString);
    assert.equal(parsed.deviceId, 'dev1');
    assert.equal(`sha256:${parsed.caFingerprint}`, init.caFingerprint);
    const text = (await margo('device', 'add', 'dev9')).out;
    assert.match(text, /root CA fingerprint: sha256:[0-9a-f]{64}/);
    assert.match(text, /--token-file -/);
    tokenFile = join(dir, 'enrolment');
    await writeFile(tokenFile, enrolmentString + '\n', { mode: 0o600 });
  });

  it('(b) a proxy serving its own root CA is refused by the pinned agent; nothing is stored or sent', async () => {
    assert.ok(enrolmentString, 'setup ran');
    mode = 'own-ca';
    const r = await margo('agent', '--server', proxyUrl, '--token-file', tokenFile, '--state', 'state-b');
    assert.notEqual(r.code, 0, r.err);
    assert.match(r.err, /TRUST_ENROL_CA_MISMATCH/);
    assert.equal(identityStored('state-b'), false, 'no key, no CA, no enrolment stored');
    assert.equal(enrolAttempts().length, 0, 'the token was never used');
    assert.deepEqual(await issuedToDev1(), { cert: false, gitTokens: 0, clients: 0 });
  });

  it('(a) the device request replayed with the proxy own CSR is refused; nothing is issued, the token is kept', async () => {
    assert.ok(enrolmentString, 'setup ran');
    mode = 'swap-csr';
    const r = await margo('agent', '--server', proxyUrl, '--token-file', tokenFile, '--state', 'state-a');
    assert.notEqual(r.code, 0, r.err);
    const attempt = enrolAttempts().at(-1);
    assert.ok(attempt?.upstream, 'the proxy saw and forwarded the enrolment');
    assert.ok(
      !attempt.body.includes(parseEnrolmentString(enrolmentString).secret),
      'the secret never travels',
    );
    assert.equal(attempt.upstream.status, 401, attempt.upstream.body);
    assert.equal((JSON.parse(attempt.upstream.body) as { code: string }).code, 'TRUST_ENROL_PROOF_INVALID');
    assert.match(r.err, /TRUST_ENROL_PROOF_INVALID/);
    assert.doesNotMatch(attempt.upstream.body, /BEGIN CERTIFICATE|mgt_|mgc_/);
    assert.deepEqual(await issuedToDev1(), { cert: false, gitTokens: 0, clients: 0 });
    assert.equal(
      identityStored('state-a') && existsSync(join(dir, 'state-a', 'identity', 'enrolment.json')),
      false,
    );
  });

  it('(c) the honest enrolment with the same string works through the same proxy; the recorded request stays useless', async () => {
    assert.ok(enrolmentString, 'setup ran');
    mode = 'pass';
    agent = await cli.start(
      'agent',
      ['agent', '--server', proxyUrl, '--token-file', tokenFile, '--state', 'state-c'],
      /agent for device dev1 running/,
    );
    const e = JSON.parse(await readFile(join(dir, 'state-c', 'identity', 'enrolment.json'), 'utf8')) as {
      caFingerprint: string;
    };
    assert.equal(e.caFingerprint, parseEnrolmentString(enrolmentString).caFingerprint);
    assert.deepEqual(await issuedToDev1(), { cert: true, gitTokens: 1, clients: 1 });
    const honest = enrolAttempts().at(-1)!;
    assert.equal(honest.upstream?.status, 201);
    // the proxy relayed the answer but cannot read the device's Git token or client secret
    const creds = JSON.parse(await readFile(join(dir, 'state-c', 'identity', 'enrolment.json'), 'utf8')) as {
      token: string;
      clientSecret: string;
    };
    assert.ok(creds.token && creds.clientSecret);
    assert.ok(!honest.upstream!.body.includes(creds.token), 'Git token sealed to the device');
    assert.ok(!honest.upstream!.body.includes(creds.clientSecret), 'client secret sealed to the device');

    // the attacker replays what it recorded: as is, and with its own CSR
    const replay = async (body: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/onboarding`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, code: ((await res.json()) as { code: string }).code };
    };
    assert.deepEqual(await replay(honest.body), { status: 401, code: 'TRUST_ENROL_TOKEN_USED' });
    const swapped = JSON.stringify({ ...JSON.parse(honest.body), csr: attacker.dev.csrPem });
    assert.deepEqual(await replay(swapped), { status: 401, code: 'TRUST_ENROL_PROOF_INVALID' });
    const cert = await readDeviceCert(pkiDir(), 'dev1');
    const stored = await readFile(join(dir, 'state-c', 'identity', 'device.crt'), 'utf8');
    assert.equal(cert, stored, 'the only certificate for dev1 is the device own');
    // the device's Git token expires with its certificate
    const tokens = JSON.parse(
      await readFile(join(dir, 'margo-data', 'auth', 'tokens.json'), 'utf8'),
    ) as unknown;
    const rec = JSON.stringify(tokens).match(/\{[^{}]*"deviceId":"dev1"[^{}]*\}/)?.[0];
    assert.ok(rec, 'a Git token record for dev1');
    const expiresAt = (JSON.parse(rec) as { expiresAt?: string }).expiresAt;
    assert.equal(expiresAt && Date.parse(expiresAt), describeCertificate(stored).notAfter.getTime());
    assert.match(cli.logs.agent ?? '', /enrolled/);
  });

  it('malformed onboarding requests get 4xx problems (never 500, never a hang) and count towards the rate limit', async () => {
    assert.ok(enrolmentString, 'setup ran');
    const base = `http://127.0.0.1:${port}`;
    const json = { 'content-type': 'application/json' };
    const bad: [string, RequestInit][] = [
      ['/onboarding', { method: 'POST', headers: json, body: Buffer.alloc(2 << 20, 0x20) }],
      [
        '/onboarding',
        { method: 'POST', headers: { ...json, 'content-encoding': 'gzip' }, body: '\x1f\x8bjunk' },
      ],
      ['/onboarding', { method: 'POST', headers: json, body: '{"deviceId":' }],
      ['/onboarding/%zz', { method: 'POST', headers: json, body: '{}' }],
      ['/onboarding%', { method: 'GET' }],
      ['/oauth/token%00', { method: 'POST', body: 'grant_type=%zz' }],
      [
        '/onboarding',
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ deviceId: 'dev9', csr: 'x', enrolmentToken: 'mge_x' }),
        },
      ],
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 12 && !statuses.includes(429); i++) {
      const [path, init] = bad[i % bad.length]!;
      // a hang would be a failure: every answer must come within 10 s
      const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000) });
      statuses.push(res.status);
      assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status} ${await res.text()}`);
    }
    assert.ok(statuses.includes(429), `rate limited after malformed requests: ${statuses.join(' ')}`);
    // the limit now also holds back a well-formed request from this address
    const dev9 = createDeviceKeyAndCsr('dev9', { bits: BITS }).csrPem;
    const r = await fetch(`${base}/onboarding`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ deviceId: 'dev9', csr: dev9, tokenId: 'A'.repeat(16), proof: 'x' }),
    });
    assert.equal(r.status, 429);
    assert.equal((await readDeviceCert(pkiDir(), 'dev9')) !== undefined, false);
  });
});
