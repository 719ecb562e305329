/**
 * GitHttpHandlerOptions.onRequest with stock git: one event per request with its service, whether
 * it is the ref advertisement, the HTTP status, the device of a device token, and body bytes
 * counted each way (a push of 300 KB of random data must count at least that much in; the clone
 * that fetches it back at least that much out).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { GitRequestEvent } from '@margo-gitops/git';
import { startEnv, tempDir } from './helpers.ts';

const pexec = promisify(execFile);
const git = (cwd: string, ...args: string[]) =>
  pexec('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } });
const withToken = (url: string, token: string): string => url.replace('http://', `http://margo:${token}@`);
const settle = () => new Promise((r) => setTimeout(r, 50));

test('git request events: service, advertisement, status, device, bytes', async (t) => {
  const events: GitRequestEvent[] = [];
  const env = await startEnv(t, { onRequest: (e) => events.push(e) });
  const work = await tempDir(t);
  const a = join(work, 'a');
  await git(work, 'clone', '-q', withToken(env.url('fleet.git'), env.token.admin), 'a');
  await settle();
  // git may ask without credentials first (401), then advertises and fetches.
  assert.ok(events.every((e) => e.service === 'upload-pack' && e.deviceId === undefined));
  const seen = new Set(events.map((e) => `${e.advertisement ? 'refs' : 'pack'} ${e.status}`));
  assert.ok(seen.has('refs 200') && seen.has('pack 200'), JSON.stringify(events));
  assert.ok(
    [...seen].every((s) => /^(refs|pack) (200|401)$/.test(s)),
    JSON.stringify(events),
  );

  events.length = 0;
  const blob = randomBytes(300_000);
  writeFileSync(join(a, 'blob.bin'), blob);
  await git(a, 'add', 'blob.bin');
  await git(a, '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'blob');
  await git(a, 'push', '-q', 'origin', 'HEAD:main');
  await settle();
  const push = events.find((e) => e.service === 'receive-pack' && !e.advertisement);
  assert.ok(push, JSON.stringify(events));
  assert.equal(push.status, 200);
  assert.ok(push.bytesIn >= 300_000, `push counted ${push.bytesIn} bytes in`);
  assert.ok(push.bytesIn < 400_000, `push counted ${push.bytesIn} bytes in`);
  assert.ok(push.bytesOut > 0);
  assert.ok(push.durationMs > 0);

  events.length = 0;
  await git(work, 'clone', '-q', withToken(env.url('fleet.git'), env.token.admin), 'b');
  await settle();
  const packs = events.filter((e) => e.service === 'upload-pack' && !e.advertisement && e.status === 200);
  const out = packs.reduce((n, e) => n + e.bytesOut, 0);
  assert.ok(out >= 300_000 && out < 400_000, JSON.stringify(events));
  assert.ok(
    packs.every((e) => e.bytesIn > 0),
    'the fetch negotiation is counted in',
  );

  // A device token: the event names the device; a wrong token: 401 with no device.
  events.length = 0;
  await git(work, 'ls-remote', withToken(env.url('devices/d1.git'), env.token.device));
  await git(work, 'ls-remote', withToken(env.url('devices/d1.git'), 'wrong')).catch(() => undefined);
  await settle();
  const ok = events.filter((e) => e.status === 200);
  assert.ok(ok.length >= 1 && ok.every((e) => e.service === 'upload-pack' && e.deviceId === 'd1'));
  assert.ok(ok.some((e) => e.advertisement));
  assert.ok(events.some((e) => e.status === 401 && e.deviceId === undefined));
  // Not a repository route: still one event, service none.
  events.length = 0;
  await fetch404(`${env.srv.url}/nothing.git/info/refs`);
  await settle();
  assert.deepEqual(
    events.map((e) => [e.service, e.status]),
    [['none', 404]],
  );
});

test('a throwing onRequest does not take the server down', async (t) => {
  const env = await startEnv(t, {
    onRequest: () => {
      throw new Error('metrics broke');
    },
  });
  const work = await tempDir(t);
  await git(work, 'clone', '-q', withToken(env.url('fleet.git'), env.token.admin), 'a');
  await git(work, 'clone', '-q', withToken(env.url('catalog.git'), env.token.admin), 'b');
});

async function fetch404(url: string): Promise<void> {
  const r = await fetch(url);
  await r.arrayBuffer();
  assert.equal(r.status, 404);
}
