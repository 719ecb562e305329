// The API write path on a real bare repository (no TLS: identify() names the caller), read back
// with the orchestrator's own readDeviceStatus and a witness-aware verifier: REST reports are
// Git reports. A Git push landing between the read and the ref update is retried, not lost.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureDeviceRepo } from '@margo-gitops/git';
import {
  clientSpiffeId,
  createRootCA,
  issueServerSvid,
  SIGNATURES_FILE,
  verifySignedFiles,
} from '@margo-gitops/trust';
import { readDeviceStatus, writeDeviceMain, type StatusVerifier } from '../io/device-repo.js';
import { buildTree, readCommit, readRef, readTreeFiles, updateRef, writeCommit } from '../io/git-objects.js';
import { createWorkloadApiHandler } from './handler.js';
import { GitDeviceStateReader } from './reader.js';
import { ApiStateCache } from './state-cache.js';
import { isUnchanged, nextSeq, nextStatusTree } from './status-tree.js';
import { createApiWrites } from './writes.js';

const id = { trustDomain: 'plant.example', wfmId: 'wfm1' };
const ca = createRootCA({ commonName: 'test root', validityDays: 30, bits: 2048 });
const svid = issueServerSvid(ca, id, ['127.0.0.1'], { bits: 2048 });
const DEP = '3f2a1b4c-0000-4000-8000-000000000001';
const sig = { name: 't', email: 't@t', timestamp: 1_700_000_000 };

const verifier: StatusVerifier = async (deviceId, files) => {
  const content = new Map(files);
  const sigs = content.get(SIGNATURES_FILE);
  content.delete(SIGNATURES_FILE);
  const r = verifySignedFiles(content, sigs, { caCertPem: ca.certPem, deviceId, witness: id });
  return { files: new Map([...r.verified.keys()].map((p) => [p, content.get(p)!])), refused: r.refused };
};

async function setup(t: { after(fn: () => Promise<void>): void }, onVerify?: () => Promise<void>) {
  const root = await mkdtemp(join(tmpdir(), 'margo-api-writes-'));
  const { path: gitdir } = await ensureDeviceRepo(root, 'press-7');
  const main = await writeDeviceMain({
    gitdir,
    expectedOid: null,
    files: new Map([['deployments/hello.yaml', Buffer.from(`id: ${DEP}\nmetadata:\n  name: hello\n`)]]),
    message: 'desired',
    author: sig,
    committer: sig,
  });
  const reader = new GitDeviceStateReader(root);
  const cache = new ApiStateCache(reader);
  const writes = createApiWrites({
    reposRoot: root,
    cache,
    reader,
    witness: svid,
    verifier: async (d, f) => {
      await onVerify?.();
      return verifier(d, f);
    },
  });
  const peer = {
    deviceId: 'press-7',
    spiffeId: clientSpiffeId(id, 'press-7'),
    serial: 'abc',
    notAfter: new Date(Date.now() + 3600_000),
  };
  const handler = createWorkloadApiHandler({
    cache,
    identify: () => peer,
    trustDomain: id.trustDomain,
    trustBundle: () => ({}),
    writes,
  });
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });
  const port = (server.address() as { port: number }).port;
  const send = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } },
        (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: b }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return { gitdir, main, send };
}

const report = (state: string) => ({
  deploymentId: DEP,
  adoptedManifestVersion: 1,
  status: { state },
  components: [{ name: 'web', state }],
});

test('a status POST is one witness-signed commit the orchestrator reads like a Git report', async (t) => {
  const { gitdir, main, send } = await setup(t);
  let r = await send('POST', `/api/v1/deployments/${DEP}/status`, report('installed'));
  assert.equal(r.status, 201, r.body);
  const head = (await readRef(gitdir, 'status'))!;
  const c = await readCommit(gitdir, head);
  assert.deepEqual(c.parents, []);
  const rep = await readDeviceStatus(gitdir, head, { deviceId: 'press-7', verifier });
  assert.deepEqual(rep.problems, []);
  assert.equal(rep.statuses.get(DEP)?.state, 'installed');
  assert.equal(rep.observedCommit, main, 'adoptedManifestVersion 1 is the first desired commit');
  // Same body: no commit. Another device reading it: every file refused.
  r = await send('POST', `/api/v1/deployments/${DEP}/status`, report('installed'));
  assert.equal(r.status, 200);
  assert.equal(await readRef(gitdir, 'status'), head);
  const other = await readDeviceStatus(gitdir, head, { deviceId: 'press-8', verifier });
  assert.equal(other.statuses.size, 0);
  assert.ok(other.problems.every((p) => p.code === 'TRUST_WITNESS_FORGED'));
  // `removed` for a deployment that is still desired is a report like any other.
  r = await send('POST', `/api/v1/deployments/${DEP}/status`, report('removed'));
  assert.equal(r.status, 200);
});

