import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import forge from 'node-forge';
import { createRootCA, createSigningKey, issueCertificate } from './ca.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import { writePki } from './pki-store.js';
import {
  clientSpiffeId,
  identifyPeer,
  parseSpiffeId,
  spiffeBundle,
  uriSans,
  wfmSpiffeId,
  type SpiffeIdentity,
} from './spiffe.js';
import { ensureServerSvid, issueDeviceSvid, issueServerSvid, readSpiffeIdentity } from './svid.js';

const BITS = 2048; // tests only; production default is 3072
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const otherCa = createRootCA({ commonName: 'attacker root', validityDays: 30, bits: BITS });
const id: SpiffeIdentity = { trustDomain: 'plant.example', wfmId: 'abc123' };
const caX = new X509Certificate(ca.certPem);
const never = () => false;

/** A client certificate under `issuer` with exactly the given URI SANs (what an attacker with that CA could make). */
function clientCert(issuer: typeof ca, uris: string[], o: { now?: Date; days?: number; eku?: boolean } = {}) {
  const keys = forge.pki.rsa.generateKeyPair({ bits: BITS });
  const cert = issueCertificate(
    issuer,
    keys.publicKey,
    [{ shortName: 'CN', value: 'dev1' }],
    [
      { name: 'basicConstraints', cA: false },
      ...(o.eku === false ? [] : [{ name: 'extKeyUsage', clientAuth: true }]),
      ...(uris.length
        ? [{ name: 'subjectAltName', altNames: uris.map((value) => ({ type: 6, value })) }]
        : []),
    ],
    o.days ?? 10,
    o.now ?? new Date(),
  );
  return new X509Certificate(forge.pki.certificateToPem(cert));
}

test('SPIFFE names: server and client forms, parse refuses what the SPIFFE-ID spec refuses', () => {
  assert.equal(wfmSpiffeId(id), 'spiffe://plant.example/margo/wfm/abc123');
  assert.equal(clientSpiffeId(id, 'dev1'), 'spiffe://plant.example/margo/wfm/abc123/client/dev1');
  assert.deepEqual(parseSpiffeId('spiffe://td/a/b'), { trustDomain: 'td', segments: ['a', 'b'] });
  for (const bad of [
    'spiffe://TD/a',
    'spiffe://td/a/',
    'spiffe://td//a',
    'spiffe://td/a/../b',
    'https://td/a',
    'spiffe://td:8/a',
    'spiffe://td/a?x',
  ])
    assert.equal(parseSpiffeId(bad), undefined, bad);
});

test('an enrolled device certificate is an SVID: identifyPeer gives its device id', () => {
  const dev = createDeviceKeyAndCsr('dev1', { bits: BITS });
  const pem = signDeviceCsr(ca, dev.csrPem, {
    expectedDeviceId: 'dev1',
    spiffeId: clientSpiffeId(id, 'dev1'),
  });
  const cert = new X509Certificate(pem);
  assert.deepEqual(uriSans(cert), [clientSpiffeId(id, 'dev1')]);
  const r = identifyPeer([cert.raw], { ca: caX, ...id, isRevoked: never });
  assert.ok('deviceId' in r && r.deviceId === 'dev1', JSON.stringify(r));
  const revoked = identifyPeer([cert], { ca: caX, ...id, isRevoked: () => true });
  assert.deepEqual(revoked, { problem: 'API_CLIENT_CERT_REVOKED', status: 403 });
  // A device certificate from before the API (no URI SAN) is no SVID.
  const old = new X509Certificate(signDeviceCsr(ca, dev.csrPem, { expectedDeviceId: 'dev1' }));
  assert.equal(
    (identifyPeer([old], { ca: caX, ...id, isRevoked: never }) as { problem: string }).problem,
    'API_SPIFFE_ID_INVALID',
  );
});

