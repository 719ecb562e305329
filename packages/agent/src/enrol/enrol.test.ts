// The orchestrator's real onboarding handler is exercised together with this client in
// test/security/; here a minimal real HTTP server (built on the trust library) stands in for it,
// because the agent package must not import the orchestrator.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  certificateFingerprint,
  createRootCA,
  enrolmentProofKey,
  enrolmentProofMatches,
  formatEnrolmentString,
  newEnrolmentSecret,
  seal,
  signDeviceCsr,
  type KeyAndCert,
} from '@margo-gitops/trust';
import { enrol, forgetEnrolment, updateRepositoryToken } from './enrol.js';
import { identityPaths, loadEnrolment } from './enrolment-state.js';

const BITS = 2048;
const ca = createRootCA({ commonName: 'test root', bits: BITS });
const otherCa = createRootCA({ commonName: 'other root', bits: BITS });
const token = newEnrolmentSecret();
/** An enrolment string as `margo device add` prints it (pinning `pin`, default the fake server's CA). */
const enrolmentFor = (deviceId: string, pin = certificateFingerprint(ca.certPem)) =>
  formatEnrolmentString({ deviceId, ...token, caFingerprint: pin });

type Behaviour = 'ok' | 'refuse' | 'fail' | 'foreign-cert' | 'plaintext';

