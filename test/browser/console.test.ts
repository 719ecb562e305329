// The operator console in real headless Chromium (Debian chromium driven by playwright-core)
// against a real `margo serve` and a real enrolled `margo-agent` installing on the testbed's Docker
// engine: sign-in, a deploy from the CLI seen going pending -> installed on the device page with no
// reload, a diff between two revisions, a rollback from the UI that is one fleet commit naming the
// token, a viewer who sees everything and can change nothing (UI and a direct POST), keyboard
// access, axe-core on every page and a screenshot of every page (artifacts/screenshots/).
// Needs `npm run build` (npm test does it), the testbed (docker, image) and Chromium.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadTestbed, testbedProcessEnv } from '../testbed/env.js';
import {
  deployHelloArgs,
  freePort,
  json,
  MargoCli,
  margoAgentBin,
  removeWorkloadOnPort,
  repoRoot as repo,
  stop,
  type Run,
} from '../e2e/cli/harness.js';
import {
  chromiumPath,
  checkA11y,
  launchChromium,
  markDocument,
  screenshot,
  signIn,
  suiteSkipReason,
} from './harness.js';

const skip = suiteSkipReason(['docker', 'image']);
const T = 'console'; // screenshot prefix

let dir: string;
let cli: MargoCli;
let base: string;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let browser: Browser | undefined;
let ctx: BrowserContext;
let page: Page;
/** The operator token the UI signs in with (name "Olivia Operator"). */
const operator = { token: '', id: '', name: 'Olivia Operator' };
const revisions: string[] = []; // the deploy commits, oldest first

const margo = (...args: string[]): Promise<Run> => cli.run(...args);
const until = <T>(s: number, what: string, get: () => Promise<T | undefined | false>) =>
  cli.until(s, what, get);
const fleetGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', join(dir, 'margo-data', 'repos', 'fleet.git'), ...args], {
    encoding: 'utf8',
  }).trim();
const short = (c: string) => c.slice(0, 7);

