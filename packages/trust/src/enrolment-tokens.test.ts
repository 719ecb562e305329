import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  enrolmentProof,
  enrolmentProofKey,
  enrolmentProofMatches,
  formatEnrolmentString,
  newEnrolmentSecret,
  normaliseFingerprint,
  parseEnrolmentString,
} from './enrolment-proof.js';
import { EnrolmentTokenStore, type EnrolmentProofRequest } from './enrolment-tokens.js';
import { generateToken, hashToken, tokenMatchesHash } from './tokens.js';

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('tokens: random, prefixed, hashed', () => {
  const t1 = generateToken('mgt');
  assert.match(t1, /^mgt_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(t1, generateToken('mgt'));
  assert.match(hashToken(t1), /^[0-9a-f]{64}$/);
  assert.equal(tokenMatchesHash(t1, hashToken(t1)), true);
  assert.equal(tokenMatchesHash(t1 + 'x', hashToken(t1)), false);
  assert.throws(() => generateToken('Bad Prefix'), { code: 'USAGE_ERROR' } as never);
});

const FP = 'ab'.repeat(32);

/** What an honest device sends for `enrolment` and `csr`. */
function proofFor(enrolment: string, csr: string, deviceId?: string): EnrolmentProofRequest {
  const e = parseEnrolmentString(enrolment);
  const id = deviceId ?? e.deviceId;
  return {
    tokenId: e.tokenId,
    deviceId: id,
    csr,
    proof: enrolmentProof(enrolmentProofKey(e.secret, e.tokenId), { tokenId: e.tokenId, deviceId: id, csr }),
  };
}

test('enrolment string: format, parse, old form and malformed strings refused', () => {
  const { tokenId, secret } = newEnrolmentSecret();
  const s = formatEnrolmentString({ deviceId: 'line.3-a', tokenId, secret, caFingerprint: FP });
  assert.match(s, /^mge1\.line\.3-a\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(parseEnrolmentString(`  ${s}\n`), {
    deviceId: 'line.3-a',
    tokenId,
    secret,
    caFingerprint: FP,
  });
  for (const bad of [
    'press-7:mge_' + 'a'.repeat(43),
    'mge_' + 'a'.repeat(43),
    'mge2.press-7.' + tokenId + '.' + secret + '.' + 'q'.repeat(43),
    s.replace(/\.[^.]+$/, '.short'),
    s.replace(`.${secret}.`, '.x.'),
    'mge1..' + tokenId + '.' + secret + '.' + Buffer.from(FP, 'hex').toString('base64url'),
    '',
  ])
    assert.throws(() => parseEnrolmentString(bad), { code: 'TRUST_ENROL_STRING_INVALID' } as never, bad);
  assert.equal(normaliseFingerprint('SHA256:' + 'AB:'.repeat(31) + 'AB'), FP);
});

test('enrolment proof: bound to the CSR, the device id and the token id; constant-time check', () => {
  const { tokenId, secret } = newEnrolmentSecret();
  const key = enrolmentProofKey(secret, tokenId);
  assert.equal(key.length, 32);
  assert.notDeepEqual(key, Buffer.from(secret, 'base64url'), 'the stored key is not the secret');
  const p = { tokenId, deviceId: 'press-7', csr: 'CSR-A' };
  const proof = enrolmentProof(key, p);
  assert.equal(enrolmentProofMatches(key, p, proof), true);
  assert.equal(enrolmentProofMatches(key, { ...p, csr: 'CSR-B' }, proof), false);
  assert.equal(enrolmentProofMatches(key, { ...p, deviceId: 'press-8' }, proof), false);
  assert.equal(enrolmentProofMatches(key, { ...p, tokenId: 'x'.repeat(16) }, proof), false);
  assert.equal(enrolmentProofMatches(enrolmentProofKey(secret + 'x', tokenId), p, proof), false);
  for (const junk of [undefined, 42, '', 'not base64!', proof.slice(1)])
    assert.equal(enrolmentProofMatches(key, p, junk), false);
});

test('EnrolmentTokenStore: one-time, expiring, device-bound, proof-checked, no secret on disk', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'margo-enrol-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  let now = new Date('2026-01-01T00:00:00Z');
  const store = new EnrolmentTokenStore(data, { now: () => now });
  const a = await store.issue('press-7', { ttlSeconds: 600, caFingerprint: FP });
  const b = await store.issue('press-8', { ttlSeconds: 60, caFingerprint: FP });
  assert.equal(parseEnrolmentString(a.enrolment).caFingerprint, FP);
  assert.equal(a.caFingerprint, FP);
  const onDisk = await readFile(join(data, 'state', 'enrolment-tokens.json'), 'utf8');
  assert.doesNotMatch(onDisk, new RegExp(parseEnrolmentString(a.enrolment).secret));
  assert.match(onDisk, new RegExp(a.tokenId));
  assert.equal((await stat(join(data, 'state', 'enrolment-tokens.json'))).mode & 0o777, 0o600);
  assert.ok(
    (await store.list()).every((r) => r.key === undefined),
    'list() hides the keys',
  );

  const good = proofFor(a.enrolment, 'CSR-A');
  const cases: { name: string; req: EnrolmentProofRequest; code: string | undefined }[] = [
    { name: 'unknown', req: { ...good, tokenId: 'x'.repeat(16) }, code: 'TRUST_ENROL_TOKEN_UNKNOWN' },
    { name: 'proof over another CSR', req: { ...good, csr: 'CSR-PROXY' }, code: 'TRUST_ENROL_PROOF_INVALID' },
    { name: 'junk proof', req: { ...good, proof: 'AAAA' }, code: 'TRUST_ENROL_PROOF_INVALID' },
    {
      name: 'other device',
      req: proofFor(a.enrolment, 'CSR-A', 'press-8'),
      code: 'TRUST_ENROL_TOKEN_WRONG_DEVICE',
    },
    { name: 'valid (bad proofs did not use it up)', req: good, code: undefined },
    { name: 'reused', req: good, code: 'TRUST_ENROL_TOKEN_USED' },
    {
      name: 'reused, proof for another CSR',
      req: { ...good, csr: 'CSR-B' },
      code: 'TRUST_ENROL_PROOF_INVALID',
    },
  ];
  for (const c of cases) assert.equal(await codeOfAsync(() => store.consume(c.req)), c.code, c.name);
  const bReq = proofFor(b.enrolment, 'CSR');
  assert.equal(await codeOfAsync(() => store.check(bReq)), undefined);
  now = new Date(now.getTime() + 61_000);
  assert.equal(await codeOfAsync(() => store.consume(bReq)), 'TRUST_ENROL_TOKEN_EXPIRED');

  // concurrent consumers: exactly one wins (also across store instances, i.e. processes)
  const c = await store.issue('press-9', { caFingerprint: FP });
  const cReq = proofFor(c.enrolment, 'CSR');
  const other = new EnrolmentTokenStore(data, { now: () => now });
  const results = await Promise.allSettled([store.consume(cReq), other.consume(cReq), store.consume(cReq)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(
    results.every(
      (r) => r.status === 'fulfilled' || (r.reason as { code: string }).code === 'TRUST_ENROL_TOKEN_USED',
    ),
  );

  const d = await store.issue('press-10', { caFingerprint: FP });
  assert.equal(await store.revokeForDevice('press-10'), 1);
  assert.equal(
    await codeOfAsync(() => store.consume(proofFor(d.enrolment, 'CSR'))),
    'TRUST_ENROL_TOKEN_UNKNOWN',
  );
  assert.equal(
    await codeOfAsync(() => store.issue('bad/id', { caFingerprint: FP })),
    'TRUST_DEVICE_ID_INVALID',
  );
  // without a fingerprint the store pins <data>/pki's CA, and there is none here
  assert.notEqual(await codeOfAsync(() => store.issue('press-11')), undefined);
});
