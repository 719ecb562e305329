import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRootCA, createSigningKey } from './ca.js';
import { createDeviceKeyAndCsr, signDeviceCsr } from './device-identity.js';
import {
  MANIFEST_FILE,
  buildManifest,
  createSignedManifest,
  needsResign,
  parseManifestVersion,
  parseSignedManifest,
  signManifest,
  verifyManifest,
  type VerifyManifestOptions,
} from './manifest.js';

const BITS = 2048;
const DAY = 86_400_000;
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: BITS });
const signing = createSigningKey(ca, { bits: BITS, validityDays: 20 });
const rotated = createSigningKey(ca, { bits: BITS, validityDays: 20 });
const otherCa = createRootCA({ commonName: 'attacker root', validityDays: 30, bits: BITS });
const foreignSigning = createSigningKey(otherCa, { bits: BITS });
const dev = createDeviceKeyAndCsr('press-7', { bits: BITS });
const deviceCert = {
  certPem: signDeviceCsr(ca, dev.csrPem, { expectedDeviceId: 'press-7' }),
  keyPem: dev.keyPem,
};

const now = new Date();
const files = new Map<string, Buffer>([
  ['deployments/web.yaml', Buffer.from('kind: ApplicationDeployment\nname: web\n')],
  ['deployments/db.yaml', Buffer.from('kind: ApplicationDeployment\nname: db\n')],
]);
const good = createSignedManifest(
  { deviceId: 'press-7', files, version: 5n, expiresAt: new Date(now.getTime() + 7 * DAY) },
  signing,
);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

function withFile(p: string, content: string | undefined): Map<string, Buffer> {
  const m = new Map(files);
  if (content === undefined) m.delete(p);
  else m.set(p, Buffer.from(content));
  return m;
}

function editManifest(bytes: Buffer, edit: (doc: any) => void): Buffer {
  const doc = JSON.parse(bytes.toString('utf8'));
  edit(doc);
  return Buffer.from(JSON.stringify(doc));
}

