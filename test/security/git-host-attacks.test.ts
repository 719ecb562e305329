// The embedded Git server and the catalog file route of a real `margo serve`, attacked with stock
// git, curl and raw sockets by someone holding a publisher, operator or stolen device token (or
// none): published catalog versions edited or deleted, a folder whose margo.yaml names another
// version, symlinks and gitlinks, catalog files read without credentials or by a device whose
// desired state does not name them, the status branch deleted or filled with other files, corrupt
// gzip bodies and malformed URLs, wrong-token brute force, and command lists trickled without
// flush to stall the server. Each is refused with its code and nothing is stored.
//
// MARGO_CLI_BIN runs another build of the CLI (how this test was checked to fail on the old code).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDeviceRepo, TokenStore } from '../../packages/git/src/index.js';
import { freePort, json, margoBin, MargoCli, repoRoot, stop, type Run } from '../e2e/cli/harness.js';

let dir: string;
let cli: MargoCli;
let port: number;
let base: string;
let server: ChildProcess | undefined;
let tokens: { admin: string; publisher: string; operator: string };
let deviceToken: string;

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const repos = () => join(dir, 'margo-data', 'repos');
const auth = (token: string) => ['-c', `http.extraHeader=Authorization: Bearer ${token}`];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}
/** Runs git expecting failure; returns its stderr. */
function gitFails(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=Mallory', '-c', 'user.email=m@example.invalid', ...args], {
    cwd,
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0, `git ${args.join(' ')} succeeded:\n${r.stderr}`);
  return r.stderr;
}
const head = (repo: string, ref = 'main') => git(dir, '--git-dir', join(repos(), repo), 'rev-parse', ref);

/** A fresh clone of `repo` (branch `branch`) with `token`. */
async function clone(repo: string, token: string, branch = 'main'): Promise<string> {
  const wt = await mkdtemp(join(dir, 'wt-'));
  git(dir, ...auth(token), 'clone', '-q', '-b', branch, `${base}/git/${repo}`, wt);
  return wt;
}

/** curl as an attacker would: status code and body. */
function curl(...args: string[]): { status: number; body: string } {
  const out = execFileSync('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'margo-git-host-'));
  port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, MARGO_CONFIG: join(dir, 'config.json'), NO_COLOR: '1' };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env, process.env.MARGO_CLI_BIN ?? margoBin);
  tokens = json<{ tokens: typeof tokens }>(
    await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
  ).tokens;
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  base = `http://127.0.0.1:${port}`;
  json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
  json(await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'));
  // The stolen device token: what enrolment issues (the server re-reads the token file within 1 s).
  await ensureDeviceRepo(repos(), 'dev1');
  deviceToken = TokenStore.open(join(dir, 'margo-data', 'auth', 'tokens.json')).issueToken('device', {
    deviceId: 'dev1',
    name: 'device dev1',
  }).token;
  await new Promise((r) => setTimeout(r, 1200));
  // The device's first status report, as the agent makes it.
  const wt = await mkdtemp(join(dir, 'status-'));
  git(wt, 'init', '-q', '-b', 'status');
  await writeFile(join(wt, 'capabilities.json'), '{}\n');
  git(wt, 'add', '.');
  git(wt, 'commit', '-qm', 'status');
  git(wt, ...auth(deviceToken), 'push', '-q', `${base}/git/devices/dev1.git`, 'status');
});

after(async () => {
  await stop(server);
  await rm(dir, { recursive: true, force: true });
});

