/**
 * The embedded Git server with real clients: validated pushes (findings in git's stderr, nothing
 * stored), protected catalog history, size limit, rate limit, push events, auth answers, gzip
 * request bodies, and the Node-served ref advertisement matching git's own byte for byte.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { IsoGitStore, NativeGitStore, ensureDeviceRepos, type PushValidator } from '@margo-gitops/git';
import { parseCatFileBatch } from '../../../packages/git/src/native-git-store.ts';
import { specValidateDocument } from '../../../packages/git/src/server/catalog-validator.ts';
import { pktLine, FLUSH } from '../../../packages/git/src/server/pkt-line.ts';
import { author, execGit, snapshot, startEnv, tempDir } from './helpers.ts';

const pexec = promisify(execFile);

/** Runs stock git; resolves with exit code and output instead of throwing. */
async function git(
  cwd: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await pexec('git', args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout, stderr: err.stderr };
  }
}

const withToken = (url: string, token: string): string => url.replace('http://', `http://margo:${token}@`);

/** A test validator with real positions: every margo.yaml must start with `apiVersion:`. */
const apiVersionFirst: PushValidator = async (ctx) => {
  const out = [];
  for (const c of ctx.changes) {
    if (c.status === 'deleted' || !c.path.endsWith('margo.yaml')) continue;
    const text = (await ctx.readBlob(c.oid)).toString();
    if (!text.startsWith('apiVersion:'))
      out.push({
        code: 'TEST_API_VERSION_FIRST',
        message: 'apiVersion must come first',
        file: c.path,
        line: 1,
        column: 1,
      });
    const i = text.split('\n').findIndex((l) => l.includes('bad'));
    if (i >= 0)
      out.push({
        code: 'TEST_BAD_WORD',
        message: 'contains "bad"',
        file: c.path,
        line: i + 1,
        column: text.split('\n')[i]!.indexOf('bad') + 1,
      });
  }
  return out;
};

async function workTree(t: Parameters<typeof tempDir>[0], url: string, token: string): Promise<string> {
  const dir = join(await tempDir(t), 'w');
  const r = await git('/', 'clone', '-q', withToken(url, token), dir);
  assert.equal(r.code, 0, r.stderr);
  await git(dir, 'config', 'user.name', 'Tester');
  await git(dir, 'config', 'user.email', 'tester@margo.invalid');
  return dir;
}

test('catalog push with an invalid margo.yaml fails, shows path:line:col CODE message, stores nothing', async (t) => {
  const env = await startEnv(t, { validators: { catalog: apiVersionFirst } });
  const dir = await workTree(t, env.url('catalog.git'), env.token.publisher);
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(join(dir, 'app/1.0'), { recursive: true });
  await writeFile(join(dir, 'app/1.0/margo.yaml'), 'kind: ApplicationDescription\nname: a bad one\n');
  await writeFile(join(dir, 'app/1.0/big-but-fine.txt'), 'x'.repeat(50_000));
  await git(dir, 'add', '.');
  await git(dir, 'commit', '-qm', 'add app');
  const gitdir = join(env.repos, 'catalog.git');
  const before = await snapshot(gitdir);
  const r = await git(dir, 'push', 'origin', 'main');
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /remote: app\/1\.0\/margo\.yaml:1:1 TEST_API_VERSION_FIRST apiVersion must come first/,
  );
  assert.match(r.stderr, /remote: app\/1\.0\/margo\.yaml:2:9 TEST_BAD_WORD contains "bad"/);
  assert.match(r.stderr, /pre-receive hook declined/);
  assert.equal(await snapshot(gitdir), before, 'refs and objects unchanged');
  // the same through isomorphic-git: the findings come back in the error
  const iso = new IsoGitStore(join(dir, '.git'));
  await assert.rejects(
    iso.push(env.url('catalog.git'), 'main', { auth: { token: env.token.publisher } }),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'GIT_PUSH_REJECTED');
      assert.match(e.message, /app\/1\.0\/margo\.yaml:1:1 TEST_API_VERSION_FIRST/);
      return true;
    },
  );
  assert.equal(await snapshot(gitdir), before);
  assert.equal(env.events.length, 0, 'no push event for a refused push');
  // fixed file: accepted, event fired
  await writeFile(
    join(dir, 'app/1.0/margo.yaml'),
    'apiVersion: margo.org/v1-alpha1\nkind: ApplicationDescription\n',
  );
  await git(dir, 'commit', '-qam', 'fix');
  const ok = await git(dir, 'push', 'origin', 'main');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(env.events.length, 1);
  const head = (await git(dir, 'rev-parse', 'HEAD')).stdout.trim();
  assert.deepEqual(
    { ...env.events[0], tokenId: undefined },
    {
      repo: 'catalog.git',
      kind: 'catalog',
      ref: 'refs/heads/main',
      before: before.split(' ')[0],
      after: head,
      tokenName: 'publisher',
      tokenId: undefined,
    },
  );
});

