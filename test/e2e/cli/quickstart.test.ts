// `margo quickstart --once` (what `npm start` runs: `node packages/cli/bin/margo.js quickstart`,
// bounded for CI) in a temporary folder, with the built CLI. With a Docker engine it must get
// examples/hello-world to `installed` and answering with its greeting WITHOUT the testbed: no
// testbed variables in the environment, the engine reached through a proxy that notes every API
// request (no image pull, no reference to the testbed's registries or its margo/echo image). The
// engine holds busybox:1.36.1 (the testbed's stand-in for the public image) as a user's engine
// would after its first pull.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HELLO_IMAGE } from '../../../packages/cli/src/commands/quickstart.ts';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.js';
import { freePort, margoBin as bin, removeWorkloadOnPort, repoRoot as repo } from './harness.js';
import { dockerApiProxy } from './quickstart-docker-proxy.js';

/** What only the testbed has: its registries and its own image. */
const TESTBED_ONLY = /127\.0\.0\.1:500[01]|localhost:500[01]|margo\/echo/;

/** The environment of a user's shell: no testbed variables (MARGO_TB_*, DOCKER_HOST, KUBECONFIG). */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(MARGO_|DOCKER_|KUBECONFIG$|HELM_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

async function get(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  return res?.ok ? await res.text() : undefined;
}

function run(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  seconds: number,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, out, err });
    });
  });
}

describe('margo quickstart', { timeout: 420_000 }, () => {
  it('without a Docker engine says so plainly and still shows the rendered desired state', async () => {
    assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
    const dir = await mkdtemp(join(tmpdir(), 'margo-e2e-quickstart-nodocker-'));
    const env = {
      ...process.env,
      MARGO_CONFIG: join(dir, 'config.json'),
      NO_COLOR: '1',
      MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
      // No Docker engine for quickstart's check nor for the agent.
      MARGO_AGENT_DOCKER_PATH: join(dir, 'no-docker'),
      MARGO_AGENT_COMPOSE_COMMAND: join(dir, 'no-compose'),
    };
    try {
      const port = await freePort();
      const r = await run(
        ['quickstart', '--once', '--listen', `127.0.0.1:${port}`, '--timeout', '120'],
        dir,
        env,
        180,
      );
      assert.equal(r.code, 0, `${r.out}\n${r.err}`);
      assert.match(r.err, /No Docker engine answers here/);
      assert.match(r.out, /kind: ApplicationDeployment/);
      // The Compose package comes from this server (its embedded registry, or the catalog URL of
      // older renders), never from the testbed's registry.
      assert.match(
        r.out,
        new RegExp(
          `repository: oci://127\\.0\\.0\\.1:${port}/hello-world/hello|packageLocation: http://127\\.0\\.0\\.1:${port}/catalog/hello-world/1\\.0\\.0/resources/compose\\.tar\\.gz`,
        ),
      );
      assert.doesNotMatch(r.out, TESTBED_ONLY);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without the testbed: initialises ./margo-data, serves, enrols a local agent, installs hello-world and it answers with the greeting', async (t) => {
    const tb = requireComponent(t, ['docker', 'image']);
    if (!tb) return;
    assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
    assert.ok(tb.dockerHost?.startsWith('unix://'), `a unix socket engine: ${tb.dockerHost}`);
    const dir = await mkdtemp(join(tmpdir(), 'margo-e2e-quickstart-'));
    const proxy = await dockerApiProxy(
      tb.dockerHost!.slice('unix://'.length),
      join(dir, 'docker.sock'),
      TESTBED_ONLY,
    );
    const appPort = await freePort();
    const env = userEnv({
      DOCKER_HOST: proxy.dockerHost,
      MARGO_CONFIG: join(dir, 'config.json'),
      NO_COLOR: '1',
      MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
    });
    try {
      const port = await freePort();
      const once = () =>
        run(
          [
            'quickstart',
            '--once',
            '--listen',
            `127.0.0.1:${port}`,
            '--app-port',
            String(appPort),
            '--timeout',
            '240',
          ],
          dir,
          env,
          300,
        );
      const r = await once();
      assert.equal(r.code, 0, `${r.out}\n${r.err}`);
      assert.match(r.err, /ok hello-world on local-device: installed/);
      assert.match(r.err, new RegExp(`ok start server: http://127\\.0\\.0\\.1:${port}`));
      assert.match(r.out, /hello-world is installed; the server is stopping \(--once\)/);
      assert.match(r.out, new RegExp(`curl -s http://127\\.0\\.0\\.1:${appPort}/cgi-bin/env`));
      assert.ok(existsSync(join(dir, 'margo-data', 'config.json')));

      // It answers with the greeting the quickstart deployed (the workload outlives --once).
      const page = await waitForText(`http://127.0.0.1:${appPort}/cgi-bin/env`, /GREETING=/);
      assert.match(page, /^GREETING=Hello from margo$/m);
      assert.equal((await get(`http://127.0.0.1:${appPort}/message`))?.trim(), 'Hello from margo');

      // Through the proxy (so it can see): a container was created from the public reference, no
      // image was pulled, nothing named the testbed's registries or image.
      assert.ok(
        [...proxy.requests].some((q) => /^POST \/v[\d.]+\/containers\/create/.test(q)),
        [...proxy.requests].join('\n'),
      );
      assert.deepEqual([...proxy.images], [HELLO_IMAGE]);
      assert.deepEqual(
        [...proxy.requests].filter((q) => /\/images\/create|\/auth\b/.test(q)),
        [],
      );
      assert.deepEqual([...proxy.watched], []);
      // Nor does the desired state the orchestrator committed for the device.
      const rendered = execFileSync(
        'git',
        [
          '--git-dir',
          join(dir, 'margo-data/repos/devices/local-device.git'),
          'grep',
          '-h',
          '-e',
          'hello-world',
          'main',
          '--',
          'deployments',
        ],
        { encoding: 'utf8' },
      );
      assert.ok(rendered.length > 0);
      const all = execFileSync(
        'sh',
        [
          '-c',
          `git --git-dir "$1" archive main | tar -xOf -`,
          'sh',
          join(dir, 'margo-data/repos/devices/local-device.git'),
        ],
        { encoding: 'utf8' },
      );
      assert.doesNotMatch(all, TESTBED_ONLY);

      // A second run reuses the data folder and the enrolled agent.
      const again = await once();
      assert.equal(again.code, 0, `${again.out}\n${again.err}`);
      assert.match(again.err, /reusing the existing one/);
      assert.match(again.err, /already enrolled/);
    } finally {
      await proxy.close();
      removeWorkloadOnPort(appPort, testbedProcessEnv(tb));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Polls `url` every 500 ms (at most 60 times) until its body matches. */
async function waitForText(url: string, re: RegExp): Promise<string> {
  let last: string | undefined;
  for (let i = 0; i < 60; i++) {
    last = await get(url);
    if (last !== undefined && re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`${url} did not answer with ${re}: ${last}`);
}