test('a Git push between read and ref update: the write is retried on top of it, nothing lost', async (t) => {
  let gitdirRef = '';
  let pushed = false;
  const { gitdir, send } = await setup(t, async () => {
    if (pushed || !gitdirRef) return;
    pushed = true;
    // What a device's push would do: a new status head with a file of its own.
    const prev = await readRef(gitdirRef, 'status');
    const files = prev ? await readTreeFiles(gitdirRef, (await readCommit(gitdirRef, prev)).tree) : new Map();
    files.set('deployments/other.json', Buffer.from('{}'));
    const tree = (await buildTree(gitdirRef, files))!;
    const oid = await writeCommit(gitdirRef, {
      tree,
      parents: prev ? [prev] : [],
      author: sig,
      committer: sig,
      message: 'push',
    });
    await updateRef(gitdirRef, 'status', prev, oid);
  });
  gitdirRef = gitdir;
  const r = await send('PUT', '/api/v1/capabilities/press-7', {
    properties: { id: 'press-7', vendor: 'a', modelNumber: 'b', serialNumber: 'c' },
  });
  assert.equal(r.status, 201, r.body);
  const head = (await readRef(gitdir, 'status'))!;
  const c = await readCommit(gitdir, head);
  assert.equal(c.parents.length, 1, 'on top of the pushed commit');
  const files = await readTreeFiles(gitdir, c.tree);
  assert.ok(files.has('deployments/other.json') && files.has('capabilities.json'));
  const rep = await readDeviceStatus(gitdir, head, { deviceId: 'press-7', verifier });
  assert.ok(rep.capabilities);
  // The pushed file is unsigned: it stays unlisted in observed.json and ignored, as before.
  assert.deepEqual(
    rep.problems.map((p) => [p.path, p.code]),
    [['deployments/other.json', 'TRUST_STATUS_UNSIGNED']],
  );
});

test('status tree: seq, unchanged, and files the head did not vouch for stay unlisted', () => {
  assert.equal(nextSeq(5n, 0), 6n);
  assert.equal(nextSeq(5n, 2), 2000n);
  const current = new Map([
    ['a.json', Buffer.from('a')],
    ['stale.json', Buffer.from('s')],
  ]);
  const carried = new Set(['a.json']);
  assert.equal(isUnchanged({ current, carried, changes: new Map([['a.json', Buffer.from('a')]]) }), true);
  assert.equal(
    isUnchanged({ current, carried, changes: new Map([['stale.json', Buffer.from('s')]]) }),
    false,
  );
  assert.equal(isUnchanged({ current, carried, changes: new Map([['gone.json', null]]) }), true);
  const out = nextStatusTree({
    current,
    carried,
    changes: new Map([['b.json', Buffer.from('b')]]),
    commit: '0'.repeat(40),
    seq: 7n,
    sign: (p) => ({ witness: `w-${p}`, peer: 'x' }),
  });
  const observed = JSON.parse(out.get('observed.json')!.toString()) as {
    seq: string;
    files: Record<string, string>;
  };
  assert.equal(observed.seq, '7');
  assert.deepEqual(Object.keys(observed.files), ['a.json', 'b.json']);
  assert.deepEqual(Object.keys(JSON.parse(out.get('signatures.json')!.toString()) as object), [
    'b.json',
    'observed.json',
  ]);
});

test('on-site hold over REST: the capabilities extension becomes hold.json, read as DeviceReport.hold', async (t) => {
  const { gitdir, send } = await setup(t);
  const caps = (hold?: unknown) => ({
    properties: { id: 'press-7', vendor: 'v', modelNumber: 'm', serialNumber: 's' },
    ...(hold ? { 'x-margo-gitops-extensions': { hold } } : {}),
  });
  let r = await send('PUT', '/api/v1/capabilities/press-7', caps());
  assert.equal(r.status, 201, r.body);
  let rep = await readDeviceStatus(gitdir, await readRef(gitdir, 'status'), {
    deviceId: 'press-7',
    verifier,
  });
  assert.equal(rep.hold, undefined);
  r = await send(
    'PUT',
    '/api/v1/capabilities/press-7',
    caps({ reason: 'batch 7\u001b[2J running', since: '2026-12-03T04:00:00Z' }),
  );
  assert.equal(r.status, 200, r.body);
  const head = (await readRef(gitdir, 'status'))!;
  rep = await readDeviceStatus(gitdir, head, { deviceId: 'press-7', verifier });
  assert.deepEqual(rep.problems, []);
  assert.deepEqual(rep.hold, { reason: 'batch 7 [2J running', since: '2026-12-03T04:00:00.000Z' });
  assert.match((await readCommit(gitdir, head)).message, /on-site hold: batch 7/);
  r = await send('PUT', '/api/v1/capabilities/press-7', caps());
  assert.equal(r.status, 200, r.body);
  rep = await readDeviceStatus(gitdir, await readRef(gitdir, 'status'), { deviceId: 'press-7', verifier });
  assert.equal(rep.hold, undefined);
  assert.equal(
    (await readTreeFiles(gitdir, (await readCommit(gitdir, (await readRef(gitdir, 'status'))!)).tree)).has(
      'hold.json',
    ),
    false,
  );
});