test('identifyPeer refuses each forged or wrong identity with its own code', () => {
  const opts = { ca: caX, ...id, isRevoked: never };
  const good = clientSpiffeId(id, 'dev1');
  const cases: [string, ReadonlyArray<Uint8Array | X509Certificate>, string][] = [
    ['no certificate', [], 'API_CLIENT_CERT_REQUIRED'],
    ['empty DER', [Buffer.alloc(0)], 'API_CLIENT_CERT_REQUIRED'],
    ['garbage', [Buffer.from('not a cert')], 'API_CLIENT_CERT_UNTRUSTED'],
    ['another CA', [clientCert(otherCa, [good])], 'API_CLIENT_CERT_UNTRUSTED'],
    ['the CA itself', [caX], 'API_CLIENT_CERT_UNTRUSTED'],
    ['no clientAuth', [clientCert(ca, [good], { eku: false })], 'API_CLIENT_CERT_UNTRUSTED'],
    [
      'expired',
      [clientCert(ca, [good], { now: new Date(Date.now() - 20 * 86400e3), days: 1 })],
      'API_CLIENT_CERT_EXPIRED',
    ],
    [
      'other trust domain',
      [clientCert(ca, ['spiffe://evil.example/margo/wfm/abc123/client/dev1'])],
      'API_SPIFFE_ID_INVALID',
    ],
    [
      'other wfm',
      [clientCert(ca, ['spiffe://plant.example/margo/wfm/zzz/client/dev1'])],
      'API_SPIFFE_ID_INVALID',
    ],
    ['server form', [clientCert(ca, [wfmSpiffeId(id)])], 'API_SPIFFE_ID_INVALID'],
    ['two URIs', [clientCert(ca, [good, clientSpiffeId(id, 'dev2')])], 'API_SPIFFE_ID_INVALID'],
    ['no URI', [clientCert(ca, [])], 'API_SPIFFE_ID_INVALID'],
    ['bad device id', [clientCert(ca, [`${wfmSpiffeId(id)}/client/-x`])], 'API_SPIFFE_ID_INVALID'],
    ['extra segment', [clientCert(ca, [`${good}/more`])], 'API_SPIFFE_ID_INVALID'],
  ];
  for (const [what, chain, code] of cases) {
    const r = identifyPeer(chain, opts);
    assert.equal('problem' in r ? r.problem : 'accepted', code, what);
  }
});

test('server SVID: URI + IP/DNS SANs, serverAuth; ensureServerSvid keeps a good one and renews otherwise', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'svid-'));
  try {
    const p = await writePki(join(dir, 'pki'), { ca, signing: createSigningKey(ca, { bits: BITS }) });
    const s = issueServerSvid(ca, id, ['127.0.0.1', 'localhost', '0.0.0.0'], { bits: BITS });
    const c = new X509Certificate(s.certPem);
    assert.equal(c.subjectAltName, `URI:${wfmSpiffeId(id)}, IP Address:127.0.0.1, DNS:localhost`);
    assert.ok(c.checkIP('127.0.0.1') && c.checkHost('localhost'));
    const a = await ensureServerSvid(p, id, ['127.0.0.1']);
    assert.equal(a.renewed, true);
    assert.equal((await stat(join(p.dir, 'api-server.key'))).mode & 0o777, 0o600);
    const b = await ensureServerSvid(p, id, ['127.0.0.1']);
    assert.equal(b.renewed, false);
    assert.equal(b.certPem, a.certPem);
    assert.equal((await ensureServerSvid(p, id, ['127.0.0.1', 'wfm.example'])).renewed, true, 'new host');
    assert.equal(
      (await ensureServerSvid(p, { ...id, wfmId: 'other' }, ['127.0.0.1'])).renewed,
      true,
      'new id',
    );
    assert.equal(
      (await ensureServerSvid(p, id, ['127.0.0.1'], new Date(Date.now() + 80 * 86400e3))).renewed,
      true,
      'expiring',
    );
    // Identity defaults: trust domain constant, WFM id from the CA fingerprint.
    const d = await readSpiffeIdentity(p.dir);
    assert.equal(d.trustDomain, 'margo-gitops.internal');
    assert.match(d.wfmId, /^[0-9a-f]{16}$/);
    // A device SVID is stored like an enrolled certificate (so revoke finds it) and identifies.
    const dev = await issueDeviceSvid(p, d, 'dev9', { bits: BITS });
    assert.equal(dev.spiffeId, clientSpiffeId(d, 'dev9'));
    const r = identifyPeer([new X509Certificate(dev.certPem)], { ca: caX, ...d, isRevoked: never });
    assert.ok('deviceId' in r && r.deviceId === 'dev9');
    await assert.rejects(issueDeviceSvid(p, d, 'dev9', { bits: BITS }), {
      code: 'TRUST_DEVICE_ALREADY_ENROLLED',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('trust bundle: a JWK set with the CA as x509-svid key', () => {
  const b = spiffeBundle(ca.certPem) as { keys: { use: string; kty: string; x5c: string[] }[] };
  assert.equal(b.keys.length, 1);
  assert.equal(b.keys[0]!.use, 'x509-svid');
  assert.equal(b.keys[0]!.kty, 'RSA');
  assert.ok(new X509Certificate(Buffer.from(b.keys[0]!.x5c[0]!, 'base64')).raw.equals(caX.raw));
});
