// Real headless Chromium for the console's browser tests and bench/console: Debian `chromium`
// (installed by test/testbed/up, path in MARGO_CHROMIUM) driven by playwright-core, an axe-core
// accessibility check, and screenshots kept as CI artefacts under artifacts/screenshots/.
//
// Chromium runs as root here (the testbed and CI run as root), where its sandbox cannot start
// ("Chromium sandboxing failed!" with chromiumSandbox: true): the harness launches it with
// --no-sandbox (chromiumSandbox: false). The pages are only our own console on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadTestbed, type Component } from '../testbed/env.js';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const screenshotDir = join(repoRoot, 'artifacts', 'screenshots');

/** The Chromium to drive: $MARGO_CHROMIUM, the testbed's env.json, then `chromium` on PATH. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.MARGO_CHROMIUM ?? loadTestbed()?.vars.MARGO_CHROMIUM;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  try {
    const p = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
    return p || undefined;
  } catch {
    return undefined;
  }
}

interface SkippableContext {
  skip(message?: string): void;
}

function noChromiumReason(): string {
  const set = process.env.MARGO_CHROMIUM ?? loadTestbed()?.vars.MARGO_CHROMIUM;
  return set
    ? `no Chromium at MARGO_CHROMIUM=${set}`
    : 'no Chromium (MARGO_CHROMIUM unset, no chromium on PATH)';
}

/**
 * The Chromium path, or: skips the test with a clear reason, or throws under
 * MARGO_REQUIRE_TESTBED=1 (CI must not pass by skipping the browser tests).
 */
export function requireChromium(t: SkippableContext): string | undefined {
  const p = chromiumPath();
  if (p) return p;
  const reason = noChromiumReason();
  if (process.env.MARGO_REQUIRE_TESTBED === '1') {
    throw new Error(
      `MARGO_REQUIRE_TESTBED=1 but ${reason}; run test/testbed/up (it installs Debian chromium)`,
    );
  }
  const msg = `SKIPPED (real components missing): ${reason}; run test/testbed/up`;
  process.stderr.write(`\n*** ${msg} ***\n`);
  t.skip(msg);
  return undefined;
}

/**
 * For a whole suite (describe's `skip`): undefined when Chromium and the named testbed components
 * are there; otherwise a loud skip reason - or a throw under MARGO_REQUIRE_TESTBED=1.
 */
export function suiteSkipReason(components: Component[] = []): string | undefined {
  const missing: string[] = [];
  if (!chromiumPath()) missing.push(noChromiumReason());
  const tb = loadTestbed();
  const gone = components.filter((c) => !tb?.components.includes(c));
  if (gone.length) missing.push(`testbed component(s) ${gone.join(', ')}`);
  if (!missing.length) return undefined;
  if (process.env.MARGO_REQUIRE_TESTBED === '1')
    throw new Error(`MARGO_REQUIRE_TESTBED=1 but missing: ${missing.join('; ')}; run test/testbed/up`);
  const msg = `SKIPPED (real components missing): ${missing.join('; ')}; run test/testbed/up`;
  process.stderr.write(`\n*** ${msg} ***\n`);
  return msg;
}

/** Launches headless Chromium (without its sandbox, which cannot start as root). */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    chromiumSandbox: false, // --no-sandbox: needed as root
    args: ['--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 60_000,
  });
}

/** Signs in on /ui/signin with `token` and waits until the console leaves the sign-in page. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/ui/signin`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/ui/signin'), { timeout: 15_000 });
  await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 15_000 });
}

const requireCjs = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: unknown[]; failureSummary?: string; html: string }[];
}

/** Human-readable lines for axe violations (rule, impact, help, each offending element). */
export function formatViolations(vs: AxeViolation[]): string {
  return vs
    .map(
      (v) =>
        `- [${v.impact}] ${v.id}: ${v.help}\n` +
        v.nodes
          .slice(0, 8)
          .map(
            (n) =>
              `    at ${JSON.stringify(n.target)}: ${n.html.slice(0, 160)}\n      ${(n.failureSummary ?? '').replace(/\n/g, '\n      ')}`,
          )
          .join('\n'),
    )
    .join('\n');
}

/**
 * Runs axe-core (axe.min.js injected into the page) on the current page; fails on any violation
 * of serious or critical impact and prints every violation found (minor/moderate as notes).
 */
export async function checkA11y(page: Page, label: string): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(requireCjs.resolve('axe-core/axe.min.js'), 'utf8');
  const loaded = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe === 'object');
  // The console's CSP forbids inline script; addScriptTag with content would be blocked, so the
  // source is evaluated through the DevTools protocol (page.evaluate), which CSP does not govern.
  if (!loaded) await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as any).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations;
  })) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = violations.filter((v) => !bad.includes(v));
  if (minor.length)
    process.stderr.write(`axe (${label}): ${minor.length} minor/moderate:\n${formatViolations(minor)}\n`);
  assert.equal(
    bad.length,
    0,
    `axe found ${bad.length} serious/critical violation(s) on ${label} (${page.url()}):\n${formatViolations(bad)}`,
  );
  return violations;
}

/** Full-page screenshot to artifacts/screenshots/<test>-<page>.png; returns the path. */
export async function screenshot(page: Page, test: string, pageName: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '-');
  const file = join(screenshotDir, `${safe(test)}-${safe(pageName)}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A "no reload" check: marks the current document with a random value; `same()` tells whether the
 * page still shows that very document (a reload or a full navigation loses the mark; client-side
 * route changes through the history API keep it).
 */
export async function markDocument(page: Page): Promise<{ same(): Promise<boolean> }> {
  const mark = Math.random().toString(36).slice(2);
  await page.evaluate((m) => {
    (globalThis as { __margoTestMark?: string }).__margoTestMark = m;
  }, mark);
  return {
    same: async () =>
      (await page.evaluate(() => (globalThis as { __margoTestMark?: string }).__margoTestMark)) === mark,
  };
}
