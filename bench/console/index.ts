/**
 * bench/console: the console's first page with a large fleet, in real Chromium against a real
 * `margo serve`.
 *
 *   node --conditions=source --import tsx bench/console/index.ts [--devices N] [--floor-devices F]
 *     [--runs R] [--keep]
 *
 * For F (default 10, the floor) and then N (default 10,000) devices: a data folder written directly
 * (fixture.ts: `margo init`, device repositories, fleet, first fan-out, statuses), `margo serve`
 * started on it and left to settle (its CPU idle: the first reconcile pass done), then
 *   - the JSON behind the page, timed from here (GET /ui/api/overview, cold and warm, and the first
 *     page of /ui/api/devices), to tell server time from browser time;
 *   - R page loads of /ui/ in fresh browser contexts (signed in, empty cache): navigation start to
 *     the overview's tables rendered (the captions "Devices by state", "Deployments", "Problems"
 *     in the DOM with deployment rows, at the next animation frame), median and each run;
 *   - the server's RSS (VmRSS of the `margo serve` process): settled, after the R loads, and with
 *     one console page left open on the live event stream.
 * Goals (issue 16): first page < 1 s with 10,000 devices; RSS growth < 50 MB. Exits 1 when the big
 * fleet misses one (and says which).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { chromiumPath, launchChromium } from '../../test/browser/harness.js';
import { makeFleet, margoBin } from './fixture.js';

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const N = num('devices', 10_000);
const FLOOR = num('floor-devices', 10);
const RUNS = num('runs', 5);
const keep = argv.includes('--keep');
const GOAL_MS = 1000;
const GOAL_RSS_MB = 50;
const TICK_MS = 10;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

const procStatus = (pid: number, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const rssMb = (pid: number) => procStatus(pid, 'VmRSS');
const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;
const mb = (x: number) => `${x.toFixed(1)} MB`;

function startServe(
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ proc: ChildProcess; log: () => string }> {
  let log = '';
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [margoBin, 'serve', '--data', dataDir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(
      () => reject(new Error(`serve not ready in 600 s:\n${log.slice(-2000)}`)),
      600_000,
    );
    const on = (d: Buffer) => {
      log += d.toString();
      if (/status\s+http:\/\/\S+\/api\/v1\/status/.test(log)) {
        clearTimeout(timer);
        resolve({ proc, log: () => log });
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.on('exit', (c) => reject(new Error(`serve exited ${c}:\n${log.slice(-2000)}`)));
  });
}

/** Waits until `pid` used < 5% of a core over 2 s (its first reconcile pass is over). */
async function settle(pid: number, maxS = 900): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c0 = cpuMs(pid);
    await sleep(2000);
    if (cpuMs(pid) - c0 < 100 || Date.now() - t0 > maxS * 1000) return Date.now() - t0;
  }
}

async function timedGet(url: string, token: string): Promise<{ ms: number; kb: number; status: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await r.arrayBuffer();
  return { ms: performance.now() - t0, kb: body.byteLength / 1024, status: r.status };
}

/** Installed in every document before its scripts: when the overview's tables are rendered. */
const RENDER_PROBE = `(() => {
  const want = ['Devices by state', 'Deployments', 'Problems'];
  const check = () => {
    if (window.__domAt) return;
    const tables = Array.from(document.querySelectorAll('table'));
    const caps = tables.map((t) => (t.caption ? t.caption.textContent.trim() : ''));
    if (!want.every((w) => caps.includes(w))) return;
    const dep = tables[caps.indexOf('Deployments')];
    if (!dep.querySelector('tr a')) return; // a deployment row (its name is a link)
    window.__domAt = performance.now();
    obs.disconnect();
    requestAnimationFrame(() => { window.__renderedAt = performance.now(); });
  };
  const obs = new MutationObserver(check);
  obs.observe(document, { childList: true, subtree: true, characterData: true });
})();`;

interface SizeResult {
  devices: number;
  setupS: number;
  readyS: number;
  settleS: number;
  api: { overviewCold: number; overviewWarm: number; overviewKb: number; devicesPage: number };
  loads: {
    rendered: number;
    dom: number;
    overviewFetch: number;
    docResponse: number;
    /** The renderer's CPU during the load (ms): JavaScript, layout + style, all tasks. */
    cpu: { script: number; layoutStyle: number; tasks: number };
    /** Each request of the load: path, start and end (ms from navigation start). */
    timeline: [string, number, number][];
  }[];
  rss: { settled: number; afterApi: number; afterLoads: number; sseOpen: number; peak: number };
}

