import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TokenStore } from '@margo-gitops/git';
import { memoryIo } from '../io.js';
import { main } from '../main.js';
import { parseDuration } from './token.js';

async function margo(args: string[], cwd: string) {
  const io = memoryIo();
  const code = await main(['node', 'margo', ...args], {
    io,
    env: { MARGO_CONFIG: '/nonexistent/config.json' },
    cwd,
  });
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('parseDuration', () => {
  it('reads units and sums parts', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
    assert.equal(parseDuration('90m'), 5_400_000);
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
  });
  for (const bad of ['', '0d', '10', 'd', '5x', '1d 2h', '-1h'])
    it(`refuses "${bad}"`, () => assert.throws(() => parseDuration(bad), { code: 'USAGE_ERROR' }));
});

describe('margo token create|list|revoke', () => {
  it('creates a viewer token shown once, lists it without the secret, revokes it', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'margo-token-cmd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const c = await margo(
      [
        'token',
        'create',
        '--role',
        'viewer',
        '--name',
        'Ada',
        '--expires',
        '1d',
        '--data',
        'd',
        '-o',
        'json',
      ],
      dir,
    );
    assert.equal(c.code, 0, c.err);
    const created = JSON.parse(c.out) as { token: string; id: string; role: string; expiresAt: string };
    assert.equal(created.role, 'viewer');
    assert.ok(Date.parse(created.expiresAt) > Date.now() + 86_000_000);
    const store = TokenStore.open(join(dir, 'd', 'auth', 'tokens.json'));
    assert.equal(store.verify(created.token)?.name, 'Ada');
    const file = await readFile(join(dir, 'd', 'auth', 'tokens.json'), 'utf8');
    assert.ok(!file.includes(created.token));

    const l = await margo(['token', 'list', '--data', 'd'], dir);
    assert.equal(l.code, 0, l.err);
    assert.match(l.out, new RegExp(`${created.id}\\s+viewer\\s+Ada`));
    assert.ok(!l.out.includes(created.token.slice(21)), 'list never shows the secret');

    const r = await margo(['token', 'revoke', created.id, '--data', 'd'], dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(TokenStore.open(join(dir, 'd', 'auth', 'tokens.json')).verify(created.token), undefined);
    assert.equal((await margo(['token', 'list', '--data', 'd'], dir)).out, 'no tokens\n');
    assert.match((await margo(['token', 'list', '--all', '--data', 'd'], dir)).out, /revoked/);
  });

  it('refuses device tokens, unknown roles and unknown ids', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'margo-token-cmd-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const d = await margo(['token', 'create', '--role', 'device', '--name', 'x', '--data', 'd'], dir);
    assert.equal(d.code, 2);
    assert.match(d.err, /USAGE_ERROR/);
    const n = await margo(['token', 'create', '--role', 'viewer', '--name', '<b>', '--data', 'd'], dir);
    assert.equal(n.code, 2);
    const r = await margo(['token', 'revoke', '0123456789abcdef', '--data', 'd'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /GIT_TOKEN_NOT_FOUND/);
  });
});
