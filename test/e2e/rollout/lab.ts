/**
 * A small fleet on real components for the rollout end-to-end suites: one `margo serve` (Git + the
 * mTLS API), N devices enrolled as users enrol them, each running the built agent bundle
 * (`margo-agent`) against the one Docker engine, and helpers that look where the truth is:
 * - the fleet repository (`rollouts/<name>.json`, the intent, the commit log) and each device's
 *   repository (what the device was told), read straight from the server's bare repositories;
 * - Docker: the containers of each device's Compose project and a `docker events` recording
 *   (every container created/started/stopped since the lab started, with its labels).
 *
 * Device ids carry a per-run tag: the agent names a Compose project after the deployment name and
 * an id derived from device id + deployment, so two runs (or a CI run) on one Docker engine never
 * share a project.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { composeProjectName } from '../../../packages/agent/src/drivers/compose-env.js';
import { requireConnection } from '../../../packages/cli/src/client-config.js';
import { commitChange } from '../../../packages/cli/src/git-remote.js';
import { deploymentIdFor } from '../../../packages/orchestrator/src/core/deployment-id.js';
import type { RolloutState } from '../../../packages/orchestrator/src/rollout/state.js';
import { startApiServe } from '../../integration/api/fleet.js';
import { e2eRun } from '../../security/helpers.js';
import { json, margoAgentBin, repoRoot, stop, type MargoCli } from '../cli/harness.js';

/** Container label naming the hello-world version a container was created from (our packages set it). */
export const VERSION_LABEL = 'org.margo-gitops.test.version';
/** Folder (under the agent's HOME) that hello-world 1.1.0 needs; see helloPackages. */
export const PRESS_LINE_DIR = 'press-line';

export interface LabDevice {
  id: string;
  labels: Record<string, string>;
  /** The device has what hello-world 1.1.0 needs (`$HOME/press-line`). */
  good: boolean;
}

export interface Container {
  id: string;
  name: string;
  state: string;
  version: string;
}

export interface DockerEvent {
  /** Milliseconds since the epoch. */
  at: number;
  action: string;
  container: string;
  project: string;
  version: string;
}

/**
 * hello-world packages at several versions, made from examples/hello-world:
 * - every version publishes its port on an ephemeral host port (`127.0.0.1::8080`): twelve devices
 *   share one Docker engine here, and one HOST_PORT for all would collide (real devices do not
 *   share a host); each container carries VERSION_LABEL and APP_VERSION;
 * - 1.1.0 fails on the devices labelled bad=true, honestly: it reads the press line's
 *   configuration from the device, a read-only bind mount of `$HOME/press-line` (long syntax, so
 *   Docker does not create a missing source). The agent passes its own HOME to Compose; the good
 *   devices' agents run with a HOME that has the folder, the bad ones' (labelled bad=true, the
 *   label records what the device lacks) without. On those Docker refuses to create the container
 *   ("bind source path does not exist"), `compose up` exits non-zero and the agent reports the
 *   deployment failed (AGENT_COMPOSE_FAILED); Compose has already stopped the 1.0.0 container it
 *   was replacing, as it would on a real press. 1.0.0 and 1.2.0 need nothing from the device.
 */
export async function helloPackages(dir: string, versions: string[]): Promise<Map<string, string>> {
  const src = join(repoRoot, 'examples/hello-world');
  const margoYaml = await readFile(join(src, 'margo.yaml'), 'utf8');
  const compose = await readFile(join(src, 'resources/compose/compose.yaml'), 'utf8');
  const out = new Map<string, string>();
  for (const v of versions) {
    const to = join(dir, `hello-world-${v}`);
    await cp(src, to, { recursive: true });
    const m = margoYaml.replace(/^(\s+version:) 1\.0\.0$/m, `$1 ${v}`);
    assert.match(
      m,
      new RegExp(`^\\s+version: ${v.replace(/\./g, '\\.')}$`, 'm'),
      'the example names its version',
    );
    let c = compose.replace("      - '127.0.0.1:${HOST_PORT:-18080}:8080'", "      - '127.0.0.1::8080'");
    assert.notEqual(c, compose, 'the example publishes 127.0.0.1:${HOST_PORT:-18080}:8080');
    const env = '    environment:\n';
    assert.ok(c.includes(env), 'the example has an environment block');
    c = c.replace(env, `    labels:\n      ${VERSION_LABEL}: '${v}'\n${env}      APP_VERSION: '${v}'\n`);
    if (v === '1.1.0') {
      c = c.replace(
        '    command:\n',
        `    volumes:\n      - type: bind\n        source: \${HOME}/${PRESS_LINE_DIR}\n        target: /press-line\n        read_only: true\n    command:\n`,
      );
      assert.match(c, /type: bind/);
    }
    await writeFile(join(to, 'margo.yaml'), m);
    await writeFile(join(to, 'resources/compose/compose.yaml'), c);
    out.set(v, to);
  }
  return out;
}

