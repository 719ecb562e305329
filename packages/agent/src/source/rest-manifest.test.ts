import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { tarGz } from '@margo-gitops/oci';
import { isMargoError } from '@margo-gitops/spec';
import { readBundle } from './rest-bundle.js';
import {
  checkNotReplayed,
  compareVersions,
  layoutDesiredFiles,
  parseStateManifest,
  readManifestVersion,
  sha256,
  versionToken,
} from './rest-manifest.js';
import { statusRequest } from './rest-status-sink.js';

const code = (c: string) => (e: unknown) => isMargoError(e) && e.code === c;

test('manifestVersion: exact digits beyond 2^53, top level only', () => {
  const big = '18446744073709551615'; // 2^64 - 1
  assert.equal(readManifestVersion(`{"manifestVersion":${big},"deployments":[]}`), big);
  assert.equal(JSON.parse(`{"v":${big}}`).v === Number(big), true, 'JSON.parse would round it');
  assert.equal(
    readManifestVersion(
      '{"x":{"manifestVersion":5},"s":"\\"manifestVersion\\":7", "manifestVersion" : 9007199254740993}',
    ),
    '9007199254740993',
  );
  for (const bad of [
    '{"deployments":[]}',
    '{"manifestVersion":0}',
    '{"manifestVersion":-1}',
    '{"manifestVersion":1.5}',
    '{"manifestVersion":1e3}',
    '{"manifestVersion":"3"}',
    '{"manifestVersion":18446744073709551616}',
    '{"manifestVersion":1,"manifestVersion":2}',
  ])
    assert.throws(() => readManifestVersion(bad), code('AGENT_API_ANSWER_INVALID'), bad);
});

test('version comparison and the replay rule (strictly greater; the applied one may be re-checked)', () => {
  assert.equal(compareVersions('9007199254740993', '9007199254740992'), 1);
  assert.equal(compareVersions('10', '9'), 1, 'numeric, not lexical');
  assert.equal(compareVersions('7', '7'), 0);
  const floor = { manifestVersion: '9007199254740993', etag: '"sha256:aa"' };
  checkNotReplayed('9007199254740994', '"sha256:bb"', floor);
  checkNotReplayed('9007199254740993', 'sha256:aa', floor); // same manifest, quotes or not
  assert.throws(
    () => checkNotReplayed('9007199254740993', '"sha256:cc"', floor),
    code('AGENT_MANIFEST_VERSION_REPLAYED'),
  );
  assert.throws(
    () => checkNotReplayed('9007199254740992', '"sha256:aa"', floor),
    code('AGENT_MANIFEST_VERSION_REPLAYED'),
  );
  checkNotReplayed('1', '"x"', undefined);
  assert.equal(versionToken('12', '"sha256:ab"'), '12:sha256:ab');
  assert.equal(versionToken(undefined, 'W/"e"'), 'invalid:e');
});

const doc = (id: string) => Buffer.from(`id: ${id}\nmetadata:\n  deviceId: d1\n`);

function manifestBody(o: {
  version: string;
  ids: string[];
  signedFiles?: Record<string, string>;
  signedVersion?: string;
}) {
  const deployments = o.ids.map((id) => ({
    deploymentId: id,
    digest: sha256(doc(id)),
    sizeBytes: doc(id).length,
    url: `/api/v1/deployments/${id}/${sha256(doc(id))}`,
  }));
  const ext = o.signedFiles
    ? {
        'x-margo-gitops-extensions': {
          commit: 'c'.repeat(40),
          signedManifest: { manifest: { version: o.signedVersion ?? o.version, files: o.signedFiles } },
        },
      }
    : {};
  return Buffer.from(
    JSON.stringify({ manifestVersion: 0, bundle: null, deployments, ...ext }).replace(
      '"manifestVersion":0',
      `"manifestVersion":${o.version}`,
    ),
  );
}

test('parse: checks every entry; urls stay on this API', () => {
  const m = parseStateManifest(manifestBody({ version: '3', ids: ['a', 'b'] }));
  assert.equal(m.manifestVersion, '3');
  assert.deepEqual(
    m.deployments.map((d) => d.deploymentId),
    ['a', 'b'],
  );
  assert.equal(m.bundle, null);
  const evil = (patch: (d: Record<string, unknown>) => void) => {
    const j = JSON.parse(manifestBody({ version: '3', ids: ['a'] }).toString()) as {
      deployments: Record<string, unknown>[];
    };
    patch(j.deployments[0]!);
    return Buffer.from(JSON.stringify(j));
  };
  for (const p of [
    (d: Record<string, unknown>) => (d.url = 'https://elsewhere.example/x'),
    (d: Record<string, unknown>) => (d.url = '//elsewhere/api/v1/x'),
    (d: Record<string, unknown>) => (d.url = '/api/v1/../../etc'),
    (d: Record<string, unknown>) => (d.digest = 'md5:00'),
    (d: Record<string, unknown>) => (d.deploymentId = '../a'),
  ])
    assert.throws(() => parseStateManifest(evil(p)), code('AGENT_API_ANSWER_INVALID'));
  assert.throws(() => parseStateManifest(Buffer.from('nope')), code('AGENT_API_ANSWER_INVALID'));
});

