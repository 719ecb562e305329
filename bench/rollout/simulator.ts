/**
 * Light device simulator for bench/rollout: N devices in one process, each behaving like a
 * Git-transport margo-agent as far as the server can tell, all through the real Git server:
 *   - polls its repository every `pollMs` (GET info/refs, phases spread evenly over the period);
 *   - when `main` moved, fetches the tip (upload-pack, `deepen 1`) and reads every
 *     `deployments/<name>.yaml`;
 *   - when a deployment's workload changed (its document without annotations, like the agent's
 *     fingerprint ignores them), waits `applyMs` (no polling meanwhile, like the agent's loop);
 *   - pushes one status commit (receive-pack) with the files the agent writes: `capabilities.json`,
 *     `deployments/<deploymentId>.json` (`installed`, built by the agent's own builder) and
 *     `observed.json` (commit acted on, sequence number, file digests), unsigned.
 * Every observation and report is logged with its time for the harness to evaluate.
 */
import http from 'node:http';
import { parse } from 'yaml';
import {
  APP_VERSION_ANNOTATION as VERSION_ANNOTATION,
  buildObserved,
  REVISION_ANNOTATION,
  statusFileDigest,
} from '@margo-gitops/spec';
import { buildDeploymentStatus, statusFileContent } from '../../packages/agent/src/status/build-status.js';
import { commitObjects, fetchTip, pushCommit, refs, type Remote } from './git-wire.js';

export interface DeploymentDoc {
  id: string;
  name: string;
  revision?: string;
  version?: string;
  components: string[];
  /** The document without its annotations: what the agent compares to decide on a change. */
  fingerprint: string;
}

/** Reads the deployments of a desired tree. */
export function deploymentsOf(files: ReadonlyMap<string, Buffer>): Map<string, DeploymentDoc> {
  const out = new Map<string, DeploymentDoc>();
  for (const [path, bytes] of files) {
    const m = /^deployments\/([^/]+)\.yaml$/.exec(path);
    if (!m) continue;
    const doc = parse(bytes.toString('utf8')) as {
      id: string;
      metadata?: { annotations?: Record<string, string> };
      spec?: { deploymentProfile?: { components?: { name: string }[] } };
    };
    const ann = doc.metadata?.annotations ?? {};
    const d: DeploymentDoc = {
      id: doc.id,
      name: m[1]!,
      components: (doc.spec?.deploymentProfile?.components ?? []).map((c) => c.name),
      fingerprint: '',
    };
    if (ann[REVISION_ANNOTATION]) d.revision = ann[REVISION_ANNOTATION];
    if (ann[VERSION_ANNOTATION]) d.version = ann[VERSION_ANNOTATION];
    if (doc.metadata) doc.metadata.annotations = {};
    d.fingerprint = JSON.stringify(doc);
    out.set(d.name, d);
  }
  return out;
}

/** A simulated device's capabilities.json (a 4-core amd64 standalone device of Acme). */
export const capsOf = (id: string): Buffer =>
  Buffer.from(
    JSON.stringify({
      apiVersion: 'device.margo/v1',
      kind: 'DeviceCapabilities',
      properties: {
        id,
        vendor: 'Acme',
        modelNumber: 'X',
        serialNumber: id,
        roles: ['Standalone Device'],
        resources: { cpus: [{ cpuArchitecture: 'amd64', cores: 4 }], memory: '8Gi', storage: '64Gi' },
        peripherals: [],
        interfaces: [],
      },
    }),
  );

/** The status files the agent writes for the desired commit `commit` it acted on. */
export function statusFiles(
  deviceId: string,
  caps: Buffer,
  commit: string,
  deployments: ReadonlyMap<string, DeploymentDoc>,
  seq: bigint,
): Map<string, Buffer> {
  const files = new Map<string, Buffer>([['capabilities.json', caps]]);
  for (const d of deployments.values())
    files.set(
      `deployments/${d.id}.json`,
      Buffer.from(
        statusFileContent(
          buildDeploymentStatus({
            deploymentId: d.id,
            name: d.name,
            deviceId,
            components: d.components.map((name) => ({ name, state: 'installed' as const })),
            commit,
          }),
        ),
      ),
    );
  const digests = new Map([...files].map(([p, b]) => [p, statusFileDigest(b)]));
  files.set('observed.json', Buffer.from(buildObserved({ commit, seq, files: digests })));
  return files;
}

export interface SimDevice {
  id: string;
  token: string;
  caps: Buffer;
  main: string;
  status: string;
  seq: bigint;
  deployments: Map<string, DeploymentDoc>;
}

export interface Observation {
  /** When the poll that found the new main was sent, and the one before it (ms, Date.now). */
  polledAt: number;
  prevPollAt: number;
  /** When the tip had been read. */
  seenAt: number;
  oid: string;
  deployments: Map<string, DeploymentDoc>;
  changed: boolean;
}

export interface Report {
  /** The status push was accepted (answer received). */
  at: number;
  commit: string;
  /** The status commit pushed. */
  statusOid: string;
}

export interface SimStats {
  polls: number;
  fetches: number;
  pushes: number;
  errors: number;
  lastError?: string;
  /** Polls started later than planned (the simulator or the server could not keep up), worst ms. */
  worstPollLagMs: number;
}