async function measure(browser: Browser, n: number): Promise<SizeResult> {
  const root = mkdtempSync(join(tmpdir(), `margo-bench-console-${n}-`));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, MARGO_CONFIG: join(root, 'config.json'), NO_COLOR: '1' };
  for (const k of ['MARGO_SERVER', 'MARGO_TOKEN', 'MARGO_TOKEN_FILE', 'MARGO_CONTEXT', 'MARGO_DATA'])
    delete env[k];
  console.log(`\n${n} devices (${root})`);
  let t = performance.now();
  const fleet = await makeFleet(root, n, port, env);
  const setupS = (performance.now() - t) / 1000;
  console.log(`  fleet written in ${setupS.toFixed(1)} s (not measured): ${JSON.stringify(fleet.counts)}`);
  console.log(
    `    ${Object.entries(fleet.steps)
      .map(([k, v]) => `${k} ${v} s`)
      .join(', ')}`,
  );
  t = performance.now();
  const serve = await startServe(fleet.dataDir, env);
  const pid = serve.proc.pid!;
  const readyS = (performance.now() - t) / 1000;
  try {
    const settleS = (await settle(pid)) / 1000;
    console.log(`  serve ready in ${readyS.toFixed(1)} s, settled (CPU idle) ${settleS.toFixed(1)} s later`);
    const base = fleet.url;
    const settled = rssMb(pid);
    const cold = await timedGet(`${base}/ui/api/overview`, fleet.adminToken);
    if (cold.status !== 200) throw new Error(`GET /ui/api/overview: ${cold.status}`);
    const warm = await timedGet(`${base}/ui/api/overview`, fleet.adminToken);
    const page1 = await timedGet(`${base}/ui/api/devices?filter=all&offset=0&limit=100`, fleet.adminToken);
    const afterApi = rssMb(pid);
    console.log(
      `  API: overview ${ms(cold.ms)} cold, ${ms(warm.ms)} warm (${cold.kb.toFixed(1)} KB); devices page 1 ${ms(page1.ms)} (${page1.kb.toFixed(1)} KB)`,
    );

    const signed = await browser.newContext();
    const s = await signed.request.post(`${base}/ui/api/session`, {
      headers: { 'x-margo-console': '1', origin: base },
      data: { token: fleet.adminToken },
    });
    if (s.status() !== 200) throw new Error(`sign-in: ${s.status()} ${await s.text()}`);
    const storageState = await signed.storageState();
    await signed.close();

    const loads: SizeResult['loads'] = [];
    let open: Awaited<ReturnType<Browser['newContext']>> | undefined;
    for (let r = 0; r < RUNS; r++) {
      await open?.close();
      const ctx = await browser.newContext({ storageState });
      await ctx.addInitScript(RENDER_PROBE);
      const page = await ctx.newPage();
      // The renderer's own CPU time for the load (Chromium's Performance domain), to tell time the
      // page spent computing from time it waited (for the server, or for a CPU on a loaded machine).
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Performance.enable');
      await page.goto(`${base}/ui/`, { waitUntil: 'commit' });
      await page
        .waitForFunction(() => (globalThis as { __renderedAt?: number }).__renderedAt, null, {
          timeout: Number(process.env.BENCH_CONSOLE_TIMEOUT_MS ?? 120_000),
          polling: 50,
        })
        .catch(async (e: Error) => {
          const text =
            (await page
              .evaluate(
                `JSON.stringify({ domAt: window.__domAt, renderedAt: window.__renderedAt, captions: Array.from(document.querySelectorAll('caption')).map((c) => c.textContent) })`,
              )
              .catch(() => '')) +
            '\n' +
            (await page
              .locator('body')
              .innerText()
              .catch(() => ''));
          throw new Error(`${e.message}\nat ${page.url()}, the page shows:\n${text.slice(0, 1500)}`);
        });
      const metrics = Object.fromEntries(
        (await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]),
      );
      loads.push({
        cpu: {
          script: (metrics.ScriptDuration ?? NaN) * 1000,
          layoutStyle: ((metrics.LayoutDuration ?? NaN) + (metrics.RecalcStyleDuration ?? NaN)) * 1000,
          tasks: (metrics.TaskDuration ?? NaN) * 1000,
        },
        ...(await page.evaluate(() => {
          const g = globalThis as unknown as { __renderedAt: number; __domAt: number };
          const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
          const ov = res.find((e) => e.name.includes('/ui/api/overview'));
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
          return {
            rendered: g.__renderedAt,
            dom: g.__domAt,
            overviewFetch: ov ? ov.responseEnd - ov.startTime : NaN,
            docResponse: nav ? nav.responseEnd : NaN,
            timeline: res.map(
              (e) =>
                [
                  new URL(e.name).pathname.replace(/^\/ui\//, ''),
                  Math.round(e.startTime),
                  Math.round(e.responseEnd),
                ] as [string, number, number],
            ),
          };
        })),
      });
      console.log(
        `  load ${r + 1}: rendered ${ms(loads[r]!.rendered)} (in the DOM ${ms(loads[r]!.dom)}; renderer CPU ${ms(loads[r]!.cpu.tasks)}: ` +
          `script ${ms(loads[r]!.cpu.script)}, layout+style ${ms(loads[r]!.cpu.layoutStyle)}; document ${ms(loads[r]!.docResponse)}; ` +
          loads[r]!.timeline.map(([p, a, b]) => `${p} ${a}-${b}`).join(', ') +
          ')',
      );
      open = ctx;
    }
    const afterLoads = rssMb(pid);
    console.log(
      `  server RSS: settled ${mb(settled)}, after the API reads ${mb(afterApi)}, after ${RUNS} loads ${mb(afterLoads)}`,
    );
    // The last page stays open on the live event stream.
    const last = open!.pages()[0]!;
    const live = await last
      .getByRole('status')
      .filter({ hasText: /^Live$/ })
      .waitFor({ timeout: 30_000 })
      .then(
        () => true,
        () => false,
      );
    await sleep(3000);
    const sseOpen = rssMb(pid);
    console.log(
      `  server RSS with a page on the event stream (${live ? 'Live' : 'NOT Live after 30 s'}): ${mb(sseOpen)}`,
    );
    await open!.close();
    return {
      devices: n,
      setupS,
      readyS,
      settleS,
      api: { overviewCold: cold.ms, overviewWarm: warm.ms, overviewKb: cold.kb, devicesPage: page1.ms },
      loads,
      rss: { settled, afterApi, afterLoads, sseOpen, peak: procStatus(pid, 'VmHWM') },
    };
  } finally {
    serve.proc.kill('SIGTERM');
    await new Promise((r) => serve.proc.once('exit', r));
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const exe = chromiumPath();
  if (!exe)
    throw new Error('no Chromium: set MARGO_CHROMIUM or run test/testbed/up (it installs Debian chromium)');
  console.log(
    `bench/console: ${FLOOR} (floor) and ${N} devices, ${RUNS} loads each, ${cpus().length} cores, ` +
      `load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, node ${process.version}`,
  );
  const browser = await launchChromium(exe);
  console.log(`  Chromium ${browser.version()} (${exe}), headless`);
  const results: SizeResult[] = [];
  try {
    for (const n of [FLOOR, N]) results.push(await measure(browser, n));
  } finally {
    await browser.close();
  }
  console.log('\nfigures');
  const row = (label: string, f: (r: SizeResult) => string) =>
    console.log(`  ${label.padEnd(44)}${results.map((r) => f(r).padStart(20)).join('')}`);
  row('devices', (r) => String(r.devices));
  row('GET /ui/api/overview cold / warm', (r) => `${ms(r.api.overviewCold)} / ${ms(r.api.overviewWarm)}`);
  row('GET /ui/api/overview size', (r) => `${r.api.overviewKb.toFixed(1)} KB`);
  row('first page load, first run', (r) => ms(r.loads[0]!.rendered));
  row(`first page load, median of ${RUNS}`, (r) => ms(median(r.loads.map((l) => l.rendered))));
  row('  of which the overview fetch (median)', (r) => ms(median(r.loads.map((l) => l.overviewFetch))));
  row('  renderer CPU in the load (median)', (r) => ms(median(r.loads.map((l) => l.cpu.tasks))));
  row('server RSS settled', (r) => mb(r.rss.settled));
  row(`server RSS after ${RUNS} loads`, (r) => mb(r.rss.afterLoads));
  row('server RSS with the event stream open', (r) => mb(r.rss.sseOpen));
  row('server RSS growth (stream open - settled)', (r) => mb(r.rss.sseOpen - r.rss.settled));
  row('server peak RSS (VmHWM)', (r) => mb(r.rss.peak));
  const big = results[results.length - 1]!;
  const floor = results[0]!;
  const loadMs = median(big.loads.map((l) => l.rendered));
  const growth = Math.max(big.rss.afterLoads, big.rss.sseOpen) - big.rss.settled;
  const floorMs = median(floor.loads.map((l) => l.rendered));
  console.log(
    `\n  ${N} devices: first page ${ms(loadMs)} (floor ${ms(floorMs)}, +${ms(loadMs - floorMs)}): ` +
      `goal < ${GOAL_MS} ms ${loadMs < GOAL_MS ? 'met' : 'MISSED'}; RSS growth ${mb(growth)}: ` +
      `goal < ${GOAL_RSS_MB} MB ${growth < GOAL_RSS_MB ? 'met' : 'MISSED'}`,
  );
  if (loadMs >= GOAL_MS || growth >= GOAL_RSS_MB) process.exitCode = 1;
}

await main();
