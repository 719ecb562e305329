// A small fleet for the rollout wiring tests: real bare repositories, devices simulated by
// committing status (observed.json + DeploymentStatus) to their `status` branch, an injectable clock.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import {
  deploymentIdFor,
  Orchestrator,
  readRolloutState,
  type OrchestratorOptions,
  type RolloutState,
} from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { parse } from 'yaml';
import { bareGit, capabilities, git, helloYaml, tempRoot, WorkTree } from './helpers.js';

export class RolloutWorld {
  readonly root: string;
  readonly cleanup: () => void;
  readonly reposRoot: string;
  readonly dataDir: string;
  readonly ids: string[];
  clock = Date.now();
  orch: Orchestrator;
  private fleetTree: WorkTree;
  private status = new Map<string, WorkTree>();
  /** The `main` commit each device last reported about. */
  readonly reported = new Map<string, string>();

  constructor(
    readonly n: number,
    readonly opts: Partial<OrchestratorOptions> = {},
  ) {
    const t = tempRoot('margo-rollout-it-');
    this.root = t.root;
    this.cleanup = t.cleanup;
    this.dataDir = join(this.root, 'data');
    this.reposRoot = join(this.dataDir, 'repos');
    this.ids = Array.from({ length: n }, (_, i) => `d${i + 1}`);
    this.fleetTree = new WorkTree(this.root, join(this.reposRoot, 'fleet.git'), 'main');
    this.orch = this.newOrchestrator();
  }

  newOrchestrator(): Orchestrator {
    return new Orchestrator({
      dataDir: this.dataDir,
      reposRoot: this.reposRoot,
      logger: pino({ level: 'silent' }),
      intervalMs: 0,
      concurrency: 4,
      now: () => this.clock,
      ...this.opts,
    });
  }

