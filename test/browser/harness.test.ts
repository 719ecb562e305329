// The browser harness itself, in real headless Chromium: the axe-core check fails on a page with
// serious/critical violations and says which elements, passes a clean page, and works under the
// console's Content-Security-Policy (no inline script allowed); screenshots land in
// artifacts/screenshots/. Needs Chromium (test/testbed/up installs Debian chromium).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  checkA11y,
  chromiumPath,
  launchChromium,
  markDocument,
  screenshot,
  suiteSkipReason,
} from './harness.js';

const skip = suiteSkipReason();
let browser: Browser | undefined;
let page: Page;
let server: Server | undefined;
let base = '';

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";
const PAGES: Record<string, string> = {
  '/bad': `<!doctype html><html><head><title>bad</title></head><body><main>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
    <button></button>
    <input type="text">
  </main></body></html>`,
  '/good': `<!doctype html><html lang="en"><head><title>good</title></head><body>
    <a href="#main">Skip to content</a>
    <nav aria-label="Main"><a href="/good">Overview</a></nav>
    <main id="main"><h1>Fleet overview</h1>
      <table><caption>Devices by state</caption><thead><tr><th scope="col">State</th><th scope="col">Devices</th></tr></thead>
      <tbody><tr><td>reporting</td><td>1</td></tr></tbody></table>
      <label for="t">Token</label><input id="t" type="password"><button>Sign in</button>
    </main></body></html>`,
};

before(async () => {
  if (skip) return;
  server = createServer((req, res) => {
    const body = PAGES[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html', 'content-security-policy': CSP });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium(chromiumPath()!);
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  server?.close();
});

describe('browser harness', { skip, timeout: 120_000 }, () => {
  it('axe fails a page with serious/critical violations and names the elements', async () => {
    await page.goto(`${base}/bad`);
    const err = await checkA11y(page, 'bad').then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, 'the check passed a page with an unlabelled button, image and input');
    assert.match(err.message, /serious\/critical violation/);
    assert.match(err.message, /button-name/);
    assert.match(err.message, /image-alt/);
    assert.match(err.message, /at \["button"\]/);
  });

  it('axe passes a clean page under the console CSP, and a screenshot is written', async () => {
    await page.goto(`${base}/good`);
    await checkA11y(page, 'good');
    const file = await screenshot(page, 'harness', 'good');
    assert.ok(existsSync(file) && statSync(file).size > 1000, file);
  });

  it('markDocument tells a reload from a client-side route change', async () => {
    await page.goto(`${base}/good`);
    const doc = await markDocument(page);
    await page.evaluate(() => history.pushState({}, '', '/good#elsewhere'));
    assert.equal(await doc.same(), true);
    await page.reload();
    assert.equal(await doc.same(), false);
  });
});
