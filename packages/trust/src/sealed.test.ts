import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRootCA } from './ca.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import { isSealed, seal, sealFiles, unseal, unsealDeep, unsealFiles } from './sealed.js';

const BITS = 2048;
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const a = createDeviceKeyAndCsr('press-7', { bits: BITS });
const b = createDeviceKeyAndCsr('press-8', { bits: BITS });
const certA = signDeviceCsr(ca, a.csrPem, { expectedDeviceId: 'press-7' });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('seal/unseal round trip; ciphertext is randomised and hides the value', () => {
  const s1 = seal('registry-pässword', certA);
  const s2 = seal('registry-pässword', certA);
  assert.ok(isSealed(s1));
  assert.match(s1, /^sealed:v1:[A-Za-z0-9+/]+=*$/);
  assert.notEqual(s1, s2);
  assert.doesNotMatch(Buffer.from(s1.slice(10), 'base64').toString('latin1'), /registry/);
  assert.equal(unseal(s1, a.keyPem), 'registry-pässword');
  assert.equal(unseal(seal('', certA), a.keyPem), '');
  assert.equal(isSealed('plain'), false);
  assert.equal(isSealed(42), false);
});

test('unseal refuses with its codes', () => {
  const s = seal('secret', certA);
  const raw = Buffer.from(s.slice('sealed:v1:'.length), 'base64');
  const flipped = Buffer.from(raw);
  flipped[flipped.length - 1]! ^= 1;
  const cases: { name: string; value: string; key: string; code: string }[] = [
    { name: 'other device key', value: s, key: b.keyPem, code: 'TRUST_SEALED_WRONG_KEY' },
    {
      name: 'ciphertext flipped',
      value: 'sealed:v1:' + flipped.toString('base64'),
      key: a.keyPem,
      code: 'TRUST_SEALED_TAMPERED',
    },
    {
      name: 'truncated',
      value: 'sealed:v1:' + raw.subarray(0, 40).toString('base64'),
      key: a.keyPem,
      code: 'TRUST_SEALED_MALFORMED',
    },
    { name: 'not base64', value: 'sealed:v1:***', key: a.keyPem, code: 'TRUST_SEALED_MALFORMED' },
    { name: 'not sealed', value: 'secret', key: a.keyPem, code: 'TRUST_SEALED_MALFORMED' },
    { name: 'bad key', value: s, key: 'nope', code: 'TRUST_KEY_INVALID' },
  ];
  for (const c of cases)
    assert.equal(
      codeOf(() => unseal(c.value, c.key)),
      c.code,
      c.name,
    );
});

test('unsealDeep and sealFiles', () => {
  const doc = {
    spec: { parameters: { password: { value: seal('pw', certA) }, list: [seal('x', certA), 'plain', 3] } },
  };
  assert.deepEqual(unsealDeep(doc, a.keyPem), {
    spec: { parameters: { password: { value: 'pw' }, list: ['x', 'plain', 3] } },
  });
  const files = new Map([['deployments/a.yaml', Buffer.from('a: 1\n')]]);
  const sealed = sealFiles(files, certA);
  assert.deepEqual([...sealed.keys()], ['deployments/a.yaml.sealed']);
  assert.equal(unsealFiles(sealed, a.keyPem).get('deployments/a.yaml')?.toString(), 'a: 1\n');
});