test('buildManifest is canonical: sorted paths, sha256 of every file, decimal version', () => {
  const m = buildManifest({
    deviceId: 'press-7',
    files: new Map([...files, [MANIFEST_FILE, Buffer.from('x')]]),
    version: '18446744073709551615',
    expiresAt: now,
    issuedAt: now,
  });
  assert.deepEqual(Object.keys(m.files), ['deployments/db.yaml', 'deployments/web.yaml']);
  assert.match(m.files['deployments/web.yaml']!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(m.version, '18446744073709551615');
  for (const bad of ['0', '18446744073709551616', '-1', '1.5', '01', 0, 2 ** 60])
    assert.equal(
      codeOf(() => parseManifestVersion(bad as never)),
      'TRUST_MANIFEST_VERSION_INVALID',
      String(bad),
    );
  assert.equal(
    codeOf(() =>
      buildManifest({
        deviceId: 'press-7',
        files: new Map([['../x', Buffer.alloc(0)]]),
        version: 1,
        expiresAt: now,
      }),
    ),
    'TRUST_MANIFEST_MALFORMED',
  );
});

test('verifyManifest accepts the signed tree and reports the version and signer', () => {
  const v = verifyManifest(good, {
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    files,
    lastAppliedVersion: 4n,
    now,
  });
  assert.equal(v.version, 5n);
  assert.equal(v.unchanged, false);
  assert.match(v.digest, /^sha256:/);
  // the same manifest re-checked after it was applied is not a rollback
  const again = verifyManifest(good, {
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    files,
    lastAppliedVersion: '5',
    lastAppliedDigest: v.digest,
    now,
  });
  assert.equal(again.unchanged, true);
  // the manifest file in the tree is ignored
  verifyManifest(good, {
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    files: new Map([...files, [MANIFEST_FILE, good]]),
    now,
  });
  // a rotated signing key (same CA) is accepted without any change on the device
  const byRotated = createSignedManifest(
    { deviceId: 'press-7', files, version: 6n, expiresAt: new Date(now.getTime() + DAY) },
    rotated,
  );
  assert.equal(
    verifyManifest(byRotated, {
      caCertPem: ca.certPem,
      deviceId: 'press-7',
      files,
      lastAppliedVersion: 5n,
      now,
    }).version,
    6n,
  );
});

test('verifyManifest refuses each attack with its own code', () => {
  const base: VerifyManifestOptions = {
    caCertPem: ca.certPem,
    deviceId: 'press-7',
    files,
    lastAppliedVersion: 4n,
    now,
  };
  const v5 = verifyManifest(good, base);
  const cases: {
    name: string;
    bytes: Buffer | undefined;
    opts?: Partial<VerifyManifestOptions>;
    code: string;
  }[] = [
    { name: 'no manifest', bytes: undefined, code: 'TRUST_MANIFEST_MISSING' },
    { name: 'empty manifest', bytes: Buffer.alloc(0), code: 'TRUST_MANIFEST_MISSING' },
    { name: 'not JSON', bytes: Buffer.from('{'), code: 'TRUST_MANIFEST_MALFORMED' },
    {
      name: 'no signature',
      bytes: editManifest(good, (d) => delete d.signature),
      code: 'TRUST_MANIFEST_MALFORMED',
    },
    {
      name: 'hash of a file edited in the manifest',
      bytes: editManifest(
        good,
        (d) => (d.manifest.files['deployments/web.yaml'] = 'sha256:' + '0'.repeat(64)),
      ),
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
    {
      name: 'version raised in the manifest',
      bytes: editManifest(good, (d) => (d.manifest.version = '999')),
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
    {
      name: 'expiry extended in the manifest',
      bytes: editManifest(good, (d) => (d.manifest.expiresAt = '2999-01-01T00:00:00.000Z')),
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
    {
      name: 'signature bytes flipped',
      bytes: editManifest(
        good,
        (d) => (d.signature.value = Buffer.from(d.signature.value, 'base64').reverse().toString('base64')),
      ),
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
    {
      name: 'signer cert swapped for a rotated one',
      bytes: editManifest(good, (d) => (d.signer.certificates = [rotated.certPem])),
      code: 'TRUST_MANIFEST_SIGNATURE_INVALID',
    },
    {
      name: 'signed by another CA',
      bytes: createSignedManifest(
        { deviceId: 'press-7', files, version: 9n, expiresAt: new Date(now.getTime() + DAY) },
        foreignSigning,
      ),
      code: 'TRUST_MANIFEST_SIGNER_UNTRUSTED',
    },
    {
      name: 'signed by a device key',
      bytes: createSignedManifest(
        { deviceId: 'press-7', files, version: 9n, expiresAt: new Date(now.getTime() + DAY) },
        deviceCert,
      ),
      code: 'TRUST_MANIFEST_SIGNER_UNTRUSTED',
    },
    {
      name: 'signed by the CA key itself',
      bytes: signManifest(
        buildManifest({ deviceId: 'press-7', files, version: 9n, expiresAt: new Date(now.getTime() + DAY) }),
        ca.keyPem,
        ca.certPem,
      ),
      code: 'TRUST_MANIFEST_SIGNER_UNTRUSTED',
    },
    {
      name: 'signer certificate expired',
      bytes: good,
      opts: { now: new Date(now.getTime() + 25 * DAY) },
      code: 'TRUST_MANIFEST_SIGNER_UNTRUSTED',
    },
    {
      name: 'for another device',
      bytes: good,
      opts: { deviceId: 'press-8' },
      code: 'TRUST_MANIFEST_WRONG_DEVICE',
    },
    {
      name: 'replay of the applied version',
      bytes: good,
      opts: { lastAppliedVersion: 5n },
      code: 'TRUST_MANIFEST_ROLLBACK',
    },
    {
      name: 'same version, other digest',
      bytes: good,
      opts: { lastAppliedVersion: 5n, lastAppliedDigest: 'sha256:00' },
      code: 'TRUST_MANIFEST_ROLLBACK',
    },
    {
      name: 'older version',
      bytes: good,
      opts: { lastAppliedVersion: '18446744073709551615' },
      code: 'TRUST_MANIFEST_ROLLBACK',
    },
    {
      name: 'expired',
      bytes: good,
      opts: { now: new Date(now.getTime() + 8 * DAY) },
      code: 'TRUST_MANIFEST_EXPIRED',
    },
    {
      name: 'file edited on the host',
      bytes: good,
      opts: { files: withFile('deployments/web.yaml', 'kind: evil\n') },
      code: 'TRUST_MANIFEST_FILE_CHANGED',
    },
    {
      name: 'file added on the host',
      bytes: good,
      opts: { files: withFile('deployments/miner.yaml', 'kind: evil\n') },
      code: 'TRUST_MANIFEST_FILE_ADDED',
    },
    {
      name: 'file removed on the host',
      bytes: good,
      opts: { files: withFile('deployments/db.yaml', undefined) },
      code: 'TRUST_MANIFEST_FILE_MISSING',
    },
  ];
  for (const c of cases)
    assert.equal(
      codeOf(() => verifyManifest(c.bytes, { ...base, ...c.opts })),
      c.code,
      c.name,
    );
  assert.equal(v5.version, 5n);
});

test('refusal data names paths, never contents', () => {
  try {
    verifyManifest(good, {
      caCertPem: ca.certPem,
      deviceId: 'press-7',
      files: withFile('deployments/web.yaml', 'password: hunter2\n'),
      now,
    });
    assert.fail('accepted');
  } catch (e) {
    const err = e as { code: string; data: { changed: string[] }; message: string };
    assert.equal(err.code, 'TRUST_MANIFEST_FILE_CHANGED');
    assert.deepEqual(err.data.changed, ['deployments/web.yaml']);
    assert.doesNotMatch(JSON.stringify(err) + err.message, /hunter2/);
  }
});

test('needsResign: before expiry window, after rotation, when unreadable', () => {
  const cases: {
    name: string;
    bytes: Buffer | undefined;
    at: Date;
    signingCertPem?: string;
    want: boolean;
  }[] = [
    { name: 'fresh', bytes: good, at: now, signingCertPem: signing.certPem, want: false },
    { name: 'inside the renew window', bytes: good, at: new Date(now.getTime() + 6 * DAY), want: true },
    {
      name: 'signer certificate about to expire',
      bytes: good,
      at: new Date(now.getTime() + 19 * DAY),
      want: true,
    },
    { name: 'signed by the previous key', bytes: good, at: now, signingCertPem: rotated.certPem, want: true },
    { name: 'missing', bytes: undefined, at: now, want: true },
    { name: 'garbage', bytes: Buffer.from('x'), at: now, want: true },
  ];
  for (const c of cases) {
    assert.equal(
      needsResign(c.bytes, c.at, { renewBeforeMs: 2 * DAY, signingCertPem: c.signingCertPem }),
      c.want,
      c.name,
    );
  }
  assert.equal(parseSignedManifest(good).manifest.version, '5');
});

test('nextManifestVersion increases and follows the clock; AppliedManifestStore persists and refuses to go back', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { nextManifestVersion, AppliedManifestStore } = await import('./manifest-state.js');
  const at = new Date('2026-01-01T00:00:00Z');
  const clock = BigInt(at.getTime()) * 1000n;
  assert.equal(nextManifestVersion(undefined, at), clock);
  assert.equal(nextManifestVersion(clock + 10n, at), clock + 11n);
  assert.equal(nextManifestVersion(good, at), clock, 'an old small version is overtaken by the clock');
  assert.equal(nextManifestVersion(Buffer.from('junk'), at), clock);

  const dir = await mkdtemp(join(tmpdir(), 'margo-applied-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mem = new AppliedManifestStore(join(dir, 'identity', 'applied-manifest.json'));
  assert.equal(await mem.read(), undefined);
  const v = verifyManifest(good, { caCertPem: ca.certPem, deviceId: 'press-7', files, now });
  await mem.record('press-7', v, 'abc');
  const restarted = new AppliedManifestStore(mem.path);
  const last = await restarted.read();
  assert.equal(last?.version, '5');
  assert.equal(
    codeOf(() =>
      verifyManifest(good, {
        caCertPem: ca.certPem,
        deviceId: 'press-7',
        files,
        lastAppliedVersion: last?.version,
        now,
      }),
    ),
    'TRUST_MANIFEST_ROLLBACK',
  );
  await assert.rejects(restarted.record('press-7', { version: 4n, digest: 'x' }), {
    code: 'TRUST_MANIFEST_ROLLBACK',
  } as never);
});
