/**
 * The common start of an end-to-end attack run against the real processes: a data folder, `margo
 * serve`, device dev1 added and its `margo agent` enrolled from a token file, hello-world published
 * and deployed, and a watcher of every GREETING the workload serves.
 */
import type { ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  deployHelloArgs,
  json,
  removeWorkloadOnPort,
  repoRoot,
  stop,
  type MargoCli,
} from '../e2e/cli/harness.js';
import { gitAgentArgs, helloGreeting } from './helpers.js';

/** What the run started; filled as it goes, so `after` can stop whatever did start. */
export interface E2eProcesses {
  server?: ChildProcess;
  agent?: ChildProcess;
  /** Every GREETING seen by the watcher (every 250 ms from the first install on). */
  seen: Set<string>;
  watching?: NodeJS.Timeout;
}

/**
 * init + serve + `device add dev1` + agent + publish + deploy hello-world with `greeting` on
 * `hostPort`; resolves once the workload serves it.
 *
 * @example
 * const procs: E2eProcesses = { seen: new Set() };
 * await serveEnrolDeployHello(cli, procs, { dir, port, hostPort, greeting: 'good' });
 */
export async function serveEnrolDeployHello(
  cli: MargoCli,
  procs: E2eProcesses,
  o: { dir: string; port: number; hostPort: number; greeting: string },
): Promise<void> {
  const margo = (...args: string[]) => cli.run(...args);
  json(await margo('init', '--data', 'margo-data', '--listen', `127.0.0.1:${o.port}`, '-o', 'json'));
  procs.server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  const token = json<{ enrolmentToken: string }>(
    await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
  ).enrolmentToken;
  const tokenFile = join(o.dir, 'enrolment-token');
  await writeFile(tokenFile, token, { mode: 0o600 });
  procs.agent = await cli.start(
    'agent',
    // The suites on this setup attack the Git host (commits, pushes, leaked keys there), so the
    // agent runs over Git; test/integration/agent/rest-source.test.ts covers the API side.
    gitAgentArgs(o.port, tokenFile),
    /agent for device dev1 running/,
  );
  json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
  json(await margo(...deployHelloArgs({ device: 'dev1', greeting: o.greeting, hostPort: o.hostPort })));
  await cli.until(
    180,
    `GREETING=${o.greeting}`,
    async () => (await helloGreeting(o.hostPort)) === o.greeting,
  );
  // A slow answer is not a failure: only a value actually served counts.
  const watch = () =>
    helloGreeting(o.hostPort).then(
      (g) => g && procs.seen.add(g),
      () => undefined,
    );
  procs.watching = setInterval(() => void watch(), 250);
}

/** The matching `after`: undeploy hello while the server runs, stop both, remove workload and folder. */
export async function stopE2e(
  cli: MargoCli,
  procs: E2eProcesses,
  o: { dir: string; hostPort: number },
): Promise<void> {
  if (procs.watching) clearInterval(procs.watching);
  if (procs.server && procs.server.exitCode === null) await cli.run('undeploy', 'hello');
  await stop(procs.agent);
  await stop(procs.server);
  removeWorkloadOnPort(o.hostPort);
  await rm(o.dir, { recursive: true, force: true });
}
