/**
 * The GitStore contract: one table of behaviours every backend must pass. Not part of the build
 * (src/testing is excluded); imported by the unit tests and by the integration tests that run the
 * remote half against the embedded server and against an external git-http-backend.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { execGit } from '../exec-git.js';
import { updateWithRetry } from '../retry.js';
import type { Author, GitAuth, GitStore } from '../store.js';

export interface Backend {
  name: string;
  make: (dir: string) => GitStore;
}

export const author: Author = {
  name: 'Margo Test',
  email: 'test@margo.invalid',
  timestamp: 1_700_000_000,
  timezoneOffset: 0,
};

async function tempDir(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'margo-contract-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

function files(obj: Record<string, string | null>): Map<string, Buffer | string | null> {
  return new Map(Object.entries(obj));
}

async function gitOut(dir: string, ...args: string[]): Promise<string> {
  return (await execGit(['--git-dir', dir, ...args])).stdout.toString().trim();
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: { code?: string }) => {
    assert.equal(e.code, code);
    return true;
  });
}

/** Local behaviours (no network). */
export function localContract(backend: Backend, other: Backend): void {
  const fresh = async (t: TestContext): Promise<GitStore> => {
    const s = backend.make(join(await tempDir(t), 'r.git'));
    await s.init();
    return s;
  };

  test(`${backend.name}: init makes an empty bare repository with HEAD -> main`, async (t) => {
    const s = await fresh(t);
    assert.equal(await s.resolveRef('main'), null);
    assert.equal((await s.listRefs()).size, 0);
    assert.equal(await gitOut(s.dir, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
    assert.equal(await gitOut(s.dir, 'rev-parse', '--is-bare-repository'), 'true');
    await s.init(); // idempotent
  });

  test(`${backend.name}: commitFiles creates, reads back, and git fsck is clean`, async (t) => {
    const s = await fresh(t);
    const r = await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({
        'a.txt': 'A\n',
        'dir/b.yaml': 'b: 1\n',
        'dir/sub/c.json': '{}',
        'dir-z/x': 'x',
        'dir.y': 'dot',
      }),
      message: 'first',
      author,
      trailers: { 'Margo-Device': 'd1' },
    });
    assert.equal(r.changed, true);
    assert.match(r.oid, /^[0-9a-f]{40}$/);
    assert.equal(await s.resolveRef('main'), r.oid);
    assert.equal(await s.resolveRef('refs/heads/main'), r.oid);
    assert.deepEqual([...(await s.listRefs())], [['refs/heads/main', r.oid]]);
    assert.equal((await s.readFile('main', 'dir/b.yaml'))?.toString(), 'b: 1\n');
    assert.equal(await s.readFile('main', 'nope.txt'), null);
    assert.equal(await s.readFile('main', 'dir'), null, 'a folder is not a file');
    const tree = await s.readTree('main');
    assert.deepEqual([...tree.keys()].sort(), ['a.txt', 'dir-z/x', 'dir.y', 'dir/b.yaml', 'dir/sub/c.json']);
    assert.equal(tree.get('a.txt')?.mode, '100644');
    const sub = await s.readFiles('main', 'dir');
    assert.deepEqual([...sub.keys()].sort(), ['dir/b.yaml', 'dir/sub/c.json']);
    assert.equal(sub.get('dir/sub/c.json')?.toString(), '{}');
    assert.deepEqual([...(await s.readFiles(r.oid, 'dir/sub/')).keys()], ['dir/sub/c.json']);
    await execGit(['--git-dir', s.dir, 'fsck', '--strict', '--no-dangling']);
    const msg = await gitOut(s.dir, 'log', '-1', '--format=%B', 'main');
    assert.equal(msg, 'first\n\nMargo-Device: d1');
    assert.equal(
      await gitOut(s.dir, 'log', '-1', '--format=%an <%ae> %at', 'main'),
      'Margo Test <test@margo.invalid> 1700000000',
    );
  });

  test(`${backend.name}: identical tree -> changed:false, nothing written`, async (t) => {
    const s = await fresh(t);
    const first = await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ 'a.txt': 'A', 'd/b': 'B' }),
      message: 'm',
      author,
    });
    const count = await gitOut(s.dir, 'count-objects');
    const again = await s.commitFiles({
      ref: 'main',
      expectedOid: first.oid,
      changes: files({ 'a.txt': 'A', 'missing.txt': null, 'd/b': 'B', 'd/missing': null }),
      message: 'm2',
      author,
    });
    assert.deepEqual(again, { oid: first.oid, changed: false });
    assert.equal(await s.resolveRef('main'), first.oid);
    assert.equal(await gitOut(s.dir, 'count-objects'), count, 'no new objects');
  });

  test(`${backend.name}: deletes files and empty folders, replaces a file by a folder`, async (t) => {
    const s = await fresh(t);
    const a = await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ 'keep.txt': 'k', 'd/only': 'x', f: 'file' }),
      message: 'm',
      author,
    });
    const b = await s.commitFiles({
      ref: 'main',
      expectedOid: a.oid,
      changes: files({ 'd/only': null, f: null, 'f/inner': 'now a folder' }),
      message: 'm',
      author,
    });
    assert.equal(b.changed, true);
    assert.deepEqual([...(await s.readTree('main')).keys()].sort(), ['f/inner', 'keep.txt']);
    await execGit(['--git-dir', s.dir, 'fsck', '--strict', '--no-dangling']);
    assert.equal(await gitOut(s.dir, 'rev-parse', 'main^'), a.oid);
  });

  test(`${backend.name}: compare-and-swap refuses a stale expectedOid and leaves the ref`, async (t) => {
    const s = await fresh(t);
    const a = await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ x: '1' }),
      message: 'm',
      author,
    });
    const b = await s.commitFiles({
      ref: 'main',
      expectedOid: a.oid,
      changes: files({ x: '2' }),
      message: 'm',
      author,
    });
    await expectCode(
      s.commitFiles({ ref: 'main', expectedOid: a.oid, changes: files({ x: '3' }), message: 'm', author }),
      'GIT_CAS_CONFLICT',
    );
    await expectCode(
      s.commitFiles({ ref: 'main', expectedOid: null, changes: files({ x: '3' }), message: 'm', author }),
      'GIT_CAS_CONFLICT',
    );
    assert.equal(await s.resolveRef('main'), b.oid);
    // a new branch with expectedOid null works
    const st = await s.commitFiles({
      ref: 'status',
      expectedOid: null,
      changes: files({ 's.json': '{}' }),
      message: 'm',
      author,
    });
    assert.equal(await s.resolveRef('status'), st.oid);
  });

  test(`${backend.name}: errors have stable codes`, async (t) => {
    const s = await fresh(t);
    await expectCode(s.readFile('main', 'x'), 'GIT_REF_NOT_FOUND');
    await expectCode(s.readTree('nope'), 'GIT_REF_NOT_FOUND');
    for (const bad of ['../x', '/abs', 'a//b', '.git/config', 'a/./b', '']) {
      await expectCode(
        s.commitFiles({
          ref: 'main',
          expectedOid: null,
          changes: files({ [bad]: 'x' }),
          message: 'm',
          author,
        }),
        'GIT_INVALID_PATH',
      );
    }
    assert.equal(await s.resolveRef('main'), null);
  });

  test(`${backend.name}: same input gives the same commit id as ${other.name}, and each reads the other's commits`, async (t) => {
    const s = await fresh(t);
    const o = other.make(join(await tempDir(t), 'o.git'));
    await o.init();
    const input = {
      ref: 'main',
      expectedOid: null,
      changes: files({ 'deployments/a.yaml': 'a: 1\n', 'm.json': '{"v":1}' }),
      message: 'same',
      author,
    };
    const r1 = await s.commitFiles(input);
    const r2 = await o.commitFiles(input);
    assert.equal(r1.oid, r2.oid);
    // other backend writes into this repository, this backend reads it
    const ob = other.make(s.dir);
    const r3 = await ob.commitFiles({
      ref: 'main',
      expectedOid: r1.oid,
      changes: files({ 'deployments/b.yaml': 'b' }),
      message: 'x',
      author,
    });
    assert.equal((await s.readFile('main', 'deployments/b.yaml'))?.toString(), 'b');
    assert.equal(await s.resolveRef('main'), r3.oid);
  });

  test(`${backend.name}: a large change set (250 files) commits, repeats as a no-op, and updates one file`, async (t) => {
    const s = await fresh(t);
    const big = new Map<string, string | null>();
    for (let i = 0; i < 250; i++) big.set(`devices/d${String(i).padStart(3, '0')}.yaml`, `id: d${i}\n`);
    const a = await s.commitFiles({ ref: 'main', expectedOid: null, changes: big, message: 'bulk', author });
    assert.equal((await s.readTree('main', 'devices')).size, 250);
    assert.deepEqual(
      await s.commitFiles({ ref: 'main', expectedOid: a.oid, changes: big, message: 'again', author }),
      { oid: a.oid, changed: false },
    );
    big.set('devices/d007.yaml', 'id: d7\nlabels: {a: b}\n');
    big.set('devices/d008.yaml', null);
    const b = await s.commitFiles({
      ref: 'main',
      expectedOid: a.oid,
      changes: big,
      message: 'one changed',
      author,
    });
    assert.equal(b.changed, true);
    const files = await s.readFiles('main');
    assert.equal(files.size, 249);
    assert.equal(files.get('devices/d007.yaml')?.toString(), 'id: d7\nlabels: {a: b}\n');
    assert.equal(
      await gitOut(s.dir, 'diff-tree', '--no-commit-id', '--name-only', '-r', a.oid, b.oid),
      'devices/d007.yaml\ndevices/d008.yaml',
    );
    await execGit(['--git-dir', s.dir, 'fsck', '--strict', '--no-dangling']);
  });

  test(`${backend.name}: compact keeps the newest N commits and the tree`, async (t) => {
    const s = await fresh(t);
    let oid: string | null = null;
    for (let i = 0; i < 5; i++) {
      oid = (
        await s.commitFiles({
          ref: 'main',
          expectedOid: oid,
          changes: files({ [`f${i}`]: String(i) }),
          message: `c${i}`,
          author,
        })
      ).oid;
    }
    const treeBefore = await gitOut(s.dir, 'rev-parse', 'main^{tree}');
    const res = await s.compact('main', { keep: 2 });
    assert.equal(res.dropped, 3);
    assert.equal(await s.resolveRef('main'), res.oid);
    assert.equal(await gitOut(s.dir, 'rev-parse', 'main^{tree}'), treeBefore);
    assert.equal(await gitOut(s.dir, 'rev-list', '--count', 'main'), '2');
    assert.equal(await gitOut(s.dir, 'log', '--format=%s', 'main'), 'c4\nc3');
    assert.deepEqual(await s.compact('main', { keep: 2 }), { oid: res.oid, dropped: 0 });
    await execGit(['--git-dir', s.dir, 'fsck', '--strict', '--no-dangling']);
    await expectCode(s.compact('main', { keep: 1, expectedOid: oid! }), 'GIT_CAS_CONFLICT');
  });

  test(`${backend.name}: works on a repository with a work tree`, async (t) => {
    const dir = join(await tempDir(t), 'wt');
    const s = backend.make(dir);
    await s.init({ bare: false });
    const r = await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ 'a.txt': 'A' }),
      message: 'm',
      author,
    });
    assert.equal((await s.readFile('main', 'a.txt'))?.toString(), 'A');
    assert.equal(await gitOut(join(dir, '.git'), 'rev-parse', 'HEAD'), r.oid);
  });

  test(`${backend.name}: 12 concurrent writers (separate store instances, both backends) lose nothing`, async (t) => {
    const s = await fresh(t);
    const n = 12;
    const writers = Array.from({ length: n }, (_, i) =>
      updateWithRetry(
        (i % 2 ? other : backend).make(s.dir),
        'main',
        () => files({ [`w/${i}.txt`]: `writer ${i}` }),
        {
          message: `writer ${i}`,
          author,
          retries: 50,
          baseMs: 2,
          maxMs: 50,
        },
      ),
    );
    const results = await Promise.all(writers);
    assert.ok(results.every((r) => r.changed));
    const landed = await s.readTree('main', 'w/');
    assert.equal(landed.size, n);
    assert.equal(await gitOut(s.dir, 'rev-list', '--count', 'main'), String(n));
  });
}

