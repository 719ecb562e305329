import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGitPath, tokenFromHeader } from './routes.js';

test('http: routes smart-HTTP paths and refuses the rest', () => {
  assert.deepEqual(parseGitPath('catalog.git/info/refs', 'GET', 'git-upload-pack'), {
    repo: { kind: 'catalog', name: 'catalog.git' },
    action: 'advertise-upload',
  });
  assert.deepEqual(parseGitPath('devices/d-1.git/git-receive-pack', 'POST', null), {
    repo: { kind: 'device', deviceId: 'd-1', name: 'devices/d-1.git' },
    action: 'receive-pack',
  });
  for (const [p, m, s, code] of [
    ['catalog.git/HEAD', 'GET', null, 404],
    ['catalog.git/info/refs', 'GET', null, 403],
    ['catalog.git/git-upload-pack', 'GET', null, 405],
    ['devices/..%2f.git/info/refs', 'GET', 'git-upload-pack', 404],
    ['devices/.hidden.git/info/refs', 'GET', 'git-upload-pack', 404],
    ['other.git/info/refs', 'GET', 'git-upload-pack', 404],
    ['devices/a/b.git/info/refs', 'GET', 'git-upload-pack', 404],
  ] as const) {
    const r = parseGitPath(p, m, s);
    assert.ok('error' in r, p);
    if ('error' in r) assert.equal(r.error, code, p);
  }
});

test('http: reads tokens from Basic (password or user) and Bearer', () => {
  const b = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.equal(tokenFromHeader(b('x:tok')), 'tok');
  assert.equal(tokenFromHeader(b('tok:')), 'tok');
  assert.equal(tokenFromHeader('Bearer tok'), 'tok');
  assert.equal(tokenFromHeader('bearer  tok'), 'tok');
  assert.equal(tokenFromHeader('Digest x'), undefined);
  assert.equal(tokenFromHeader(undefined), undefined);
});