test('catalog push is checked with the spec library rules (validateDocument): invalid refused, valid accepted', async (t) => {
  if (!specValidateDocument()) {
    t.skip(
      '@margo-gitops/spec has no validateDocument yet: the default catalog validator cannot be exercised',
    );
    return;
  }
  const { mkdir, readFile, writeFile } = await import('node:fs/promises');
  const valid = await readFile(join(import.meta.dirname, '../../../examples/hello-world/margo.yaml'), 'utf8');
  const invalid = valid.replace(/^kind:.*\n/m, '');
  assert.notEqual(invalid, valid, 'the example has a top-level kind line to remove');
  const env = await startEnv(t);
  const dir = await workTree(t, env.url('catalog.git'), env.token.publisher);
  await mkdir(join(dir, 'hello-world/1.0.0'), { recursive: true });
  await writeFile(join(dir, 'hello-world/1.0.0/margo.yaml'), invalid);
  await git(dir, 'add', '.');
  await git(dir, 'commit', '-qm', 'add app');
  const before = await snapshot(join(env.repos, 'catalog.git'));
  const r = await git(dir, 'push', 'origin', 'main');
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    new RegExp(
      `remote: hello-world/1\\.0\\.0/margo\\.yaml:\\d+:\\d+ SPEC_REQUIRED_FIELD missing required field "kind"`,
    ),
  );
  assert.equal(await snapshot(join(env.repos, 'catalog.git')), before);
  await writeFile(join(dir, 'hello-world/1.0.0/margo.yaml'), valid);
  await git(dir, 'commit', '-qam', 'valid');
  const ok = await git(dir, 'push', 'origin', 'main');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(env.events.length, 1);
});

test('catalog history cannot be rewritten or deleted; the fleet repository may be force-pushed by its operator', async (t) => {
  const env = await startEnv(t);
  const dir = await workTree(t, env.url('catalog.git'), env.token.admin);
  await git(dir, 'commit', '-q', '--amend', '-m', 'rewritten');
  const gitdir = join(env.repos, 'catalog.git');
  const before = await snapshot(gitdir);
  const r = await git(dir, 'push', '--force', 'origin', 'main');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /non-fast-forward|denying/);
  const del = await git(dir, 'push', 'origin', ':main');
  assert.notEqual(del.code, 0);
  assert.equal(await snapshot(gitdir), before);
  const fleet = await workTree(t, env.url('fleet.git'), env.token.operator);
  await git(fleet, 'commit', '-q', '--amend', '-m', 'rewritten');
  const f = await git(fleet, 'push', '--force', 'origin', 'main');
  assert.equal(f.code, 0, f.stderr);
});

