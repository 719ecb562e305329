// Smoke: the Docker engine runs the locally built test image, which answers HTTP and reports the
// environment it was given; a Compose package from test/fixtures/compose runs under the detected
// compose command.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireComponent, testbedProcessEnv } from '../testbed/env.ts';
import { httpGet, mustRun, run, uniqueName, waitFor } from './util.ts';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

async function hostPort(env: NodeJS.ProcessEnv, container: string): Promise<string> {
  // "127.0.0.1:49153"
  const out = await mustRun('docker', ['port', container, '8080/tcp'], { env });
  const line = out.split('\n').find((l) => l.startsWith('127.0.0.1:'));
  assert.ok(line, `no 127.0.0.1 port mapping in: ${out}`);
  return line.trim();
}

test('a container from the local image answers HTTP and reports its env', async (t) => {
  const tb = requireComponent(t, ['docker', 'image']);
  if (!tb) return;
  const env = testbedProcessEnv(tb);
  const name = uniqueName('margo-smoke');
  const token = uniqueName('token');
  t.after(() => run('docker', ['rm', '-f', name], { env }));
  await mustRun(
    'docker',
    ['run', '-d', '--name', name, '-e', `SMOKE_TOKEN=${token}`, '-p', '127.0.0.1::8080', tb.image!],
    { env },
  );
  const addr = await hostPort(env, name);
  const health = await waitFor('container /healthz', async () => {
    const r = await httpGet(`http://${addr}/healthz`).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  assert.equal(health.body.trim(), 'ok');
  const envPage = await httpGet(`http://${addr}/cgi-bin/env`);
  assert.equal(envPage.status, 200);
  assert.match(envPage.body, new RegExp(`^SMOKE_TOKEN=${token}$`, 'm'));
});

test('a compose package from test/fixtures runs and gets its variables', async (t) => {
  const tb = requireComponent(t, ['docker', 'image']);
  if (!tb) return;
  const [cmd, ...pre] = tb.compose!;
  const dir = mkdtempSync(join(tmpdir(), 'margo-smoke-compose-'));
  cpSync(join(fixtures, 'compose', 'hello'), dir, { recursive: true });
  const project = uniqueName('margosmoke').replace('-', '');
  const message = uniqueName('compose-message');
  // port 0 lets the engine pick a free host port
  const env = testbedProcessEnv(tb, { MESSAGE: message, HOST_PORT: '0' });
  t.after(async () => {
    await run(cmd!, [...pre, '-p', project, 'down', '-v', '--remove-orphans'], {
      env,
      cwd: dir,
      timeoutMs: 60_000,
    });
    rmSync(dir, { recursive: true, force: true });
  });
  await mustRun(cmd!, [...pre, '-p', project, 'up', '-d'], { env, cwd: dir, timeoutMs: 120_000 });
  const id = (await mustRun(cmd!, [...pre, '-p', project, 'ps', '-q', 'echo'], { env, cwd: dir })).trim();
  assert.ok(id, 'compose ps returned no container');
  const addr = await hostPort(env, id);
  const page = await waitFor('compose service /cgi-bin/env', async () => {
    const r = await httpGet(`http://${addr}/cgi-bin/env`).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  assert.match(page.body, new RegExp(`^MESSAGE=${message}$`, 'm'));
});
