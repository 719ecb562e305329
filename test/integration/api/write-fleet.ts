/**
 * Real processes for the API write tests: `margo init` + `margo serve` (Git port and mTLS API
 * port), devices dev2 and dev3 added with --svid-out (third-party clients: no agent runs, so
 * nothing but the API writes their status branches), hello-world published. The status branch is
 * inspected with stock `git` on the bare repositories, as an operator would.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, json, repoRoot, stop, type MargoCli } from '../../e2e/cli/harness.js';
import { e2eRun } from '../../security/helpers.js';
import { httpsGet, type Identity, type Reply } from './fleet.js';

export interface WriteFleet {
  dir: string;
  cli: MargoCli;
  port: number;
  hostPort: number;
  api: string;
  ca: Buffer;
  ids: Record<'dev2' | 'dev3', Identity>;
  server?: ChildProcess;
}

/** A capabilities document in the rc.2 shape that hello-world (compose) matches. */
export function capabilities(deviceId: string, serial = 's-1'): Record<string, unknown> {
  return {
    properties: {
      id: deviceId,
      vendor: 'Acme',
      modelNumber: 'edge-1',
      serialNumber: serial,
      cpus: [{ cores: 2, architecture: 'amd64' }],
      memory: '4Gi',
      storage: '20Gi',
      otelCollector: false,
      supportedRuntimes: ['oci'],
      supportedDeploymentTypes: ['compose'],
    },
  };
}

export async function startWriteFleet(prefix: string, f: Partial<WriteFleet>): Promise<WriteFleet> {
  const { dir, port, hostPort, cli } = await e2eRun(prefix);
  Object.assign(f, { dir, cli, port, hostPort });
  const margo = (...args: string[]) => cli.run(...args);
  json(
    await margo(
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
  f.server = await cli.start('serve', ['serve', '--data', 'margo-data'], /api \(mTLS\)\s+https:\/\/\S+/);
  f.api = /api \(mTLS\)\s+(https:\/\/\S+)/.exec(cli.logs.serve!)![1]!;
  f.ids = {} as WriteFleet['ids'];
  for (const id of ['dev2', 'dev3'] as const) {
    json(
      await margo(
        'device',
        'add',
        id,
        '--role',
        'standalone-device',
        '--svid-out',
        `${id}-svid`,
        '-o',
        'json',
      ),
    );
    f.ids[id] = {
      cert: await readFile(join(dir, `${id}-svid`, 'svid.pem')),
      key: await readFile(join(dir, `${id}-svid`, 'svid.key')),
    };
  }
  f.ca = await readFile(join(dir, 'dev2-svid', 'bundle.pem'));
  json(await margo('app', 'publish', join(repoRoot, 'examples/hello-world'), '-o', 'json'));
  return f as WriteFleet;
}

export async function stopWriteFleet(f: Partial<WriteFleet>): Promise<void> {
  await stop(f.server);
  if (f.dir) await rm(f.dir, { recursive: true, force: true });
}

/** The bare repository of a device. */
export const gitdir = (f: WriteFleet, id: string) =>
  join(f.dir, 'margo-data', 'repos', 'devices', `${id}.git`);

/** Stock git on a device's bare repository. */
export function git(f: WriteFleet, id: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', gitdir(f, id), ...args], { encoding: 'utf8' });
}

/** The commit a branch of a device's repository points at, '' when it has none (stock git). */
export function ref(f: WriteFleet, id: string, branch = 'status'): string {
  try {
    return git(f, id, 'rev-parse', '--verify', '-q', `refs/heads/${branch}`).trim();
  } catch {
    return '';
  }
}

/** One API call as device `as` (JSON body by default). */
export function call(
  f: WriteFleet,
  as: 'dev2' | 'dev3',
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Reply> {
  return httpsGet(`${f.api}${path}`, {
    ca: f.ca,
    id: f.ids[as],
    method,
    headers,
    ...(body === undefined
      ? {}
      : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
  });
}

/** The manifest of a device once `ok` accepts it (the orchestrator writes on its own schedule). */
export async function manifestOf(
  f: WriteFleet,
  as: 'dev2' | 'dev3',
  ok: (m: { manifestVersion: number; deployments: { deploymentId: string }[] }) => boolean,
): Promise<{ manifestVersion: number; deployments: { deploymentId: string }[] }> {
  return f.cli.until(120, `the API manifest of ${as}`, async () => {
    const r = await httpsGet(`${f.api}/api/v1/deployments`, { ca: f.ca, id: f.ids[as] });
    if (r.status !== 200) return undefined;
    const m = JSON.parse(r.body.toString('utf8')) as {
      manifestVersion: number;
      deployments: { deploymentId: string }[];
    };
    return ok(m) ? m : undefined;
  });
}
