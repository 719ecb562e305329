import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hrefFor, parseRoute, safeNext, titleFor, type Route } from './route.js';

test('parseRoute: every page of the console', () => {
  assert.deepEqual(parseRoute('/ui'), { page: 'overview' });
  assert.deepEqual(parseRoute('/ui/'), { page: 'overview' });
  assert.deepEqual(parseRoute('/ui/devices'), { page: 'devices', filter: 'all', q: '', offset: 0 });
  assert.deepEqual(parseRoute('/ui/devices/', '?filter=stale&q=%20press%20&offset=250'), {
    page: 'devices',
    filter: 'stale',
    q: 'press',
    offset: 200,
  });
  assert.deepEqual(parseRoute('/ui/devices/press%2F1'), { page: 'device', id: 'press/1' });
  assert.deepEqual(parseRoute('/ui/deployments/hello'), { page: 'deployment', name: 'hello' });
  assert.deepEqual(parseRoute('/ui/catalog'), { page: 'catalog' });
  assert.deepEqual(parseRoute('/ui/catalog/com.example.hello'), { page: 'app', id: 'com.example.hello' });
  assert.deepEqual(parseRoute('/ui/signin', '?next=%2Fui%2Fdevices%2Fd1'), {
    page: 'signin',
    next: '/ui/devices/d1',
  });
});

test('parseRoute: unknown paths, bad filters, offsets and encodings', () => {
  assert.equal(parseRoute('/elsewhere').page, 'notFound');
  assert.equal(parseRoute('/uix').page, 'notFound');
  assert.equal(parseRoute('/ui/deployments').page, 'notFound');
  assert.equal(parseRoute('/ui/devices/a/b').page, 'notFound');
  assert.equal(parseRoute('/ui/devices/%E0%A4%A').page, 'notFound');
  assert.equal(parseRoute('/ui/nothing').page, 'notFound');
  const r = parseRoute('/ui/devices', '?filter=bogus&offset=-5');
  assert.deepEqual(r, { page: 'devices', filter: 'all', q: '', offset: 0 });
  assert.equal((parseRoute('/ui/devices', '?offset=abc') as { offset: number }).offset, 0);
});

test('safeNext keeps the user inside /ui and never loops to sign-in', () => {
  assert.equal(safeNext('/ui/devices?filter=stale'), '/ui/devices?filter=stale');
  for (const bad of [
    null,
    '',
    'https://evil.example/ui/',
    '//evil.example/ui/',
    '/ui\\..\\x',
    '/other',
    '/ui/signin',
    '/ui/signin?next=/ui/',
  ])
    assert.equal(safeNext(bad), '/ui/', String(bad));
});

test('hrefFor is the inverse of parseRoute', () => {
  const routes: Route[] = [
    { page: 'overview' },
    { page: 'devices', filter: 'all', q: '', offset: 0 },
    { page: 'devices', filter: 'problems', q: 'line 3', offset: 100 },
    { page: 'device', id: 'press 1/ä' },
    { page: 'deployment', name: 'hello-world' },
    { page: 'catalog' },
    { page: 'app', id: 'com.example.app' },
    { page: 'signin', next: '/ui/devices/d1' },
    { page: 'signin', next: '/ui/' },
  ];
  for (const r of routes) {
    const u = new URL(hrefFor(r), 'http://x');
    assert.deepEqual(parseRoute(u.pathname, u.search), r, hrefFor(r));
  }
  assert.equal(hrefFor({ page: 'devices', filter: 'all', q: '', offset: 0 }), '/ui/devices');
  assert.equal(titleFor({ page: 'device', id: 'd1' }), 'Device d1 · margo console');
});