/** How a simulated device reaches its repository. */
export interface DeviceTransport {
  /** What it says in the output. */
  readonly label: string;
  refs(d: SimDevice): Promise<Map<string, string>>;
  fetchTip(d: SimDevice, oid: string): Promise<Map<string, Buffer>>;
  push(d: SimDevice, old: string | null, c: ReturnType<typeof commitObjects>): Promise<void>;
  close(): void;
}

/** Through the real Git server: smart HTTP with the device's own token (git-wire.ts). */
export function httpTransport(host: string, port: number, sockets: number): DeviceTransport {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const remotes = new Map<string, Remote>();
  const remote = (d: SimDevice): Remote => {
    let r = remotes.get(d.id);
    if (!r) {
      r = { host, port, path: `/git/devices/${d.id}.git`, token: d.token, agent };
      remotes.set(d.id, r);
    }
    return r;
  };
  return {
    label:
      'the Git server over HTTP (info/refs poll, upload-pack fetch, receive-pack status push, each with the device token)',
    refs: (d) => refs(remote(d)),
    fetchTip: (d, oid) => fetchTip(remote(d), oid),
    push: (d, old, c) => pushCommit(remote(d), 'refs/heads/status', old, c.oid, c.objects),
    close: () => agent.destroy(),
  };
}

export class Simulator {
  readonly stats: SimStats = { polls: 0, fetches: 0, pushes: 0, errors: 0, worstPollLagMs: 0 };
  readonly observations = new Map<string, Observation[]>();
  readonly reports = new Map<string, Report[]>();
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lastPoll = new Map<string, number>();
  private inFlight = 0;

  constructor(
    private readonly devices: SimDevice[],
    private readonly transport: DeviceTransport,
    private readonly opts: { pollMs: number; applyMs: number },
  ) {
    for (const d of devices) {
      this.observations.set(d.id, []);
      this.reports.set(d.id, []);
    }
  }

  start(): void {
    const t0 = Date.now();
    this.running = true;
    this.devices.forEach((d, i) => void this.loop(d, t0 + (i / this.devices.length) * this.opts.pollMs, t0));
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.transport.close();
  }

  get pending(): number {
    return this.inFlight;
  }

  /** One device: poll when due, act, wait for the next period (a late poll is not made up for). */
  private async loop(d: SimDevice, first: number, t0: number): Promise<void> {
    let due = first;
    this.lastPoll.set(d.id, t0);
    while (this.running) {
      const wait = due - Date.now();
      if (wait > 0) {
        await new Promise<void>((res) => {
          const t = setTimeout(() => {
            this.timers.delete(t);
            res();
          }, wait);
          this.timers.add(t);
        });
        if (!this.running) return;
      }
      const now = Date.now();
      this.stats.worstPollLagMs = Math.max(this.stats.worstPollLagMs, now - due);
      this.inFlight++;
      try {
        await this.poll(d, now);
      } finally {
        this.inFlight--;
      }
      due = Math.max(Date.now(), due + this.opts.pollMs);
    }
  }

  private fail(e: unknown): void {
    this.stats.errors++;
    this.stats.lastError = (e as Error).message;
  }

  private async poll(d: SimDevice, sentAt: number): Promise<void> {
    const prevPollAt = this.lastPoll.get(d.id)!;
    this.lastPoll.set(d.id, sentAt);
    let main: string | undefined;
    try {
      this.stats.polls++;
      const advertised = await this.transport.refs(d);
      main = advertised.get('refs/heads/main');
      const status = advertised.get('refs/heads/status');
      if (status && status !== d.status) d.status = status; // only this device writes it
    } catch (e) {
      return this.fail(e);
    }
    if (!main || main === d.main) return;
    let deployments: Map<string, DeploymentDoc>;
    try {
      this.stats.fetches++;
      deployments = deploymentsOf(await this.transport.fetchTip(d, main));
    } catch (e) {
      return this.fail(e);
    }
    const changed =
      deployments.size !== d.deployments.size ||
      [...deployments.values()].some((x) => d.deployments.get(x.name)?.fingerprint !== x.fingerprint);
    this.observations
      .get(d.id)!
      .push({ polledAt: sentAt, prevPollAt, seenAt: Date.now(), oid: main, deployments, changed });
    if (changed && this.opts.applyMs > 0) await new Promise((res) => setTimeout(res, this.opts.applyMs));
    const seq = d.seq + 1n;
    const files = statusFiles(d.id, d.caps, main, deployments, seq);
    const c = commitObjects(files, d.status, d.id, Math.floor(Date.now() / 1000), 'status\n');
    for (let attempt = 0; ; attempt++) {
      try {
        this.stats.pushes++;
        await this.transport.push(d, d.status, c);
        break;
      } catch (e) {
        if (attempt >= 2) return this.fail(e);
        await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
      }
    }
    d.status = c.oid;
    d.seq = seq;
    d.main = main;
    d.deployments = deployments;
    this.reports.get(d.id)!.push({ at: Date.now(), commit: main, statusOid: c.oid });
  }
}