describe('attacks on the Git host of a real margo serve', { timeout: 600_000 }, () => {
  it('a published version cannot be edited or deleted (GIT_CATALOG_VERSION_IMMUTABLE)', async () => {
    const before = head('catalog.git');
    const wt = await clone('catalog.git', tokens.publisher);
    const file = join(wt, 'hello-world/1.0.0/margo.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('tagline:', 'tagline: pwned'));
    git(wt, 'commit', '-qam', 'fix a typo');
    assert.match(
      gitFails(wt, ...auth(tokens.publisher), 'push', 'origin', 'main'),
      /remote: hello-world\/1\.0\.0\/margo\.yaml GIT_CATALOG_VERSION_IMMUTABLE/,
    );
    git(wt, 'reset', '-q', '--hard', 'origin/main');
    git(wt, 'rm', '-rq', 'hello-world/1.0.0');
    git(wt, 'commit', '-qm', 'remove');
    assert.match(
      gitFails(wt, ...auth(tokens.publisher), 'push', 'origin', 'main'),
      /GIT_CATALOG_VERSION_IMMUTABLE .*deletes hello-world\/1\.0\.0\//,
    );
    assert.equal(head('catalog.git'), before);
  });

  it('a folder whose margo.yaml names another version is refused at the version field (GIT_CATALOG_PATH_MISMATCH)', async () => {
    const wt = await clone('catalog.git', tokens.publisher);
    await mkdir(join(wt, 'hello-world/6.6.6'), { recursive: true });
    await writeFile(
      join(wt, 'hello-world/6.6.6/margo.yaml'),
      await readFile(join(wt, 'hello-world/1.0.0/margo.yaml')),
    );
    git(wt, 'add', '.');
    git(wt, 'commit', '-qm', 'new version');
    const line = (await readFile(join(wt, 'hello-world/6.6.6/margo.yaml'), 'utf8'))
      .split('\n')
      .findIndex((l) => /^\s+version: 1\.0\.0/.test(l));
    assert.match(
      gitFails(wt, ...auth(tokens.publisher), 'push', 'origin', 'main'),
      new RegExp(`remote: hello-world/6\\.6\\.6/margo\\.yaml:${line + 1}:\\d+ GIT_CATALOG_PATH_MISMATCH`),
    );
  });

  it('symlinks and gitlinks are refused in catalog and fleet pushes (GIT_LINK_REFUSED)', async () => {
    for (const [repo, token] of [
      ['catalog.git', tokens.publisher],
      ['fleet.git', tokens.operator],
    ] as const) {
      const before = head(repo);
      const wt = await clone(repo, token);
      const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: wt, input: '/etc' })
        .toString()
        .trim();
      git(wt, 'update-index', '--add', '--cacheinfo', `120000,${blob},victim`);
      git(wt, 'commit', '-qm', 'link');
      assert.match(
        gitFails(wt, ...auth(token), 'push', 'origin', 'main'),
        /remote: victim GIT_LINK_REFUSED victim is a symbolic link/,
        repo,
      );
      git(wt, 'reset', '-q', '--hard', 'origin/main');
      git(wt, 'update-index', '--add', '--cacheinfo', `160000,${head(repo)},sub`);
      git(wt, 'commit', '-qm', 'gitlink');
      assert.match(
        gitFails(wt, ...auth(token), 'push', 'origin', 'main'),
        /remote: sub GIT_LINK_REFUSED sub is a gitlink/,
        repo,
      );
      assert.equal(head(repo), before, repo);
    }
  });

  it('catalog files need a token; a device token reads only what its desired state names (401, 403)', () => {
    const url = `${base}/catalog/hello-world/1.0.0/margo.yaml`;
    const anon = curl(url);
    assert.equal(anon.status, 401);
    assert.match(anon.body, /GIT_AUTH_FAILED/);
    assert.equal(curl('-H', 'Authorization: Bearer mgt_0000000000000000_wrong', url).status, 401);
    const dev = curl('-H', `Authorization: Bearer ${deviceToken}`, url);
    assert.equal(dev.status, 403);
    assert.match(dev.body, /GIT_CATALOG_FILE_FORBIDDEN/);
    const op = curl('-H', `Authorization: Bearer ${tokens.operator}`, url);
    assert.equal(op.status, 200);
    assert.match(op.body, /id: hello-world/);
  });

  it('with the device token: the status branch cannot be deleted (GIT_STATUS_BRANCH_PROTECTED)', async () => {
    const wt = await clone('devices/dev1.git', deviceToken, 'status');
    const before = head('devices/dev1.git', 'status');
    assert.match(
      gitFails(wt, ...auth(deviceToken), 'push', 'origin', '--delete', 'status'),
      /GIT_STATUS_BRANCH_PROTECTED/,
    );
    assert.equal(head('devices/dev1.git', 'status'), before);
  });

  it('with the device token: other files and oversized files on the status branch are refused (GIT_STATUS_PATH_REFUSED)', async () => {
    const before = head('devices/dev1.git', 'status');
    const wt = await clone('devices/dev1.git', deviceToken, 'status');
    await writeFile(join(wt, 'evil.sh'), '#!/bin/sh\n');
    git(wt, 'add', '.');
    git(wt, 'commit', '-qm', 'plant');
    assert.match(
      gitFails(wt, ...auth(deviceToken), 'push', 'origin', 'status'),
      /remote: evil\.sh GIT_STATUS_PATH_REFUSED/,
    );
    git(wt, 'reset', '-q', '--hard', 'origin/status');
    await mkdir(join(wt, 'deployments'), { recursive: true });
    await writeFile(
      join(wt, 'deployments/x.json'),
      randomBytes(2 * 1024 * 1024)
        .toString('base64')
        .slice(0, 2_500_000),
    );
    git(wt, 'add', '.');
    git(wt, 'commit', '-qm', 'fill the disk');
    assert.match(
      gitFails(wt, ...auth(deviceToken), 'push', '--force', 'origin', 'status'),
      /deployments\/x\.json GIT_STATUS_PATH_REFUSED .*at most 1048576 bytes/,
    );
    assert.equal(head('devices/dev1.git', 'status'), before);
  });

  it('corrupt gzip bodies and malformed URLs are 4xx with a code, never 500', () => {
    const junk = join(dir, 'junk.gz');
    execFileSync('sh', ['-c', `printf 'not gzip at all' > ${junk}`]);
    for (const svc of ['git-receive-pack', 'git-upload-pack']) {
      const r = curl(
        '-H',
        `Authorization: Bearer ${deviceToken}`,
        '-H',
        'Content-Encoding: gzip',
        '-H',
        `Content-Type: application/x-${svc}-request`,
        '--data-binary',
        `@${junk}`,
        `${base}/git/devices/dev1.git/${svc}`,
      );
      assert.equal(r.status, 400, `${svc}: ${r.body}`);
      assert.match(r.body, /GIT_BAD_REQUEST/);
    }
    const bad = curl(
      '--path-as-is',
      '-H',
      `Authorization: Bearer ${tokens.admin}`,
      `${base}/catalog/%E0%A4%A`,
    );
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /GIT_BAD_REQUEST/);
    const g = curl('--path-as-is', `${base}/git/devices/%E0%A4%A.git/info/refs?service=git-upload-pack`);
    assert.ok(g.status >= 400 && g.status < 500, `${g.status} ${g.body}`);
  });

  it('a command list trickled without flush by several connections neither stalls the server nor is read past its bound', async () => {
    const ping = async (): Promise<number> => {
      const t0 = performance.now();
      await fetch(`${base}/healthz`).then((r) => r.text());
      return performance.now() - t0;
    };
    // Baseline: pings answered in one second with nobody attacking.
    const count = async (ms: number): Promise<{ n: number; worst: number }> => {
      const end = performance.now() + ms;
      let n = 0;
      let worst = 0;
      while (performance.now() < end && n < 10_000) {
        worst = Math.max(worst, await ping());
        n++;
      }
      return { n, worst };
    };
    const quiet = await count(1000);
    // One 16 KiB piece of command list, built once so that sending costs this process nothing.
    const payload = `${'0'.repeat(40)} ${'1'.repeat(40)} refs/heads/${'x'.repeat(900)}\n`;
    const line = Buffer.from(`${(payload.length + 4).toString(16).padStart(4, '0')}${payload}`);
    const body = Buffer.concat(Array.from({ length: 16 }, () => line));
    const piece = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]);
    const attack = (): Promise<string> =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        let answer = '';
        let sent = 0;
        const send = () => {
          // 4 MiB in 16 KiB writes, never a flush packet.
          while (sent < 4 * 1024 * 1024 && answer === '') {
            sent += body.length;
            if (!s.write(piece)) return s.once('drain', send);
          }
        };
        s.on('connect', () => {
          s.write(
            `POST /git/devices/dev1.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${deviceToken}\r\n` +
              'Content-Type: application/x-git-receive-pack-request\r\nTransfer-Encoding: chunked\r\n\r\n',
          );
          send();
        });
        s.on('data', (d) => {
          // The answer is one short text: take it and hang up (the server may wait for the rest).
          if (!answer) setTimeout(() => s.destroy(), 300);
          answer += d.toString();
        });
        const timer = setTimeout(() => s.destroy(), 120_000);
        s.on('error', () => undefined);
        s.on('close', () => {
          clearTimeout(timer);
          resolve(answer);
        });
      });
    const attacks = Array.from({ length: 4 }, attack);
    const during = await count(1000);
    const answers = await Promise.all(attacks);
    // The server kept answering other requests while four connections trickled their lists:
    // at least a quarter of the quiet rate, and no single answer waited seconds.
    assert.ok(during.n * 4 >= quiet.n, `pings: ${during.n} under attack vs ${quiet.n} quiet`);
    assert.ok(during.worst < 3000, `slowest ping under attack ${during.worst} ms`);
    for (const a of answers) assert.match(a, /^HTTP\/1\.1 413[\s\S]*GIT_PUSH_TOO_LARGE/);
  });

  it('yanking is a recorded operation: yanked.yaml is added once and never changed', async () => {
    const wt = await clone('catalog.git', tokens.publisher);
    await writeFile(
      join(wt, 'hello-world/1.0.0/yanked.yaml'),
      'apiVersion: catalog.margo-gitops.io/v1alpha1\nkind: Yank\nreason: CVE-2026-0001 in the image\n',
    );
    git(wt, 'add', '.');
    git(wt, 'commit', '-qm', 'yank hello-world 1.0.0');
    git(wt, ...auth(tokens.publisher), 'push', '-q', 'origin', 'main');
    await writeFile(join(wt, 'hello-world/1.0.0/yanked.yaml'), 'kind: Yank\nreason: never mind\n');
    git(wt, 'commit', '-qam', 'unyank');
    assert.match(
      gitFails(wt, ...auth(tokens.publisher), 'push', 'origin', 'main'),
      /hello-world\/1\.0\.0\/yanked\.yaml GIT_CATALOG_YANK_INVALID/,
    );
  });

  // Last: it blocks this address for a while.
  it('wrong Git tokens are rate limited per address (429 GIT_RATE_LIMITED)', () => {
    const url = `${base}/git/catalog.git/info/refs?service=git-upload-pack`;
    let status = 0;
    let tries = 0;
    for (; tries < 200 && status !== 429; tries++) {
      status = curl(
        '-H',
        `Authorization: Bearer mgt_${randomBytes(8).toString('hex')}_${'A'.repeat(43)}`,
        url,
      ).status;
      assert.ok(status === 401 || status === 429, `status ${status}`);
    }
    assert.equal(status, 429, `no 429 after ${tries} wrong tokens`);
    // Blocked means blocked: a right token from the same address waits too (no oracle).
    const r = curl('-H', `Authorization: Bearer ${tokens.admin}`, url);
    assert.equal(r.status, 429);
    assert.match(r.body, /GIT_RATE_LIMITED/);
  });
});