test('oversized files are refused and nothing is stored (per file, in every repository)', async (t) => {
  const env = await startEnv(t, { maxObjectBytes: 10_000 });
  const { writeFile } = await import('node:fs/promises');
  const { randomBytes } = await import('node:crypto');
  // catalog: checked in pre-receive, per file, with a finding
  const dir = await workTree(t, env.url('catalog.git'), env.token.publisher);
  await writeFile(join(dir, 'huge.bin'), Buffer.alloc(20_000, 7));
  await git(dir, 'add', '.');
  await git(dir, 'commit', '-qm', 'huge');
  const gitdir = join(env.repos, 'catalog.git');
  const before = await snapshot(gitdir);
  const r = await git(dir, 'push', 'origin', 'main');
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /remote: huge\.bin GIT_OBJECT_TOO_LARGE file is 20000 bytes; the server accepts at most 10000/,
  );
  assert.equal(await snapshot(gitdir), before);
  // device status branch: checked in pre-receive too (file sizes, status paths; the pack by maxDevicePushBytes)
  const dev = await workTree(t, env.url('devices/d1.git'), env.token.device);
  await git(dev, 'checkout', '-q', 'status');
  await writeFile(join(dev, 'noise.bin'), randomBytes(30_000));
  await git(dev, 'add', '.');
  await git(dev, 'commit', '-qm', 'noise');
  const devdir = join(env.repos, 'devices/d1.git');
  const devBefore = await snapshot(devdir);
  const d = await git(dev, 'push', 'origin', 'status');
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /remote: noise\.bin GIT_OBJECT_TOO_LARGE/);
  assert.equal(await snapshot(devdir), devBefore);
  assert.equal(env.events.length, 0);
});

test('authentication: 401 with a Basic challenge, Bearer accepted, revoked token refused, rotated token valid in grace', async (t) => {
  const env = await startEnv(t);
  const infoRefs = `${env.url('devices/d1.git')}/info/refs?service=git-upload-pack`;
  const none = await fetch(infoRefs);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="margo"/);
  const bad = await fetch(infoRefs, {
    headers: { authorization: 'Bearer mgt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
  });
  assert.equal(bad.status, 401);
  const bearer = await fetch(infoRefs, { headers: { authorization: `Bearer ${env.token.device}` } });
  assert.equal(bearer.status, 200);
  assert.equal(bearer.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
  const other = await fetch(`${env.url('devices/d2.git')}/info/refs?service=git-upload-pack`, {
    headers: { authorization: `Bearer ${env.token.device}` },
  });
  assert.equal(other.status, 403);
  assert.match(await other.text(), /may read only its own repository/);
  const rec = env.tokens.verify(env.token.device)!;
  const rotated = env.tokens.rotate(rec.id, { graceMs: 60_000 });
  for (const tok of [env.token.device, rotated.token]) {
    assert.equal((await fetch(infoRefs, { headers: { authorization: `Bearer ${tok}` } })).status, 200);
  }
  env.tokens.revoke(rotated.record.id);
  assert.equal(
    (await fetch(infoRefs, { headers: { authorization: `Bearer ${rotated.token}` } })).status,
    401,
  );
  const dumb = await fetch(`${env.url('devices/d1.git')}/HEAD`, {
    headers: { authorization: `Bearer ${env.token.device}` },
  });
  assert.equal(dumb.status, 404);
  assert.equal(
    (await fetch(`${env.srv.url.replace(/\/git$/, '')}/other`)).status,
    404,
    'URLs outside /git are left to other handlers',
  );
});

test('rate limit: 429 with Retry-After once a token spent its burst', async (t) => {
  const env = await startEnv(t, { rateLimit: { burst: 3, perSecond: 0.5 } });
  const infoRefs = `${env.url('devices/d1.git')}/info/refs?service=git-upload-pack`;
  const h = { authorization: `Bearer ${env.token.device}` };
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await fetch(infoRefs, { headers: h })).status);
  assert.deepEqual(codes, [200, 200, 200, 429, 429]);
  const limited = await fetch(infoRefs, { headers: h });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '2');
  assert.equal(
    (await fetch(infoRefs, { headers: { authorization: `Bearer ${env.token.admin}` } })).status,
    200,
    'other tokens unaffected',
  );
});