export class Lab {
  readonly agents = new Map<string, ChildProcess>();
  readonly events: DockerEvent[] = [];
  private serve?: ChildProcess;
  private eventsProc?: ChildProcess;
  private projects = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly cli: MargoCli,
    readonly server: string,
    readonly devices: LabDevice[],
  ) {}

  /** Starts `margo serve` in a new temp folder (agents poll every `pollSeconds`). */
  static async start(prefix: string, devices: LabDevice[], pollSeconds = 2): Promise<Lab> {
    const { dir, port, cli } = await e2eRun(prefix);
    cli.env.MARGO_AGENT_POLL_INTERVAL_SECONDS = String(pollSeconds);
    cli.runTimeoutSeconds = 240;
    const lab = new Lab(dir, cli, `http://127.0.0.1:${port}`, devices);
    lab.serve = (await startApiServe(cli, port)).server;
    return lab;
  }

  /**
   * A lab whose devices run hello-world 1.0.0 as deployment `name` (targets: label `selector`),
   * with `versions` published; installed on every device (Docker and status) when it resolves.
   */
  static async withHello(
    prefix: string,
    devices: LabDevice[],
    o: { versions: string[]; name: string; selector: string },
  ): Promise<Lab> {
    const lab = await Lab.start(prefix, devices);
    try {
      await lab.publish(o.versions);
      await lab.enrolAll();
      const args = ['deploy', 'hello-world@1.0.0', '--name', o.name, '--selector', o.selector];
      json(await lab.margo(...args, '-o', 'json'));
      await lab.allInstalled(o.name, '1.0.0');
      return lab;
    } catch (e) {
      await lab.cleanup([o.name]);
      throw e;
    }
  }

  margo(...args: string[]) {
    return this.cli.run(...args);
  }

  /** Publishes hello-world at `versions` (see helloPackages). */
  async publish(versions: string[]): Promise<void> {
    const pkgs = await helloPackages(join(this.dir, 'packages'), versions);
    for (const p of pkgs.values()) json(await this.margo('app', 'publish', p, '-o', 'json'));
  }

  /**
   * `margo device add` with labels, one at a time (each is a fleet commit; three at once on a
   * loaded machine lost the push race 12 times in a row, CLI_PUSH_CONFLICT); each device's agent
   * is started with its own HOME as soon as it is added, at most two enrolling at once (twelve enrolments at once on a loaded 2-core machine
   * time out: the agent gives the server 30 s; one that did is started again once).
   */
  async enrolAll(): Promise<void> {
    this.startEvents();
    const adding = pool(1);
    const enrolling = pool(2);
    await Promise.all(
      this.devices.map(async (d) => {
        await adding(async () => {
          const labels = Object.entries(d.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
          const token = json<{ enrolmentToken: string }>(
            await this.margo('device', 'add', d.id, '--role', 'standalone-device', ...labels, '-o', 'json'),
          ).enrolmentToken;
          await writeFile(join(this.dir, `${d.id}.token`), token, { mode: 0o600 });
          const home = join(this.dir, `${d.id}-home`);
          await mkdir(d.good ? join(home, PRESS_LINE_DIR) : home, { recursive: true });
        });
        await enrolling(() =>
          this.startAgent(d).catch((e: Error) => {
            if (!/TRUST_ENROL_SERVER_ERROR/.test(e.message)) throw e;
            return this.startAgent(d);
          }),
        );
      }),
    );
  }

  /** Starts (enrols) one device's agent with its own HOME; resolves once it runs (3 minutes at most). */
  private startAgent(d: LabDevice): Promise<void> {
    const logs = this.cli.logs;
    logs[d.id] = '';
    return new Promise((res, rej) => {
      const child = spawn(
        margoAgentBin,
        ['--state', `${d.id}-state`, '--server', this.server, '--token-file', `${d.id}.token`],
        {
          cwd: this.dir,
          env: { ...this.cli.env, HOME: join(this.dir, `${d.id}-home`) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      this.agents.set(d.id, child);
      const ready = new RegExp(`agent for device ${d.id} running`);
      const timer = setTimeout(
        () => rej(new Error(`${d.id} not running after 180 s:\n${logs[d.id]!.slice(-3000)}`)),
        180_000,
      );
      const on = (b: Buffer) => {
        logs[d.id] += b.toString();
        if (ready.test(logs[d.id]!)) {
          clearTimeout(timer);
          res();
        }
      };
      child.stdout!.on('data', on);
      child.stderr!.on('data', on);
      child.on('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`${d.id} exited ${code}:\n${logs[d.id]!.slice(-3000)}`));
      });
    });
  }

  /** Records container events of Compose projects (ours are picked out by project name). */
  private startEvents(): void {
    const p = spawn(
      'docker',
      [
        'events',
        '--filter',
        'type=container',
        '--filter',
        'label=com.docker.compose.project',
        '--format',
        '{{json .}}',
      ],
      { env: this.cli.env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let buf = '';
    p.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const e = JSON.parse(line) as {
            Action?: string;
            status?: string;
            id?: string;
            timeNano?: number;
            Actor?: { Attributes?: Record<string, string> };
          };
          const a = e.Actor?.Attributes ?? {};
          this.events.push({
            at: Math.floor((e.timeNano ?? 0) / 1e6),
            action: e.Action ?? e.status ?? '',
            container: e.id ?? '',
            project: a['com.docker.compose.project'] ?? '',
            version: a[VERSION_LABEL] ?? '',
          });
        } catch {
          /* not an event line */
        }
      }
    });
    this.eventsProc = p;
  }

  /** The Compose project the agent of `deviceId` runs deployment `name` under. */
  project(deviceId: string, name: string): string {
    const p = composeProjectName(
      name,
      deploymentIdFor(deviceId, name),
      'hello',
      1,
      this.cli.env.MARGO_AGENT_COMPOSE_PROJECT_PREFIX,
    );
    this.projects.add(p);
    return p;
  }

  /** Containers of our projects (one `docker ps -a`), by project. */
  containers(): Map<string, Container[]> {
    const out = execFileSync(
      'docker',
      [
        'ps',
        '-a',
        '--no-trunc',
        '--filter',
        'label=com.docker.compose.project',
        '--format',
        `{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "${VERSION_LABEL}"}}`,
      ],
      { encoding: 'utf8', env: this.cli.env },
    );
    const m = new Map<string, Container[]>();
    for (const line of out.split('\n')) {
      const [id = '', name = '', state = '', project = '', version = ''] = line.split('\t');
      if (!project) continue;
      if (!m.has(project)) m.set(project, []);
      m.get(project)!.push({ id, name, state, version });
    }
    return m;
  }

  /** What deployment `name` runs on each device: the version of its one running container ('' none). */
  running(name: string): Map<string, { version: string; container: string }> {
    const all = this.containers();
    return new Map(
      this.devices.map((d) => {
        const up = (all.get(this.project(d.id, name)) ?? []).filter((c) => c.state === 'running');
        return [
          d.id,
          up.length === 1
            ? { version: up[0]!.version, container: up[0]!.id }
            : { version: '', container: '' },
        ];
      }),
    );
  }

  /** Versions of containers ever created for `deviceId`'s project of `name` since the lab started. */
  createdVersions(deviceId: string, name: string): string[] {
    const p = this.project(deviceId, name);
    return this.events.filter((e) => e.project === p && e.action === 'create').map((e) => e.version);
  }

  private git(repo: string, ...args: string[]): string {
    try {
      return execFileSync('git', ['--git-dir', join(this.dir, 'margo-data', 'repos', repo), ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 64 << 20,
      });
    } catch {
      return '';
    }
  }

  /** A file of fleet `main` ('' when absent). */
  fleetFile(path: string): string {
    return this.git('fleet.git', 'show', `main:${path}`);
  }

  /** `rollouts/<name>.json` on fleet main. */
  rollout(name: string): RolloutState | undefined {
    const s = this.fleetFile(`rollouts/${name}.json`);
    return s ? (JSON.parse(s) as RolloutState) : undefined;
  }

  /** Subjects and trailers of fleet commits touching `rollouts/<name>.json`, oldest first. */
  rolloutLog(name: string): { subject: string; phase: string }[] {
    return this.git(
      'fleet.git',
      'log',
      '--reverse',
      '--format=%s%x1f%(trailers:key=Margo-Rollout-Phase,valueonly)%x1e',
      'main',
      '--',
      `rollouts/${name}.json`,
    )
      .split('\x1e')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [subject = '', phase = ''] = s.split('\x1f');
        return { subject, phase: phase.trim() };
      });
  }

  /** The application version deployment `name` names on `deviceId`'s main ('' when absent). */
  toldVersion(deviceId: string, name: string): string {
    const doc = this.git(`devices/${deviceId}.git`, 'show', `main:deployments/${name}.yaml`);
    return /margo-gitops\.io\/application-version:\s*["']?([^"'\s]+)/.exec(doc)?.[1] ?? '';
  }

  /** Every application version deployment `name` ever named on `deviceId`'s main. */
  everTold(deviceId: string, name: string): string[] {
    const log = this.git(`devices/${deviceId}.git`, 'log', '-p', 'main', '--', `deployments/${name}.yaml`);
    return [
      ...new Set(
        [...log.matchAll(/^\+.*margo-gitops\.io\/application-version:\s*["']?([^"'\s]+)/gm)].map(
          (m) => m[1]!,
        ),
      ),
    ];
  }

  /** Replaces fleet `deployments/<name>.yaml` by `edit(current document)` (one commit, retried on a race). */
  async editDeployment(
    name: string,
    edit: (doc: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<void> {
    const conn = await requireConnection({}, this.cli.env);
    await commitChange(conn, 'fleet', `test: edit deployment ${name}`, async (co) => {
      const file = join(co.dir, 'deployments', `${name}.yaml`);
      const doc = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, stringify(edit(doc)));
    });
  }

  /** Writes one fleet file (one commit). */
  async writeFleetFile(path: string, text: string): Promise<void> {
    const conn = await requireConnection({}, this.cli.env);
    await commitChange(conn, 'fleet', `test: write ${path}`, async (co) => {
      await mkdir(join(co.dir, path, '..'), { recursive: true });
      await writeFile(join(co.dir, path), text);
    });
  }

  /** `margo status -o json` (undefined when it fails). */
  async status(): Promise<FleetStatusJson | undefined> {
    const r = await this.margo('status', '-o', 'json');
    return r.code === 0 ? (JSON.parse(r.out) as FleetStatusJson) : undefined;
  }

  /** Waits until every device reports deployment `name` installed at application version `version`. */
  async allInstalled(name: string, version: string, seconds = 240): Promise<void> {
    await this.cli.until(
      seconds,
      `${name} ${version} installed on ${this.devices.length} devices`,
      async () => {
        const run = this.running(name);
        if (![...run.values()].every((r) => r.version === version)) return undefined;
        const s = await this.status();
        const rows = s?.deployments.find((d) => d.name === name)?.devices ?? [];
        return rows.length === this.devices.length && rows.every((r) => r.state === 'installed');
      },
    );
  }

  /** Stops agents and server, removes the Compose projects of `deployments` (containers, networks), the folder. */
  async cleanup(deployments: string[]): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => stop(a)));
    await stop(this.serve);
    this.eventsProc?.kill();
    for (const d of this.devices) for (const n of deployments) this.project(d.id, n);
    const script = `for p in "$@"; do
  docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f
  docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm
done`;
    try {
      execFileSync('sh', ['-c', script, 'sh', ...this.projects], { env: this.cli.env, stdio: 'ignore' });
    } catch {
      /* nothing left */
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface StatusRow {
  deviceId: string;
  state: string;
  error?: { code: string; message: string };
  waiting?: { reason: string; until?: string; hold?: string };
  rollout?: { side: 'from' | 'to'; status: string };
}

export interface FleetStatusJson {
  deployments: {
    name: string;
    version?: string;
    devices: StatusRow[];
    rollout?: { phase: string; wave: string; done: number; total: number };
  }[];
  devices: { deviceId: string; reporting: string }[];
}

/** Runs the functions given to it at most `n` at a time. */
function pool(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let free = n;
  const queue: (() => void)[] = [];
  return async (f) => {
    while (free === 0) await new Promise<void>((r) => queue.push(r));
    free--;
    try {
      return await f();
    } finally {
      free++;
      queue.shift()?.();
    }
  };
}

/** Largest number of [start, end] intervals open at once. */
export function maxOverlap(intervals: [number, number][]): number {
  const points = intervals.flatMap(([a, b]) => [
    [a, 1],
    [b, -1],
  ]);
  points.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let cur = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (cur += d!));
  return max;
}