  async init(deployments: Record<string, string>): Promise<void> {
    await createRepos(this.reposRoot);
    new WorkTree(this.root, join(this.reposRoot, 'catalog.git'), 'main').write(
      { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0'), 'hello/1.1.0/margo.yaml': helloYaml('1.1.0') },
      'publish hello',
    );
    const devices: Record<string, string> = {};
    for (const id of this.ids) {
      await ensureDeviceRepo(this.reposRoot, id);
      const wt = new WorkTree(this.root, this.dev(id), 'status', {
        name: id,
        email: `${id}@devices.invalid`,
      });
      this.status.set(id, wt);
      wt.write({ 'capabilities.json': capabilities(id, 'Standalone Device', '8Gi') }, 'capabilities');
      devices[`devices/${id}.yaml`] =
        `kind: Device\nid: ${id}\nrole: standalone-device\nlabels: {site: a}\nexpectedReportSeconds: 86400\n`;
    }
    this.fleetWrite({ ...devices, ...deployments }, 'fleet');
  }

  dev(id: string): string {
    return join(this.reposRoot, 'devices', `${id}.git`);
  }

  get fleetDir(): string {
    return join(this.reposRoot, 'fleet.git');
  }

  /** Writes to fleet main on top of what is there (the orchestrator commits rollout states too). */
  fleetWrite(files: Record<string, string | null>, message: string): string {
    const dir = this.fleetTree.dir;
    if (this.head(this.fleetDir)) {
      git(dir, 'fetch', '-q', this.fleetDir, 'main');
      git(dir, 'reset', '-q', '--hard', 'FETCH_HEAD');
    }
    return this.fleetTree.write(files, message);
  }

  head(gitdir: string, ref = 'main'): string | null {
    try {
      return execFileSync('git', ['--git-dir', gitdir, 'rev-parse', '--verify', '-q', ref], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return null;
    }
  }

  /** Every device's main head and the fleet head. */
  heads(): Record<string, string | null> {
    const out: Record<string, string | null> = { fleet: this.head(this.fleetDir) };
    for (const id of this.ids) out[id] = this.head(this.dev(id));
    return out;
  }

  commits(id: string): number {
    const h = this.head(this.dev(id));
    return h ? Number(bareGit(this.dev(id), 'rev-list', '--count', h)) : 0;
  }

  /** The application version of deployment `name` in a device's main (at `ref`), or null. */
  versionOf(id: string, name = 'web', ref = 'main'): string | null {
    const text = this.fileAt(id, name, ref);
    if (text === null) return null;
    return (parse(text) as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
      'margo-gitops.io/application-version'
    ]!;
  }

  fileAt(id: string, name: string, ref = 'main'): string | null {
    const path = `deployments/${name}.yaml`;
    if (!this.head(this.dev(id), ref) || !bareGit(this.dev(id), 'ls-tree', '--name-only', ref, path))
      return null;
    return bareGit(this.dev(id), 'show', `${ref}:${path}`);
  }

  /** Versions of `name` along the device's main history, oldest first (null: absent). */
  history(id: string, name = 'web'): (string | null)[] {
    const h = this.head(this.dev(id));
    if (!h) return [];
    const commits = bareGit(this.dev(id), 'rev-list', '--reverse', h).split('\n').filter(Boolean);
    return commits.map((c) => this.versionOf(id, name, c));
  }

  /** The device reports every deployment of its current main in `state`. */
  report(id: string, state: 'installed' | 'failed' = 'installed', only?: string[]): void {
    const main = this.head(this.dev(id));
    if (!main) return;
    const names = bareGit(this.dev(id), 'ls-tree', '--name-only', 'main', 'deployments/')
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^deployments\//, '').replace(/\.yaml$/, ''));
    const files: Record<string, string | null> = { 'observed.json': JSON.stringify({ commit: main }) };
    for (const name of names) {
      if (only && !only.includes(name)) continue;
      const deploymentId = deploymentIdFor(id, name);
      files[`deployments/${deploymentId}.json`] = JSON.stringify({
        apiVersion: 'deployment.margo/v1',
        kind: 'DeploymentStatus',
        deploymentId,
        status: {
          state,
          ...(state === 'failed' ? { error: { code: 'APPLY_FAILED', message: 'boom' } } : {}),
        },
        components: [],
      });
    }
    this.status.get(id)!.write(files, `report ${state}`);
    this.reported.set(id, main);
  }

  /** Every device whose main moved since its last report reports installed. */
  reportAllChanged(): string[] {
    const out: string[] = [];
    for (const id of this.ids) {
      const h = this.head(this.dev(id));
      if (h && this.reported.get(id) !== h) {
        this.report(id);
        out.push(id);
      }
    }
    return out;
  }

  /** Devices told something they have not reported yet (main moved since their report). */
  inFlight(): string[] {
    return this.ids.filter((id) => {
      const h = this.head(this.dev(id));
      return h !== null && this.reported.get(id) !== h;
    });
  }

  state(name = 'web'): RolloutState | undefined {
    const path = `rollouts/${name}.json`;
    if (!bareGit(this.fleetDir, 'ls-tree', '--name-only', 'main', path)) return undefined;
    return readRolloutState(bareGit(this.fleetDir, 'show', `main:${path}`) + '\n', path);
  }

  /** Runs a pass, then another one that must change nothing (idempotence). */
  async pass(reason = 'test'): Promise<void> {
    const s = await this.orch.reconcileNow(reason);
    if (s.failed.length) throw new Error(JSON.stringify(s.failed));
    const before = this.heads();
    await this.orch.reconcileNow(`${reason} again`);
    const after = this.heads();
    if (JSON.stringify(before) !== JSON.stringify(after))
      throw new Error(`a second pass changed something: ${JSON.stringify({ before, after })}`);
  }
}

export const deployment = (version: string, rollout = '', extra = '') =>
  `kind: Deployment\nname: web\napplication: {id: hello, version: ${version}}\ntargets: {selector: {matchLabels: {site: a}}}\n${extra}${rollout}`;
