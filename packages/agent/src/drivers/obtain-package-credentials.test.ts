import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { downloadHeaders, readLocation, setServerCredentials } from './obtain-package.js';

test('download credentials: the Git token goes to the device’s own server only', () => {
  setServerCredentials('https://margo.example:8470/git/devices/d1.git', 'mgt_tok');
  try {
    assert.deepEqual(downloadHeaders('https://margo.example:8470/catalog/a/1/p.tar.gz'), {
      authorization: 'Bearer mgt_tok',
    });
    assert.deepEqual(downloadHeaders('https://margo.example/catalog/a/1/p.tar.gz'), {}, 'another port');
    assert.deepEqual(downloadHeaders('http://margo.example:8470/catalog/a/1/p.tar.gz'), {}, 'another scheme');
    assert.deepEqual(downloadHeaders('https://evil.example/catalog/a/1/p.tar.gz'), {});
    assert.deepEqual(downloadHeaders('not a url'), {});
  } finally {
    setServerCredentials(undefined, undefined);
  }
  assert.deepEqual(downloadHeaders('https://margo.example:8470/catalog/a/1/p.tar.gz'), {});
});

test('download credentials: sent on the request, and a redirect is not followed with them', async (t) => {
  const seen: (string | undefined)[] = [];
  const srv = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.url === '/catalog/moved') res.writeHead(302, { location: '/catalog/ok' }).end();
    else res.end('bytes');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  setServerCredentials(`${base}/git/devices/d1.git`, 'mgt_tok');
  t.after(() => setServerCredentials(undefined, undefined));
  const o = { repoFiles: new Map<string, Buffer>(), timeoutMs: 5000 };
  assert.equal((await readLocation(`${base}/catalog/ok#sha256=${'0'.repeat(64)}`, o))?.toString(), 'bytes');
  assert.deepEqual(seen, ['Bearer mgt_tok']);
  await assert.rejects(readLocation(`${base}/catalog/moved`, o), { code: 'AGENT_PACKAGE_UNREACHABLE' });
  assert.equal(seen.length, 2, 'the redirect target was not asked');
});