export interface RemoteFixture {
  /** URL of an empty bare repository the token may read and push (any branch). */
  url: string;
  auth: GitAuth;
  /** Same server, a token that must be refused. */
  badAuth: GitAuth;
  /** Whether the server allows non-fast-forward pushes to this repository. */
  allowsForce: boolean;
  /** Whether the server also takes the token as `Authorization: Bearer`. */
  acceptsBearer: boolean;
}

/** Remote behaviours: clone/fetch/push with token auth against a real smart-HTTP server. */
export function remoteContract(
  backend: Backend,
  fixture: (t: TestContext) => Promise<RemoteFixture>,
  label = '',
): void {
  const name = `${backend.name}${label ? ` (${label})` : ''}`;
  test(`${name}: push, clone, fetch up-to-date and after a change`, async (t) => {
    const fx = await fixture(t);
    const root = await tempDir(t);
    const writer = backend.make(join(root, 'w.git'));
    await writer.init();
    const a = await writer.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ 'a.txt': 'A' }),
      message: 'a',
      author,
    });
    await writer.push(fx.url, 'main', { auth: fx.auth });
    const reader = backend.make(join(root, 'r.git'));
    const c = await reader.clone(fx.url, { auth: fx.auth, ref: 'main' });
    assert.deepEqual(c, { oid: a.oid, changed: true });
    assert.equal((await reader.readFile('main', 'a.txt'))?.toString(), 'A');
    assert.deepEqual(await reader.fetch(fx.url, { auth: fx.auth }), { oid: a.oid, changed: false });
    const b = await writer.commitFiles({
      ref: 'main',
      expectedOid: a.oid,
      changes: files({ 'b.txt': 'B' }),
      message: 'b',
      author,
    });
    await writer.push(fx.url, 'main', {
      auth: fx.acceptsBearer ? { ...fx.auth, scheme: 'bearer' } : fx.auth,
    });
    assert.deepEqual(await reader.fetch(fx.url, { auth: fx.auth, into: 'refs/remotes/origin/main' }), {
      oid: b.oid,
      changed: true,
    });
    assert.equal((await reader.readFile('refs/remotes/origin/main', 'b.txt'))?.toString(), 'B');
    assert.equal(await reader.resolveRef('main'), a.oid, 'fetch into another ref leaves main');
    assert.deepEqual(await reader.fetch(fx.url, { auth: fx.auth, ref: 'no-such-branch' }), {
      oid: null,
      changed: false,
    });
    const shallow = backend.make(join(root, 's.git'));
    assert.equal((await shallow.clone(fx.url, { auth: fx.auth, depth: 1 })).oid, b.oid);
    assert.equal((await shallow.readFile('main', 'b.txt'))?.toString(), 'B');
  });

  test(`${name}: non-fast-forward push is rejected without force`, async (t) => {
    const fx = await fixture(t);
    const root = await tempDir(t);
    const w1 = backend.make(join(root, '1.git'));
    await w1.init();
    await w1.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ x: '1' }),
      message: 'one',
      author,
    });
    await w1.push(fx.url, 'main', { auth: fx.auth });
    const w2 = backend.make(join(root, '2.git'));
    await w2.init();
    await w2.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: files({ x: '2' }),
      message: 'two',
      author,
    });
    await expectCode(w2.push(fx.url, 'main', { auth: fx.auth }), 'GIT_PUSH_REJECTED');
    if (fx.allowsForce) {
      await w2.push(fx.url, 'main', { auth: fx.auth, force: true });
      const r = backend.make(join(root, 'r.git'));
      await r.clone(fx.url, { auth: fx.auth });
      assert.equal((await r.readFile('main', 'x'))?.toString(), '2');
    }
  });

  test(`${name}: a wrong token is refused with GIT_AUTH_FAILED`, async (t) => {
    const fx = await fixture(t);
    const s = backend.make(join(await tempDir(t), 'x.git'));
    await expectCode(s.clone(fx.url, { auth: fx.badAuth }), 'GIT_AUTH_FAILED');
  });
}