async function fakeServer(t: import('node:test').TestContext) {
  const state = {
    behaviour: 'ok' as Behaviour,
    bodies: [] as string[],
    csrs: [] as string[],
    proofsOk: [] as boolean[],
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/onboarding/certificate') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ certificate: Buffer.from(ca.certPem).toString('base64') }));
    }
    state.bodies.push(text);
    const body = JSON.parse(text) as { deviceId: string; csr: string; tokenId: string; proof: string };
    state.csrs.push(body.csr);
    state.proofsOk.push(
      enrolmentProofMatches(enrolmentProofKey(token.secret, body.tokenId), body, body.proof),
    );
    if (state.behaviour === 'refuse') {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      return res.end(
        JSON.stringify({
          type: 'x',
          title: 't',
          status: 401,
          detail: 'the enrolment token was already used',
          code: 'TRUST_ENROL_TOKEN_USED',
        }),
      );
    }
    if (state.behaviour === 'fail') {
      res.writeHead(500, { 'content-type': 'application/problem+json' });
      return res.end(JSON.stringify({ status: 500, detail: 'internal error', code: 'INTERNAL_ERROR' }));
    }
    const issuer: KeyAndCert = state.behaviour === 'foreign-cert' ? otherCa : ca;
    const cert = signDeviceCsr(issuer, body.csr, { expectedDeviceId: body.deviceId });
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        deviceId: body.deviceId,
        clientId: 'c-1',
        clientSecret: state.behaviour === 'plaintext' ? 'mgc_secret' : seal('mgc_secret', cert),
        tokenEndpoint: 'http://x/oauth/token',
        certificate: cert,
        caCertificate: ca.certPem,
        repository: {
          url: `http://x/git/devices/${body.deviceId}.git`,
          token: state.behaviour === 'plaintext' ? 'mgt_git' : seal('mgt_git', cert),
        },
        api: { url: 'https://127.0.0.1:8471' },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'margo-agent-enrol-'));
  t.after(async () => {
    await new Promise((r) => server.close(r));
    await rm(stateDir, { recursive: true, force: true });
  });
  return { state, url, stateDir };
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('enrol stores an owner-only identity; the key never leaves; loadEnrolment resumes', async (t) => {
  const s = await fakeServer(t);
  const e = await enrol({
    serverUrl: s.url,
    enrolment: enrolmentFor('press-7'),
    stateDir: s.stateDir,
    caFingerprint: certificateFingerprint(ca.certPem).replace(/(..)(?!$)/g, '$1:'),
    bits: BITS,
  });
  // the request carries a proof over its own CSR, never the secret
  assert.deepEqual(s.state.proofsOk, [true]);
  assert.ok(!s.state.bodies[0]!.includes(token.secret));
  const sent = JSON.parse(s.state.bodies[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(sent).sort(), ['csr', 'deviceId', 'proof', 'tokenId']);
  assert.equal(sent.tokenId, token.tokenId);
  assert.equal(e.deviceId, 'press-7');
  assert.equal(e.repoUrl, 'http://x/git/devices/press-7.git');
  assert.equal(e.token, 'mgt_git');
  assert.equal(e.apiUrl, 'https://127.0.0.1:8471', 'the API the answer named is kept (auto transport)');
  assert.equal(e.caCertPem, ca.certPem);
  const p = identityPaths(s.stateDir);
  assert.equal((await stat(p.dir)).mode & 0o777, 0o700);
  assert.equal((await stat(p.key)).mode & 0o777, 0o600);
  assert.equal((await stat(p.enrolment)).mode & 0o777, 0o600);
  const keyPem = await readFile(p.key, 'utf8');
  assert.ok(s.state.bodies.every((b) => !b.includes('PRIVATE KEY')));
  assert.ok(!s.state.bodies.some((b) => b.includes(keyPem.split('\n')[1]!)));
  // agent config's enrolmentFile keys
  const rec = JSON.parse(await readFile(p.enrolment, 'utf8'));
  assert.deepEqual(
    [rec.deviceId, rec.repoUrl, rec.token],
    ['press-7', 'http://x/git/devices/press-7.git', 'mgt_git'],
  );

  const again = await enrol({ serverUrl: s.url, enrolment: enrolmentFor('press-7'), stateDir: s.stateDir });
  assert.equal(again.certificateSerial, e.certificateSerial);
  assert.equal(s.state.bodies.length, 1, 'already enrolled: no second request');
  assert.equal((await loadEnrolment(s.stateDir)).certPem, e.certPem);
  assert.equal(
    await codeOfAsync(() =>
      enrol({ serverUrl: s.url, enrolment: enrolmentFor('press-8'), stateDir: s.stateDir }),
    ),
    'TRUST_ENROL_STATE_CONFLICT',
  );

  await updateRepositoryToken(s.stateDir, 'mgt_rotated');
  assert.equal((await loadEnrolment(s.stateDir)).token, 'mgt_rotated');

  await chmod(p.key, 0o644);
  assert.equal(await codeOfAsync(() => loadEnrolment(s.stateDir)), 'TRUST_PKI_INSECURE_PERMISSIONS');
  await forgetEnrolment(s.stateDir);
  assert.equal(await codeOfAsync(() => loadEnrolment(s.stateDir)), 'TRUST_ENROL_STATE_MISSING');
});

test('enrol refuses a CA that does not match the pin, before making a key; a bad string before any request', async (t) => {
  const s = await fakeServer(t);
  // the string pins another CA than the one served
  const code = await codeOfAsync(() =>
    enrol({
      serverUrl: s.url,
      enrolment: enrolmentFor('press-7', certificateFingerprint(otherCa.certPem)),
      stateDir: s.stateDir,
      bits: BITS,
    }),
  );
  assert.equal(code, 'TRUST_ENROL_CA_MISMATCH');
  // an explicit pin that disagrees with the string
  assert.equal(
    await codeOfAsync(() =>
      enrol({
        serverUrl: s.url,
        enrolment: enrolmentFor('press-7'),
        caFingerprint: certificateFingerprint(otherCa.certPem),
        stateDir: s.stateDir,
      }),
    ),
    'TRUST_ENROL_CA_MISMATCH',
  );
  assert.equal(s.state.bodies.length, 0);
  await assert.rejects(stat(identityPaths(s.stateDir).dir), 'nothing stored');
  // the old bearer form is refused before anything is sent
  assert.equal(
    await codeOfAsync(() =>
      enrol({ serverUrl: s.url, enrolment: `press-7:mge_${'a'.repeat(43)}`, stateDir: s.stateDir }),
    ),
    'TRUST_ENROL_STRING_INVALID',
  );
  assert.equal(s.state.bodies.length, 0);
});

test('enrol surfaces server refusals by code, rejects foreign certificates, and resumes with the same key', async (t) => {
  const s = await fakeServer(t);
  const opts = { serverUrl: s.url, enrolment: enrolmentFor('press-7'), stateDir: s.stateDir, bits: BITS };
  s.state.behaviour = 'refuse';
  assert.equal(await codeOfAsync(() => enrol(opts)), 'TRUST_ENROL_TOKEN_USED');
  s.state.behaviour = 'fail';
  assert.equal(await codeOfAsync(() => enrol(opts)), 'INTERNAL_ERROR');
  s.state.behaviour = 'foreign-cert';
  assert.equal(await codeOfAsync(() => enrol(opts)), 'TRUST_ENROL_RESPONSE_INVALID');
  s.state.behaviour = 'plaintext'; // credentials a proxy could have read (or swapped) on the way
  assert.equal(await codeOfAsync(() => enrol(opts)), 'TRUST_ENROL_RESPONSE_INVALID');
  await assert.rejects(stat(identityPaths(s.stateDir).enrolment), 'nothing stored for a refused answer');
  s.state.behaviour = 'ok';
  const e = await enrol(opts);
  // every attempt sent a CSR for the same key (made once, kept 0600)
  const keys = new Set(
    s.state.csrs.map(
      (c) => createPublicKey(e.certPem).export({ type: 'spki', format: 'pem' }) === spkiOfCsr(c),
    ),
  );
  assert.deepEqual([...keys], [true]);
  assert.equal(
    await codeOfAsync(() =>
      enrol({ ...opts, serverUrl: 'http://127.0.0.1:1', stateDir: join(s.stateDir, 'other') }),
    ),
    'TRUST_ENROL_SERVER_ERROR',
  );
});

function spkiOfCsr(csrPem: string): string {
  // sign it to read its key with node:crypto (the agent does not import node-forge)
  const cert = signDeviceCsr(ca, csrPem, { expectedDeviceId: 'press-7' });
  return createPublicKey(cert).export({ type: 'spki', format: 'pem' }) as string;
}
