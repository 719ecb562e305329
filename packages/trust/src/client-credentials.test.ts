import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClientCredentialStore } from './client-credentials.js';

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

test('ClientCredentialStore: client credentials grant, expiry, revocation, rotation', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'margo-oauth-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  let now = new Date('2026-01-01T00:00:00Z');
  const store = new ClientCredentialStore(data, { now: () => now });
  const { clientId, clientSecret } = await store.issue('press-7');
  assert.match(clientId, /^[0-9a-f-]{36}$/);
  const file = join(data, 'state', 'oauth-clients.json');
  assert.doesNotMatch(await readFile(file, 'utf8'), new RegExp(clientSecret));
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  const tok = await store.issueAccessToken(clientId, clientSecret);
  assert.equal(tok.token_type, 'Bearer');
  assert.equal(tok.expires_in, 3600);
  assert.deepEqual(await store.verifyAccessToken(tok.access_token), {
    clientId,
    deviceId: 'press-7',
    expiresAt: new Date(now.getTime() + 3600_000),
  });

  const [payload, mac] = tok.access_token.slice(4).split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ c: clientId, e: 9999999999, n: 'x' })).toString(
    'base64url',
  );
  const cases: { name: string; fn: () => Promise<unknown>; code: string }[] = [
    {
      name: 'wrong secret',
      fn: () => store.issueAccessToken(clientId, clientSecret + 'x'),
      code: 'TRUST_OAUTH_INVALID_CLIENT',
    },
    {
      name: 'unknown client',
      fn: () => store.issueAccessToken('nobody', clientSecret),
      code: 'TRUST_OAUTH_INVALID_CLIENT',
    },
    {
      name: 'malformed token',
      fn: () => store.verifyAccessToken('Bearer x'),
      code: 'TRUST_ACCESS_TOKEN_INVALID',
    },
    {
      name: 'extended expiry',
      fn: () => store.verifyAccessToken(`mga_${forgedPayload}.${mac}`),
      code: 'TRUST_ACCESS_TOKEN_INVALID',
    },
    {
      name: 'mac cut',
      fn: () => store.verifyAccessToken(`mga_${payload}.${mac!.slice(1)}`),
      code: 'TRUST_ACCESS_TOKEN_INVALID',
    },
  ];
  for (const c of cases) assert.equal(await codeOfAsync(c.fn), c.code, c.name);

  now = new Date(now.getTime() + 3601_000);
  assert.equal(
    await codeOfAsync(() => store.verifyAccessToken(tok.access_token)),
    'TRUST_ACCESS_TOKEN_INVALID',
  );

  const fresh = await store.issueAccessToken(clientId, clientSecret);
  const newSecret = await store.rotateSecret(clientId);
  assert.equal(
    await codeOfAsync(() => store.issueAccessToken(clientId, clientSecret)),
    'TRUST_OAUTH_INVALID_CLIENT',
  );
  await store.issueAccessToken(clientId, newSecret);
  assert.equal(await store.revokeDevice('press-7'), 1);
  assert.equal(
    await codeOfAsync(() => store.verifyAccessToken(fresh.access_token)),
    'TRUST_ACCESS_TOKEN_INVALID',
  );
  assert.equal(
    await codeOfAsync(() => store.issueAccessToken(clientId, newSecret)),
    'TRUST_OAUTH_INVALID_CLIENT',
  );
});
