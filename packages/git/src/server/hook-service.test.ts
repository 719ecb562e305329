import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatVerdict, parseHookCall, startHookService, type HookCall } from './hook-service.js';

const SECRET = 'a'.repeat(48);
const LINE = `${'0'.repeat(40)} ${'1'.repeat(40)} refs/heads/status`;

/** Runs the generated pre-receive hook as git would (stdin: ref updates; quarantine env). */
function runHook(dir: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(dir, 'pre-receive'), [], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        MARGO_HOOK_REQUEST: 'req-1',
        GIT_DIR: '.',
        GIT_OBJECT_DIRECTORY: '/q/objects/incoming',
        GIT_QUARANTINE_PATH: '/q/objects/incoming',
        GIT_ALTERNATE_OBJECT_DIRECTORIES: '/q/objects',
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
    // A hook that gives up early (server unreachable) may exit before reading its input, as git
    // allows: the write then fails with EPIPE, which is not the test's concern.
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${LINE}\n`);
  });
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

for (const runner of ['auto', 'node'] as const) {
  test(`pre-receive hook (${runner} runner): carries the call to the server and relays its verdict and messages`, async () => {
    const calls: HookCall[] = [];
    let ok = true;
    const svc = await startHookService({
      secret: SECRET,
      runner,
      nodePath: process.execPath,
      verdict: async (c) => {
        calls.push(c);
        return ok
          ? { ok: true, messages: [] }
          : { ok: false, messages: ['x.json GIT_STATUS_PATH_REFUSED no', 'margo: push refused'] };
      },
    });
    try {
      if (runner === 'auto' && existsSync('/bin/bash')) assert.equal(svc.runner, 'bash');
      if (runner === 'node') assert.equal(svc.runner, 'node');
      const hook = readFileSync(join(svc.dir, 'pre-receive'), 'utf8');
      assert.ok(!hook.includes(SECRET), 'the secret is never written into the hook');
      const accepted = await runHook(svc.dir, svc.env);
      assert.equal(accepted.code, 0, accepted.stderr);
      assert.equal(calls.length, 1);
      assert.deepEqual(
        { ...calls[0], gitDir: calls[0]!.gitDir.replace(/\/\.$/, '') },
        {
          request: 'req-1',
          hook: 'pre-receive',
          gitDir: svc.dir,
          objectDirectory: '/q/objects/incoming',
          alternates: '/q/objects',
          quarantine: '/q/objects/incoming',
          stdin: LINE,
        },
      );
      ok = false;
      const refused = await runHook(svc.dir, svc.env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /x\.json GIT_STATUS_PATH_REFUSED no\nmargo: push refused/);
      const wrong = await runHook(svc.dir, { ...svc.env, MARGO_HOOK_SECRET: 'b'.repeat(48) });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /hook call not authorised/);
      assert.equal(calls.length, 2, 'a call with a wrong secret never reaches the verdict');
      const unset = await runHook(svc.dir, {});
      assert.equal(unset.code, 1, 'no service configured: refused');
      const closed = await closedPort();
      const gone = await runHook(svc.dir, { ...svc.env, MARGO_HOOK_PORT: String(closed) });
      assert.equal(gone.code, 1, 'service unreachable: refused');
      assert.match(gone.stderr, /validation service is unreachable/);
    } finally {
      await svc.close();
    }
  });
}

test('hook service: a malformed or oversized call is refused; the wire format round-trips', async () => {
  assert.equal(parseHookCall('margo-hook 2\ns\nr\npre-receive\n/g\n\n\n\n.\n'), undefined);
  assert.equal(parseHookCall('margo-hook 1\ns\nr\n'), undefined);
  assert.deepEqual(parseHookCall(`margo-hook 1\ns\nr\npre-receive\n/g\no\na\nq\n${LINE}\n.\n`), {
    secret: 's',
    request: 'r',
    hook: 'pre-receive',
    gitDir: '/g',
    objectDirectory: 'o',
    alternates: 'a',
    quarantine: 'q',
    stdin: LINE,
  });
  assert.equal(formatVerdict({ ok: false, messages: ['a', 'b'] }), 'refused\na\nb\n');
  const svc = await startHookService({
    secret: SECRET,
    runner: 'node',
    nodePath: process.execPath,
    verdict: async () => ({ ok: true, messages: [] }),
  });
  const ask = (body: string | Buffer): Promise<string> =>
    new Promise((resolve) => {
      const s = net.connect(svc.port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
      s.end(body);
    });
  try {
    assert.match(await ask('margo-hook 9\n.\n'), /^refused\nmargo: malformed hook call/);
    assert.match(await ask(Buffer.alloc(2 * 1024 * 1024, 'x')), /^refused\nmargo: hook call too large/);
  } finally {
    await svc.close();
  }
});
