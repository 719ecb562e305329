/**
 * Real processes for the Workload Management API tests: `margo init` + `margo serve` (Git port and
 * mTLS API port), device dev1 enrolled by a real `margo agent` over Git (its certificate is its
 * X.509-SVID; the agent reports the capabilities the orchestrator needs before it writes desired
 * state), dev2 added with --svid-out (a third-party client), hello-world published and deployed to
 * dev1. Plus `httpsGet`, a client on node:https alone (no project code), as a spec client would be.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import {
  deployHelloArgs,
  freePort,
  json,
  removeWorkloadOnPort,
  repoRoot,
  stop,
  type MargoCli,
} from '../../e2e/cli/harness.js';
import { e2eRun } from '../../security/helpers.js';

export interface Identity {
  cert: Buffer;
  key: Buffer;
}

export interface ApiFleet {
  dir: string;
  cli: MargoCli;
  /** https://127.0.0.1:<port> */
  api: string;
  hostPort: number;
  ca: Buffer;
  dev1: Identity;
  dev2: Identity;
  server?: ChildProcess;
  agent?: ChildProcess;
}

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One request with node:https only (any method; `body` for POST/PUT). `agent` keeps the
 * connection (and so the TLS session) open across calls, as a polling client would.
 */
export function httpsGet(
  url: string,
  o: {
    ca: Buffer;
    id?: Identity;
    headers?: Record<string, string>;
    agent?: Agent;
    method?: string;
    /** Request body (POST/PUT), sent as is. */
    body?: Buffer | string;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'GET',
        ca: o.ca,
        ...(o.id ? { cert: o.id.cert, key: o.id.key } : {}),
        headers: o.headers ?? {},
        ...(o.agent ? { agent: o.agent } : {}),
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * `margo init` (Git on 127.0.0.1:`port`, the mTLS API on a free port) and `margo serve` in the
 * CLI's folder; resolves once serve prints the API URL.
 */
export async function startApiServe(
  cli: MargoCli,
  port: number,
): Promise<{ server: ChildProcess; api: string }> {
  json(
    await cli.run(
      'init',
      '--data',
      'margo-data',
      '--listen',
      `127.0.0.1:${port}`,
      '--api-listen',
      `127.0.0.1:${await freePort()}`,
      '-o',
      'json',
    ),
  );
  const server = await cli.start('serve', ['serve', '--data', 'margo-data'], /api \(mTLS\)\s+https:\/\/\S+/);
  return { server, api: /api \(mTLS\)\s+(https:\/\/\S+)/.exec(cli.logs.serve!)![1]! };
}

/** Starts everything; `fleet` is filled as it goes so `stopApiFleet` stops whatever did start. */
export async function startApiFleet(prefix: string, fleet: Partial<ApiFleet>): Promise<ApiFleet> {
  const { dir, port, hostPort, cli } = await e2eRun(prefix);
  Object.assign(fleet, { dir, cli, hostPort });
  const margo = (...args: string[]) => cli.run(...args);
  Object.assign(fleet, await startApiServe(cli, port));
  const token = json<{ enrolmentToken: string }>(
    await margo('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
  ).enrolmentToken;
  const tokenFile = join(dir, 'enrolment-token');
  await writeFile(tokenFile, token, { mode: 0o600 });
  fleet.agent = await cli.start(
    'agent',
    ['agent', '--server', `http://127.0.0.1:${port}`, '--token-file', tokenFile, '--state', 'agent-state'],
    /agent for device dev1 running/,
  );
  json(
    await margo(
      'device',
      'add',
      'dev2',
      '--role',
      'standalone-device',
      '--svid-out',
      'dev2-svid',
      '-o',
      'json',
    ),
  );
  json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
  json(await margo(...deployHelloArgs({ device: 'dev1', greeting: 'one', hostPort })));
  const idDir = join(dir, 'agent-state', 'identity');
  fleet.ca = await readFile(join(dir, 'dev2-svid', 'bundle.pem'));
  fleet.dev1 = {
    cert: await readFile(join(idDir, 'device.crt')),
    key: await readFile(join(idDir, 'device.key')),
  };
  fleet.dev2 = {
    cert: await readFile(join(dir, 'dev2-svid', 'svid.pem')),
    key: await readFile(join(dir, 'dev2-svid', 'svid.key')),
  };
  return fleet as ApiFleet;
}

/** Polls dev1's manifest until `ok` accepts it (the orchestrator writes on its own schedule). */
export async function waitForManifest(
  f: ApiFleet,
  ok: (m: { manifestVersion: number; deployments: unknown[] }, raw: Reply) => boolean,
): Promise<Reply> {
  return f.cli.until(120, 'the API manifest of dev1', async () => {
    const r = await httpsGet(`${f.api}/api/v1/deployments`, { ca: f.ca, id: f.dev1 });
    if (r.status !== 200) return undefined;
    return ok(JSON.parse(r.body.toString('utf8')), r) ? r : undefined;
  });
}

export async function stopApiFleet(f: Partial<ApiFleet>): Promise<void> {
  if (f.server && f.server.exitCode === null && f.cli) await f.cli.run('undeploy', 'hello');
  await stop(f.agent);
  await stop(f.server);
  if (f.hostPort) removeWorkloadOnPort(f.hostPort);
  if (f.dir) await rm(f.dir, { recursive: true, force: true });
}