test('a gzip-encoded receive-pack request from a device to main is refused before git runs', async (t) => {
  const env = await startEnv(t);
  const gitdir = join(env.repos, 'devices/d1.git');
  const before = await snapshot(gitdir);
  const main = (await new NativeGitStore(gitdir).resolveRef('main'))!;
  const body = gzipSync(
    Buffer.concat([
      pktLine(`${main} ${'1'.repeat(40)} refs/heads/main\0report-status side-band-64k\n`),
      FLUSH,
      Buffer.from('PACK'),
    ]),
  );
  const res = await fetch(`${env.url('devices/d1.git')}/git-receive-pack`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${env.token.device}`,
      'content-type': 'application/x-git-receive-pack-request',
      'content-encoding': 'gzip',
    },
    body,
  });
  assert.equal(res.status, 200);
  const text = Buffer.from(await res.arrayBuffer()).toString('latin1');
  assert.match(
    text,
    /ng refs\/heads\/main margo: GIT_ACCESS_DENIED a device token may update only refs\/heads\/status/,
  );
  assert.equal(await snapshot(gitdir), before);
});

test('the ref advertisement served from Node equals git http-backend, byte for byte (packed refs, tags)', async (t) => {
  const env = await startEnv(t);
  const gitdir = join(env.repos, 'devices/d1.git');
  await execGit(['--git-dir', gitdir, 'tag', '-a', '-m', 'annotated', 'v1', 'main'], {
    env: { GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' },
  });
  await execGit(['--git-dir', gitdir, 'tag', 'light', 'status']);
  const h = { authorization: `Bearer ${env.token.admin}` };
  const url = `${env.url('devices/d1.git')}/info/refs?service=git-upload-pack`;
  const direct = async (): Promise<string> => {
    const r = await execGit(['http-backend'], {
      env: {
        GIT_PROJECT_ROOT: env.repos,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: '/devices/d1.git/info/refs',
        QUERY_STRING: 'service=git-upload-pack',
        REQUEST_METHOD: 'GET',
      },
    });
    const s = r.stdout.toString('latin1');
    return s.slice(s.indexOf('\r\n\r\n') + 4);
  };
  // loose annotated tag: served by git (fallback), still identical
  assert.equal(
    Buffer.from(await (await fetch(url, { headers: h })).arrayBuffer()).toString('latin1'),
    await direct(),
  );
  await execGit(['--git-dir', gitdir, 'pack-refs', '--all']);
  await new NativeGitStore(gitdir).commitFiles({
    ref: 'main',
    expectedOid: await new NativeGitStore(gitdir).resolveRef('main'),
    changes: new Map([['x', 'y']]),
    message: 'loose over packed',
    author,
  });
  assert.equal(
    Buffer.from(await (await fetch(url, { headers: h })).arrayBuffer()).toString('latin1'),
    await direct(),
  );
});

test('bulk creation: 300 device repositories are valid empty bare repositories with HEAD -> main', async (t) => {
  const root = await tempDir(t);
  const ids = Array.from({ length: 300 }, (_, i) => `dev-${i}`);
  const r = await ensureDeviceRepos(root, ids);
  assert.equal(r.created, 300);
  assert.equal((await ensureDeviceRepos(root, ids.slice(0, 10))).created, 0, 'idempotent');
  for (const id of ['dev-0', 'dev-299']) {
    const gitdir = join(root, 'devices', `${id}.git`);
    assert.equal(
      (await execGit(['--git-dir', gitdir, 'rev-parse', '--is-bare-repository'])).stdout.toString().trim(),
      'true',
    );
    assert.equal(
      (await execGit(['--git-dir', gitdir, 'symbolic-ref', 'HEAD'])).stdout.toString().trim(),
      'refs/heads/main',
    );
    await execGit(['--git-dir', gitdir, 'fsck']);
    const s = new NativeGitStore(gitdir);
    await s.commitFiles({
      ref: 'main',
      expectedOid: null,
      changes: new Map([['a', 'b']]),
      message: 'm',
      author,
    });
    assert.deepEqual(
      parseCatFileBatch(
        (await execGit(['--git-dir', gitdir, 'cat-file', '--batch'], { input: 'main:a\n' })).stdout,
      ),
      [Buffer.from('b')],
    );
  }
  await assert.rejects(ensureDeviceRepos(root, ['ok', '../evil']), { code: 'GIT_INVALID_REPO_ID' });
});

test(
  '8 writers pushing to one branch through the server concurrently (fetch, commit, push, retry) lose nothing',
  { timeout: 120_000 },
  async (t) => {
    const env = await startEnv(t);
    const root = await tempDir(t);
    const url = env.url('fleet.git');
    const auth = { token: env.token.operator };
    const n = 8;
    const attempts = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const s =
          i % 2 ? new IsoGitStore(join(root, `w${i}.git`)) : new NativeGitStore(join(root, `w${i}.git`));
        await s.init();
        for (let attempt = 1; attempt <= 40; attempt++) {
          const { oid } = await s.fetch(url, { auth });
          await s.commitFiles({
            ref: 'main',
            expectedOid: oid,
            changes: new Map([[`deployments/w${i}.yaml`, `writer: ${i}\n`]]),
            message: `w${i}`,
            author,
          });
          try {
            await s.push(url, 'main', { auth });
            return attempt;
          } catch (e) {
            if ((e as { code?: string }).code !== 'GIT_PUSH_REJECTED') throw e;
            await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
          }
        }
        throw new Error(`writer ${i} gave up`);
      }),
    );
    const landed = await new NativeGitStore(join(env.repos, 'fleet.git')).readTree('main', 'deployments');
    assert.equal(landed.size, n);
    assert.equal(env.events.length, n, 'one push event per accepted push');
    assert.ok(
      attempts.some((a) => a > 1),
      'the writers really raced',
    );
  },
);

test('a client that disconnects mid-request leaves no git process behind', async (t) => {
  const env = await startEnv(t);
  const { connect } = await import('node:net');
  const gitChildren = async (): Promise<string[]> => {
    const r = await pexec('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)]).catch(() => ({
      stdout: '',
    }));
    return r.stdout.split('\n').filter((l) => /git/.test(l));
  };
  const port = env.srv.port;
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(
    `POST /git/fleet.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${env.token.operator}\r\nContent-Type: application/x-git-upload-pack-request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n0032w\r\n`,
  );
  // git http-backend is running and waiting for the rest of the body
  const deadline = Date.now() + 5000;
  while (!(await gitChildren()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await gitChildren()).length > 0, 'git started for the request');
  sock.destroy();
  const gone = Date.now() + 5000;
  while ((await gitChildren()).length && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await gitChildren(), []);
});

test("a device's fetches and status pushes with its own token are reported as seen; other roles and refused requests are not", async (t) => {
  const seen: string[] = [];
  const env = await startEnv(t, { onDeviceSeen: (id) => seen.push(id) });
  const dir = await tempDir(t);
  const device = new IsoGitStore(join(dir, 'device.git'));
  await device.init({ bare: true, defaultBranch: 'main' });
  await device.fetch(env.url('devices/d1.git'), {
    ref: 'main',
    into: 'main',
    auth: { token: env.token.device },
  });
  assert.ok(seen.length >= 1 && seen.every((id) => id === 'd1'), `seen: ${seen.join(', ')}`);
  const afterFetch = seen.length;
  // A status push is a contact too.
  await device.fetch(env.url('devices/d1.git'), {
    ref: 'status',
    into: 'status',
    auth: { token: env.token.device },
  });
  await device.commitFiles({
    ref: 'status',
    expectedOid: await device.resolveRef('status'),
    changes: new Map([['observed.json', '{}']]),
    message: 'status',
    author,
  });
  const beforePush = seen.length;
  await device.push(env.url('devices/d1.git'), 'status', { auth: { token: env.token.device } });
  assert.ok(seen.length > beforePush, 'the push was seen');
  assert.ok(beforePush > afterFetch);
  // Refused: another device's repository. Not a device: the operator reading d1.
  const n = seen.length;
  await assert.rejects(
    device.fetch(env.url('devices/d2.git'), {
      ref: 'main',
      into: 'other',
      auth: { token: env.token.device },
    }),
  );
  const operator = new IsoGitStore(join(dir, 'operator.git'));
  await operator.init({ bare: true, defaultBranch: 'main' });
  await operator.fetch(env.url('devices/d1.git'), {
    ref: 'main',
    into: 'main',
    auth: { token: env.token.operator },
  });
  assert.equal(seen.length, n, 'neither a refused request nor an operator counts');
});