test('layout: Git file names from the signed manifest, exact bytes, version must agree', () => {
  const signedFiles = {
    'deployments/hello-world.yaml': sha256(doc('a')),
    'deployments/b.yaml': sha256(doc('b')),
  };
  const m = parseStateManifest(manifestBody({ version: '4', ids: ['a', 'b'], signedFiles }));
  const files = layoutDesiredFiles(
    m,
    new Map([
      ['a', doc('a')],
      ['b', doc('b')],
    ]),
  );
  assert.deepEqual([...files.keys()].sort(), [
    'deployments/b.yaml',
    'deployments/hello-world.yaml',
    'margo-manifest.json',
  ]);
  assert.ok(files.get('deployments/hello-world.yaml')!.equals(doc('a')));
  assert.equal(JSON.parse(files.get('margo-manifest.json')!.toString()).manifest.version, '4');
  // Without a signed manifest: <deploymentId>.yaml.
  const plain = layoutDesiredFiles(
    parseStateManifest(manifestBody({ version: '4', ids: ['a'] })),
    new Map([['a', doc('a')]]),
  );
  assert.deepEqual([...plain.keys()], ['deployments/a.yaml']);
  // A signed manifest of another version than the API claims: refused.
  const other = parseStateManifest(
    manifestBody({ version: '5', ids: ['a'], signedFiles, signedVersion: '4' }),
  );
  assert.throws(
    () => layoutDesiredFiles(other, new Map([['a', doc('a')]])),
    code('AGENT_API_ANSWER_INVALID'),
  );
});

/** A raw ustar header + body (to build archives the packer would never make). */
function entry(name: string, body: Buffer, type = '0', prefix = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write('0000644\0', 100);
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write(prefix, 345);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(pad);
  return Buffer.concat([h, pad]);
}
const archive = (...parts: Buffer[]) => gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));

test('bundle: reads the server bundle; refuses links, folders, paths, duplicates, bombs, bad checksums', () => {
  const tgz = tarGz([
    { path: 'a.yaml', type: 'file', data: doc('a') },
    { path: 'b.yaml', type: 'file', data: doc('b') },
  ]);
  const got = readBundle(tgz);
  assert.deepEqual([...got.keys()].sort(), ['a', 'b']);
  assert.ok(got.get('a')!.equals(doc('a')));
  assert.equal(readBundle(archive(entry('a.yaml', doc('a')))).size, 1);
  const bad: [string, Buffer][] = [
    ['symlink', archive(entry('a.yaml', Buffer.alloc(0), '2'))],
    ['folder', archive(entry('x', Buffer.alloc(0), '5'))],
    ['parent path', archive(entry('../a.yaml', doc('a')))],
    ['nested', archive(entry('d/a.yaml', doc('a')))],
    ['prefix', archive(entry('a.yaml', doc('a'), '0', 'etc'))],
    ['not yaml', archive(entry('a.sh', doc('a')))],
    ['duplicate', archive(entry('a.yaml', doc('a')), entry('a.yaml', doc('b')))],
    ['truncated', gzipSync(entry('a.yaml', Buffer.alloc(4096)).subarray(0, 1024))],
    ['not gzip', Buffer.from('plain')],
  ];
  const corrupt = entry('a.yaml', doc('a'));
  corrupt[0] = 'b'.charCodeAt(0); // checksum no longer matches
  bad.push(['checksum', archive(corrupt)]);
  for (const [what, b] of bad) assert.throws(() => readBundle(b), code('AGENT_API_ANSWER_INVALID'), what);
  // A gzip bomb stops at the bound instead of filling memory.
  assert.throws(
    () => readBundle(gzipSync(Buffer.alloc(4 * 1024 * 1024)), 1024 * 1024),
    code('AGENT_API_ANSWER_INVALID'),
  );
});

test('status requests: deployment -> POST, capabilities -> PUT/DELETE, removal -> removed, Git-only files none', () => {
  const prev = JSON.stringify({
    deploymentId: 'a',
    adoptedManifestVersion: 0,
    status: { state: 'failed', error: { code: 'X' } },
    components: [{ name: 'c', state: 'failed', error: { code: 'X' } }],
  }).replace('"adoptedManifestVersion":0', '"adoptedManifestVersion":18446744073709551615');
  assert.deepEqual(statusRequest('d1', 'deployments/a.json', '{"x":1}', undefined), {
    method: 'POST',
    path: '/api/v1/deployments/a/status',
    body: '{"x":1}',
  });
  const removed = statusRequest('d1', 'deployments/a.json', null, prev)!;
  assert.equal(removed.method, 'POST');
  const r = JSON.parse(removed.body!) as { status: { state: string }; components: Record<string, unknown>[] };
  assert.deepEqual(r.status, { state: 'removed' });
  assert.deepEqual(r.components, [{ name: 'c', state: 'removed' }]);
  assert.match(removed.body!, /"adoptedManifestVersion": 18446744073709551615,/, 'exact beyond 2^53');
  assert.equal(statusRequest('d1', 'deployments/a.json', null, undefined), null);
  assert.deepEqual(statusRequest('d1', 'capabilities.json', '{}', undefined), {
    method: 'PUT',
    path: '/api/v1/capabilities/d1',
    body: '{}',
  });
  assert.deepEqual(statusRequest('d1', 'capabilities.json', null, '{}'), {
    method: 'DELETE',
    path: '/api/v1/capabilities/d1',
  });
  assert.equal(statusRequest('d1', 'observed.json', '{}', undefined), null);
  assert.equal(statusRequest('d1', 'signatures.json', '{}', undefined), null);
});