async function served(): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/cgi-bin/env`, {
    signal: AbortSignal.timeout(3000),
  }).catch(() => undefined);
  return res?.ok ? await res.text() : undefined;
}

/** Checks the page with axe and keeps its screenshot. */
async function look(p: Page, name: string): Promise<void> {
  await screenshot(p, T, name);
  await checkA11y(p, name);
}

/**
 * Records, in the page, each new text of the state cell of deployment `hello` in the device page's
 * "Deployments" table (a MutationObserver, so short-lived states are not missed between polls).
 * A string, not a function: tsx's helpers (__name) do not exist in the page.
 */
const STATE_RECORDER = `(() => {
  const g = globalThis;
  g.__states = [];
  const read = () => {
    for (const t of Array.from(document.querySelectorAll('table'))) {
      if (!t.caption || t.caption.textContent.trim() !== 'Deployments') continue;
      for (const tr of Array.from(t.querySelectorAll('tr'))) {
        if (tr.cells.length < 2 || tr.cells[0].tagName === 'TH') continue;
        if (tr.cells[0].textContent.trim() !== 'hello') continue;
        const s = (tr.cells[1].textContent || '').trim().split(/\\s+/)[0] || '';
        if (g.__states[g.__states.length - 1] !== s) g.__states.push(s);
      }
    }
  };
  new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true });
  read();
})()`;
const stateRecorder = (p: Page) => p.evaluate(STATE_RECORDER);
const statesSeen = (p: Page) =>
  p.evaluate(() => (globalThis as unknown as { __states: string[] }).__states.slice());

before(async () => {
  if (skip) return;
  assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
  assert.ok(existsSync(join(repo, 'packages/console/dist/index.html')), 'build first: npm run build');
  dir = await mkdtemp(join(tmpdir(), 'margo-browser-'));
  const port = await freePort();
  hostPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  const tb = loadTestbed()!;
  const env: NodeJS.ProcessEnv = {
    ...testbedProcessEnv(tb),
    MARGO_CONFIG: join(dir, 'home', '.config', 'margo', 'config.json'),
    NO_COLOR: '1',
    MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
  };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  cli = new MargoCli(dir, env);
  json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
  const op = json<{ token: string; id: string }>(
    await margo(
      'token',
      'create',
      '--role',
      'operator',
      '--name',
      operator.name,
      '--data',
      'margo-data',
      '-o',
      'json',
    ),
  );
  Object.assign(operator, { token: op.token, id: op.id });
  server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  const dev = json<{ enrolmentToken: string }>(
    await margo(
      'device',
      'add',
      'dev1',
      '--role',
      'standalone-device',
      '--label',
      'site=browser',
      '-o',
      'json',
    ),
  );
  agent = await cli.start(
    'agent',
    ['--server', base, '--token', dev.enrolmentToken, '--state', 'agent-state'],
    /agent for device dev1 running/,
    {},
    [margoAgentBin],
  );
  json(await margo('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
  browser = await launchChromium(chromiumPath()!);
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
});

after(async () => {
  if (skip) return;
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null && agent && agent.exitCode === null) {
    if ((await margo('undeploy', 'hello')).code === 0)
      await until(60, 'removal at cleanup', async () => !(await served())).catch(() => {});
  }
  if (agent?.pid && agent.exitCode === null) process.kill(agent.pid, 'SIGCONT');
  await stop(agent);
  await stop(server);
  if (hostPort) removeWorkloadOnPort(hostPort, cli.env);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('console in Chromium', { skip, timeout: 900_000 }, () => {
  it('sign-in: a wrong token is an alert; the operator token opens the fleet overview', async () => {
    await page.goto(`${base}/ui/`);
    await page.waitForURL(/\/ui\/signin/); // unauthenticated -> sign-in page
    await page.getByLabel('Token').fill('mgt_0000000000000000_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.ok((await alert.innerText()).trim().length > 0);
    await look(page, 'signin-error');
    // Signing in on the same page (no reload): the overview asked for beside the refused session
    // check on the first load must not be shown; the overview loads afresh.
    await page.getByLabel('Token').fill(operator.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
    await page.getByRole('table', { name: 'Devices by state' }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'no error shown after sign-in');
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const l of ['Overview', 'Devices', 'Catalog']) await nav.getByRole('link', { name: l }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.match(await page.locator('body').innerText(), /Olivia Operator/);
    await page
      .getByRole('status')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: 15_000 });
    for (const c of ['Devices by state', 'Deployments', 'Problems'])
      await page.getByRole('table', { name: c }).waitFor();
    await look(page, 'overview');
  });

  it('keyboard: Tab reaches the skip link first, then the main navigation, with a visible focus', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        const cs = el ? getComputedStyle(el) : undefined;
        return {
          text: (el?.innerText ?? el?.getAttribute('aria-label') ?? '').trim(),
          inNav: !!el?.closest('nav'),
          outlined: !!cs && (cs.outlineStyle !== 'none' || cs.boxShadow !== 'none'),
        };
      });
    await page.keyboard.press('Tab');
    const first = await focused();
    assert.equal(first.text, 'Skip to content');
    assert.ok(first.outlined, 'the focused skip link shows no focus ring');
    const reached: string[] = [];
    for (let i = 0; i < 12 && reached.length < 3; i++) {
      await page.keyboard.press('Tab');
      const f = await focused();
      if (f.inNav && ['Overview', 'Devices', 'Catalog'].includes(f.text)) {
        reached.push(f.text);
        assert.ok(f.outlined, `no visible focus on nav link ${f.text}`);
      }
    }
    assert.deepEqual(reached.sort(), ['Catalog', 'Devices', 'Overview']);
    // The skip link moves focus past the header to the content.
    await page.goto(`${base}/ui/devices`);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    assert.equal(
      await page.evaluate(
        () => !!document.activeElement?.closest('main') || document.activeElement?.tagName === 'MAIN',
      ),
      true,
    );
  });

  it('a CLI deploy shows on the device page as pending, then installed, with no reload', async (t) => {
    await page.goto(`${base}/ui/devices`);
    await page.getByRole('link', { name: 'dev1' }).first().click(); // client-side route
    await page.getByRole('heading', { level: 1, name: 'Device dev1' }).waitFor();
    for (const s of ['Labels', 'Capabilities', 'History'])
      await page.getByRole('heading', { name: s }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: 15_000 });
    const doc = await markDocument(page);
    await stateRecorder(page);
    // The agent is held (SIGSTOP) until the page showed pending, so that state cannot be missed.
    process.kill(agent!.pid!, 'SIGSTOP');
    try {
      const r = json<{ commit: string }>(
        await margo(...deployHelloArgs({ device: 'dev1', greeting: 'hi', hostPort })),
      );
      revisions.push(r.commit);
      await until(60, 'pending on the device page', async () => (await statesSeen(page)).includes('pending'));
    } finally {
      process.kill(agent!.pid!, 'SIGCONT');
    }
    await until(
      180,
      'installed on the device page',
      async () => (await statesSeen(page)).at(-1) === 'installed',
    );
    const seen = await statesSeen(page);
    t.diagnostic(`states shown on the device page: ${seen.join(' -> ')}`);
    assert.ok(seen.indexOf('pending') < seen.lastIndexOf('installed'), seen.join(' -> '));
    assert.ok(await doc.same(), 'the page was reloaded or navigated away');
    const row = page
      .getByRole('table', { name: 'Deployments' })
      .getByRole('row')
      .filter({ hasText: 'hello' });
    assert.match(await row.innerText(), /installed/);
    await page.getByRole('table', { name: 'Desired state commits' }).waitFor();
    await page.getByRole('table', { name: 'Status commits' }).waitFor();
    await look(page, 'device');
    assert.match((await until(60, 'the container to answer', served))!, /GREETING=hi/);
  });

  it('the deployment page shows a diff between two revisions', async () => {
    const r = json<{ commit: string }>(
      await margo(...deployHelloArgs({ device: 'dev1', greeting: 'bye', hostPort })),
    );
    revisions.push(r.commit);
    await page.goto(`${base}/ui/deployments/hello`);
    await page.getByRole('heading', { level: 1, name: 'Deployment hello' }).waitFor();
    await page.getByRole('table', { name: 'Devices' }).waitFor();
    await page.getByRole('table', { name: 'Parameters' }).waitFor();
    const revs = page.getByRole('table', { name: 'Revisions' });
    await until(30, 'both revisions listed', async () => {
      const t = await revs.innerText();
      return revisions.every((c) => t.includes(short(c)));
    });
    const pick = async (label: string, commit: string) => {
      const sel = page.getByLabel(label);
      const opts = await sel
        .locator('option')
        .evaluateAll((os) =>
          os.map((o) => ({ value: (o as HTMLOptionElement).value, text: o.textContent ?? '' })),
        );
      const o = opts.find((x) => x.value.startsWith(short(commit)) || x.text.includes(short(commit)));
      assert.ok(o, `${label}: no option for ${short(commit)} in ${JSON.stringify(opts)}`);
      await sel.selectOption(o.value);
    };
    await pick('From revision', revisions[0]!);
    await pick('To revision', revisions[1]!);
    const doc = await markDocument(page);
    await page.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.getByRole('region', { name: 'Diff' });
    await diff.waitFor();
    const lines = await until(15, 'diff lines', async () => {
      const l = (await diff.innerText()).split('\n');
      return l.some((x) => /^\+.*bye/.test(x)) ? l : undefined;
    });
    assert.ok(
      lines.some((x) => /^-.*\bhi\b/.test(x)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((x) => /^\+.*\bbye\b/.test(x)),
      lines.join('\n'),
    );
    assert.ok(await doc.same());
    await look(page, 'deployment-diff');
  });

  it('rollback from the UI: a confirm dialog, then one fleet commit naming the token', async () => {
    const before = fleetGit('rev-parse', 'main');
    const button = page.getByRole('button', { name: `Roll back to ${short(revisions[0]!)}` });
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Confirm rollback' });
    await dialog.waitFor();
    await look(page, 'rollback-dialog');
    await page.keyboard.press('Escape'); // Escape closes, nothing committed
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(fleetGit('rev-parse', 'main'), before);
    await button.click();
    await dialog.getByRole('button', { name: 'Cancel' }).waitFor();
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    const done = page.getByRole('status').filter({ hasText: /^Rolled back hello: commit / });
    await done.waitFor({ timeout: 30_000 });
    const head = fleetGit('rev-parse', 'main');
    assert.notEqual(head, before);
    assert.match(await done.innerText(), new RegExp(`commit ${short(head)}`));
    assert.equal(fleetGit('rev-parse', 'main^'), before, 'more than one commit');
    assert.equal(fleetGit('log', '-1', '--format=%an', 'main'), 'Olivia Operator (margo console)');
    const trailers = fleetGit('log', '-1', '--format=%(trailers:only,unfold)', 'main');
    assert.match(trailers, new RegExp(`^Margo-Token: ${operator.id}$`, 'm'));
    assert.match(trailers, /^Margo-Via: console$/m);
    assert.ok(!fleetGit('log', '-1', '--format=%B', 'main').includes(operator.token));
    assert.match(fleetGit('show', 'main:deployments/hello.yaml'), /\bhi\b/);
    await look(page, 'deployment-rolled-back');
    await until(180, 'GREETING=hi back in the container', async () =>
      /GREETING=hi/.test((await served()) ?? ''),
    );
  });

  it('catalog: the applications, the package description rendered, its versions', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('table', { name: 'Deployments' }).getByRole('link', { name: 'hello' }).waitFor();
    await look(page, 'overview-deployed');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('heading', { level: 1, name: 'Catalog' }).waitFor();
    await page.getByRole('table', { name: 'Applications' }).waitFor();
    await look(page, 'catalog');
    await page.getByRole('table', { name: 'Applications' }).getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: 'Hello world' }).waitFor();
    const article = page.getByRole('article', { name: 'Description' });
    await article.waitFor();
    assert.ok((await article.innerText()).trim().length > 0);
    assert.match(await page.getByRole('table', { name: 'Versions' }).innerText(), /1\.0\.0/);
    await look(page, 'catalog-app');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('link', { name: 'dev1' }).first().waitFor();
    await look(page, 'devices');
  });

  it('a viewer sees every page, gets no rollback button, and a direct rollback POST is refused', async () => {
    const v = json<{ token: string }>(
      await margo(
        'token',
        'create',
        '--role',
        'viewer',
        '--name',
        'Vera Viewer',
        '--data',
        'margo-data',
        '-o',
        'json',
      ),
    );
    const vctx = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const vp = await vctx.newPage();
      await signIn(vp, base, v.token);
      await vp.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
      assert.match(await vp.locator('body').innerText(), /Vera Viewer/);
      await look(vp, 'viewer-overview');
      // path, h1, what shows the page's data is there, screenshot name
      const pages: [string, string, (p: Page) => Promise<void>, string][] = [
        [
          '/ui/devices',
          'Devices',
          (p) => p.getByRole('link', { name: 'dev1' }).first().waitFor(),
          'viewer-devices',
        ],
        [
          '/ui/devices/dev1',
          'Device dev1',
          (p) => p.getByRole('table', { name: 'Status commits' }).waitFor(),
          'viewer-device',
        ],
        [
          '/ui/deployments/hello',
          'Deployment hello',
          async (p) => {
            await p.getByRole('table', { name: 'Revisions' }).waitFor();
            await p.getByText('Read-only (viewer)').waitFor();
            assert.equal(await p.getByRole('button', { name: /^Roll back to / }).count(), 0);
          },
          'viewer-deployment',
        ],
        [
          '/ui/catalog',
          'Catalog',
          (p) => p.getByRole('table', { name: 'Applications' }).waitFor(),
          'viewer-catalog',
        ],
        [
          '/ui/catalog/hello-world',
          'Hello world',
          (p) => p.getByRole('table', { name: 'Versions' }).waitFor(),
          'viewer-catalog-app',
        ],
      ];
      for (const [path, h1, loaded, shot] of pages) {
        await vp.goto(`${base}${path}`);
        await vp.getByRole('heading', { level: 1, name: h1 }).waitFor();
        await loaded(vp);
        await look(vp, shot);
      }
      const before = fleetGit('rev-parse', 'main');
      const res = await vctx.request.post(`${base}/ui/api/deployments/hello/rollback`, {
        headers: { 'x-margo-console': '1', origin: base, 'content-type': 'application/json' },
        data: { to: revisions[1] },
      });
      assert.equal(res.status(), 403);
      assert.equal(((await res.json()) as { code: string }).code, 'CONSOLE_FORBIDDEN');
      assert.equal(fleetGit('rev-parse', 'main'), before, 'the refused rollback committed');
    } finally {
      await vctx.close();
    }
  });

  it('sign out ends the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/ui\/signin/);
    const r = await ctx.request.get(`${base}/ui/api/session`);
    assert.equal(r.status(), 401);
    await look(page, 'signin');
  });
});
