// `margo quickstart --once` (what `npm start` runs, bounded for CI) in a temporary folder, with the
// built CLI and the testbed's Docker engine: it must get examples/hello-world to `installed`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.js';
import { freePort, margoBin as bin, removeWorkloadOnPort, repoRoot as repo } from './harness.js';

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
      assert.match(
        r.out,
        new RegExp(
          `packageLocation: http://127\\.0\\.0\\.1:${port}/catalog/hello-world/1\\.0\\.0/resources/compose\\.tar\\.gz`,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('initialises ./margo-data, serves, enrols a local agent, publishes and deploys hello-world until installed', async (t) => {
    const tb = requireComponent(t, ['docker', 'image']);
    if (!tb) return;
    assert.ok(existsSync(join(repo, 'packages/cli/dist/main.js')), 'build first: npm run build');
    const dir = await mkdtemp(join(tmpdir(), 'margo-e2e-quickstart-'));
    const appPort = await freePort();
    const env = {
      ...testbedProcessEnv(tb),
      MARGO_CONFIG: join(dir, 'config.json'),
      NO_COLOR: '1',
      MARGO_AGENT_POLL_INTERVAL_SECONDS: '1',
    };
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
      // A second run reuses the data folder and the enrolled agent.
      const again = await once();
      assert.equal(again.code, 0, `${again.out}\n${again.err}`);
      assert.match(again.err, /reusing the existing one/);
      assert.match(again.err, /already enrolled/);
    } finally {
      removeWorkloadOnPort(appPort, env);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
