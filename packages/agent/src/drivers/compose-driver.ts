import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MargoError } from '@margo-gitops/spec';
import type { ProfileType } from '@margo-gitops/spec';
import type { DriverRecord } from '../state/state-store.js';
import type { ComponentContext, Driver, Observation, Prepared, RemoveContext } from './driver.js';
import { composeEnvironment, composeProjectName } from './compose-env.js';
import { writeComposeOtelOverride } from '../otel/inject.js';
import { fetchComponentArtifact } from './fetch-artifact.js';
import { obtainPackage, showLocation, unpackPackage, unpackPackageFile } from './obtain-package.js';
import { registrySettings, type RegistrySettings } from './registry-access.js';
import { redact, runCommand, tail, type RunResult } from './run-command.js';

export interface ComposeDriverOptions {
  /** `docker-compose` or `docker compose`; detected at init when unset. */
  composeCommand?: string;
  dockerPath?: string;
  /** First part of new Compose project names (default `margo`; see AgentConfig.composeProjectPrefix). */
  projectPrefix?: string;
  /** Extra environment for docker (DOCKER_HOST...). The agent's own environment is not passed on. */
  baseEnv?: Record<string, string>;
  /** Interval of readiness checks after `up -d`. */
  pollMs?: number;
  /** Seconds containers get to stop on recreate/down (default 10). */
  stopTimeoutSeconds?: number;
  /** How OCI registries holding Compose packages are reached (hosts over http, device token, limit). */
  registry?: Partial<RegistrySettings>;
}

interface ComposeContainer {
  project: string;
  service: string;
  /** `running`, `exited`, `created`... */
  status: string;
  /** `healthy`, `unhealthy`, `starting`, or '' without a healthcheck. */
  health: string;
}

interface ComposeRecord extends DriverRecord {
  project: string;
  dir: string;
  composeFile: string;
  /** The agent's OTEL_* override beside the package (`-f composeFile -f overrideFile`), if any. */
  overrideFile?: string;
  services: string[];
  sha256: string;
}

/** Sorted service names of a compose file, or null when it has none / is not YAML. */
export function composeServices(text: string): string[] | null {
  try {
    const doc = parseYaml(text) as { services?: Record<string, unknown> } | null;
    const names = doc?.services && typeof doc.services === 'object' ? Object.keys(doc.services).sort() : [];
    return names.length ? names : null;
  } catch {
    return null;
  }
}

const AUTH_RE =
  /unauthorized|authentication required|no basic auth credentials|denied: requested access|401 Unauthorized|pull access denied/i;

/**
 * Runs Compose packages: download + verify + unpack into `<workDir>/<sha256 prefix>/`, parameters
 * as environment variables, per-deployment DOCKER_CONFIG for registry logins, `up -d` under a
 * project name derived from the deployment, `down` on removal.
 */
export class ComposeDriver implements Driver {
  readonly name = 'compose' as const;
  private cmd: string[] | null = null;
  private readonly docker: string;
  private readonly pollMs: number;

  private readonly registry: RegistrySettings;

  constructor(private readonly o: ComposeDriverOptions = {}) {
    this.docker = o.dockerPath ?? 'docker';
    this.registry = registrySettings(o.registry);
    this.pollMs = o.pollMs ?? 500;
    if (o.composeCommand) this.cmd = o.composeCommand.trim().split(/\s+/);
  }

  supports(type: ProfileType): boolean {
    return type === 'compose';
  }

  /** The compose command in use (after init). */
  get command(): string[] | null {
    return this.cmd;
  }

  async init(logger: Logger): Promise<void> {
    if (this.cmd) return;
    const candidates = [[this.docker, 'compose'], ['docker-compose']];
    for (const c of candidates) {
      try {
        const r = await runCommand(c[0]!, [...c.slice(1), 'version'], {
          timeoutMs: 20_000,
          env: this.env({}),
        });
        if (r.code === 0) {
          this.cmd = c;
          logger.info({ composeCommand: c.join(' ') }, 'compose command detected');
          return;
        }
      } catch {
        // not installed
      }
    }
    throw new MargoError(
      'AGENT_COMPOSE_UNAVAILABLE',
      'neither `docker compose` nor `docker-compose` is usable on this device',
    );
  }

  private env(extra: Record<string, string>, dockerConfig?: string): NodeJS.ProcessEnv {
    const keep = ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'TMPDIR'];
    const env: NodeJS.ProcessEnv = {};
    for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
    Object.assign(env, this.o.baseEnv ?? {}, extra);
    if (dockerConfig) env.DOCKER_CONFIG = dockerConfig;
    return env;
  }

  private async compose(
    args: string[],
    r: { dir: string; project: string; composeFile: string; overrideFile?: string },
    env: NodeJS.ProcessEnv,
    timeoutMs: number,
    secrets: string[],
  ): Promise<RunResult> {
    if (!this.cmd) throw new MargoError('AGENT_COMPOSE_UNAVAILABLE', 'compose driver used before init');
    return runCommand(
      this.cmd[0]!,
      [
        ...this.cmd.slice(1),
        '-p',
        r.project,
        '-f',
        join(r.dir, r.composeFile),
        ...(r.overrideFile && existsSync(join(r.dir, r.overrideFile))
          ? ['-f', join(r.dir, r.overrideFile)]
          : []),
        ...args,
      ],
      { cwd: r.dir, env, timeoutMs, secrets },
    );
  }

  async prepare(ctx: ComponentContext): Promise<Prepared> {
    const props = ctx.component.compose;
    if (!props)
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `component ${ctx.component.name} has no Compose properties`,
      );
    let source: string;
    let pkg: { bytes: Buffer; sha256: string; signed: boolean };
    if (props.packageLocation) {
      ctx.progress('downloading');
      source = showLocation(props.packageLocation);
      pkg = await obtainPackage(props.packageLocation, props.keyLocation, ctx.component.raw, {
        repoFiles: ctx.repoFiles,
        timeoutMs: ctx.timeoutSeconds * 1000,
      });
    } else if (props.repository && props.revision) {
      return this.prepareArtifact(ctx, props.repository, props.revision);
    } else {
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `component ${ctx.component.name} names neither a packageLocation nor an OCI repository and revision`,
      );
    }
    const dir = join(ctx.workDir, pkg.sha256.slice(0, 16));
    let composeFile: string;
    const marker = join(dir, '.margo-unpacked');
    if (existsSync(marker)) {
      composeFile = JSON.parse(readFileSync(marker, 'utf8')).composeFile as string;
    } else {
      const u = await unpackPackage(pkg.bytes, dir);
      // The compose root may be a sub-folder of the archive; keep paths relative to `dir`.
      composeFile = join(u.root.slice(dir.length), u.composeFile).replace(/^\/+/, '');
      writeFileSync(marker, JSON.stringify({ composeFile, sha256: pkg.sha256 }));
    }
    ctx.logger.debug({ package: source, sha256: pkg.sha256, signed: pkg.signed }, 'package ready');
    ctx.progress('prepared');
    return { dir, composeFile, sha256: pkg.sha256 };
  }

  /**
   * A Compose package from OCI (Margo: `repository` + `revision`, optionally pinned by digest):
   * the verified layer is extracted into `<workDir>/<manifest digest prefix>/`. A pinned artifact
   * already extracted there (restart, drift repair) needs no registry.
   */
  private async prepareArtifact(
    ctx: ComponentContext,
    repository: string,
    revision: string,
  ): Promise<Prepared> {
    const pin = ctx.component.ociDigest;
    const dirOf = (digest: string) =>
      join(ctx.workDir, digest.slice('sha256:'.length, 'sha256:'.length + 16));
    const unpacked = (dir: string) => {
      const marker = join(dir, '.margo-unpacked');
      return existsSync(marker)
        ? (JSON.parse(readFileSync(marker, 'utf8')) as { composeFile: string; sha256: string })
        : null;
    };
    const have = pin ? unpacked(dirOf(pin)) : null;
    if (pin && have) {
      ctx.progress('prepared');
      return { dir: dirOf(pin), composeFile: have.composeFile, sha256: have.sha256 };
    }
    ctx.progress('downloading');
    const a = await fetchComponentArtifact(ctx, {
      kind: 'compose',
      settings: this.registry,
      repository,
      revision,
    });
    const dir = dirOf(a.manifestDigest);
    const sha256 = a.manifestDigest.slice('sha256:'.length);
    let composeFile = unpacked(dir)?.composeFile;
    try {
      if (!composeFile) {
        const u = await unpackPackageFile(a.path, dir, {
          what: a.shown,
          // A Compose folder is small; the bound only stops a gzip bomb from filling the disk.
          maxUnpackedBytes: 4 * this.registry.maxArtifactBytes,
        });
        composeFile = join(u.root.slice(dir.length), u.composeFile).replace(/^\/+/, '');
        writeFileSync(join(dir, '.margo-unpacked'), JSON.stringify({ composeFile, sha256 }));
      }
    } finally {
      rmSync(a.path, { force: true });
    }
    ctx.logger.debug(
      { package: a.shown, manifestDigest: a.manifestDigest, layer: a.layer.digest },
      'package ready',
    );
    ctx.progress('prepared');
    return { dir, composeFile, sha256 };
  }

  private async login(ctx: ComponentContext, dockerConfig: string): Promise<void> {
    const reg = ctx.registry;
    if (!reg) return;
    const r = await runCommand(
      this.docker,
      ['--config', dockerConfig, 'login', reg.server, '-u', reg.username, '--password-stdin'],
      {
        input: reg.password,
        env: this.env({}),
        timeoutMs: 60_000,
        secrets: [reg.password, reg.username],
      },
    );
    if (r.code !== 0) {
      throw new MargoError(
        'AGENT_REGISTRY_AUTH_FAILED',
        `docker login to ${reg.server} failed: ${tail(r.stderr || r.stdout, 3)}`,
      );
    }
  }

  async apply(ctx: ComponentContext, prepared: Prepared): Promise<DriverRecord> {
    const { dir, composeFile, sha256 } = prepared as { dir: string; composeFile: string; sha256: string };
    const project = composeProjectName(
      ctx.deployment.name,
      ctx.deployment.id,
      ctx.component.name,
      ctx.deployment.profile.components.length,
      this.o.projectPrefix,
    );
    const dockerConfig = join(ctx.workDir, 'docker-config');
    mkdirSync(dockerConfig, { recursive: true, mode: 0o700 });
    const { env: params, invalid } = composeEnvironment(ctx.values);
    if (invalid.length) {
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `component ${ctx.component.name}: parameter pointers ${invalid.join(', ')} are not environment variable names`,
      );
    }
    const secrets = Object.values(params).filter((v) => v.length >= 6);
    if (ctx.registry) secrets.push(ctx.registry.password);
    ctx.progress('configuring');
    await this.login(ctx, dockerConfig);
    const env = this.env(params, dockerConfig);
    const composeText = readFileSync(join(dir, composeFile), 'utf8');
    // After the package was verified and unpacked: the device's collector for every service.
    const overrideFile = writeComposeOtelOverride(ctx, dir, composeFile, composeText);
    const rec = { project, dir, composeFile, ...(overrideFile ? { overrideFile } : {}) };
    const timeoutMs = ctx.timeoutSeconds * 1000;
    // Service names straight from the file (saves a compose start-up; compose validates on `up`).
    const services = composeServices(composeText);
    if (!services)
      throw new MargoError('AGENT_PACKAGE_INVALID', `compose file of ${ctx.component.name} has no services`);
    const up = await this.compose(
      ['up', '-d', '--remove-orphans', '--timeout', String(this.o.stopTimeoutSeconds ?? 10)],
      rec,
      env,
      timeoutMs,
      secrets,
    );
    if (up.timedOut)
      throw new MargoError(
        'AGENT_TIMEOUT',
        `compose up of ${ctx.component.name} did not finish within ${ctx.timeoutSeconds}s`,
      );
    if (up.code !== 0) {
      const out = redact(tail(up.stderr || up.stdout, 6), secrets);
      if (AUTH_RE.test(up.stderr))
        throw new MargoError(
          'AGENT_REGISTRY_AUTH_FAILED',
          `image pull for ${ctx.component.name} was refused by the registry: ${out}`,
        );
      throw new MargoError('AGENT_COMPOSE_FAILED', `compose up of ${ctx.component.name} failed: ${out}`, {
        retry: 'backoff',
      });
    }
    const wait = ctx.component.compose?.wait ?? true;
    if (wait) await this.waitReady(project, services, ctx.timeoutSeconds, ctx.component.name);
    ctx.progress('deployed');
    // Old unpacked versions are no longer needed once the new one runs.
    for (const e of readdirSync(ctx.workDir)) {
      if (/^[0-9a-f]{16}$/.test(e) && join(ctx.workDir, e) !== dir)
        rmSync(join(ctx.workDir, e), { recursive: true, force: true });
    }
    const record: ComposeRecord = { ...rec, services, sha256 };
    return record;
  }

  /**
   * Compose containers matching a `docker ps` label filter, in one call (no inspect): project,
   * service, state, and health from the status text (`Up 3 seconds (healthy)`,
   * `(health: starting)`, `(unhealthy)`).
   */
  private async composeContainers(labelFilter: string): Promise<ComposeContainer[]> {
    const res = await runCommand(
      this.docker,
      [
        'ps',
        '-a',
        '--filter',
        `label=${labelFilter}`,
        '--format',
        '{{.Label "com.docker.compose.project"}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}',
      ],
      { env: this.env({}), timeoutMs: 30_000 },
    );
    if (res.code !== 0)
      throw new MargoError('AGENT_COMPOSE_FAILED', `docker ps failed: ${tail(res.stderr, 3)}`, {
        retry: 'backoff',
      });
    return res.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [project = '', service = '', status = '', text = ''] = l.split('\t');
        const h = /\((healthy|unhealthy|health: starting)\)/.exec(text)?.[1];
        return { project, service, status, health: h === 'health: starting' ? 'starting' : (h ?? '') };
      });
  }

  private containers(project: string): Promise<ComposeContainer[]> {
    return this.composeContainers(`com.docker.compose.project=${project}`);
  }

  private async waitReady(
    project: string,
    services: string[],
    timeoutSeconds: number,
    component: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    let last = '';
    for (;;) {
      const cs = await this.containers(project);
      const notReady = services.filter((s) => {
        const c = cs.filter((x) => x.service === s);
        return (
          c.length === 0 ||
          c.some((x) => x.status !== 'running' || (x.health !== '' && x.health !== 'healthy'))
        );
      });
      if (!notReady.length) return;
      last = notReady
        .map(
          (s) =>
            `${s}: ${
              cs
                .filter((x) => x.service === s)
                .map((x) => x.health || x.status)
                .join('/') || 'missing'
            }`,
        )
        .join(', ');
      if (Date.now() > deadline)
        throw new MargoError(
          'AGENT_TIMEOUT',
          `component ${component} not ready after ${timeoutSeconds}s (${last})`,
        );
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  async observe(record: DriverRecord): Promise<Observation> {
    const r = record as ComposeRecord;
    return observeProject(r, await this.containers(r.project));
  }

  /** One `docker ps` for every Compose project on the machine, however many deployments there are. */
  async observeMany(records: DriverRecord[]): Promise<Observation[]> {
    const byProject = new Map<string, ComposeContainer[]>();
    for (const c of await this.composeContainers('com.docker.compose.project')) {
      let list = byProject.get(c.project);
      if (!list) byProject.set(c.project, (list = []));
      list.push(c);
    }
    return records.map((record) => {
      const r = record as ComposeRecord;
      return observeProject(r, byProject.get(r.project) ?? []);
    });
  }

  async remove(ctx: RemoveContext): Promise<void> {
    const r = ctx.record as ComposeRecord;
    const timeoutMs = ctx.timeoutSeconds * 1000;
    let done = false;
    if (existsSync(join(r.dir, r.composeFile))) {
      const res = await this.compose(
        [
          'down',
          '--remove-orphans',
          '--timeout',
          String(this.o.stopTimeoutSeconds ?? 10),
          ...(ctx.removeVolumes ? ['-v'] : []),
        ],
        r,
        this.env({}, join(r.dir, '..', 'docker-config')),
        timeoutMs,
        [],
      );
      if (res.code !== 0)
        throw new MargoError(
          'AGENT_COMPOSE_FAILED',
          `compose down of ${r.project} failed: ${tail(res.stderr, 4)}`,
          { retry: 'backoff' },
        );
      done = true;
    }
    if (!done) {
      // Package folder lost: remove what carries the project label.
      const filter = `label=com.docker.compose.project=${r.project}`;
      const ids = await runCommand(this.docker, ['ps', '-aq', '--filter', filter], { env: this.env({}) });
      const list = ids.stdout.split('\n').filter(Boolean);
      if (list.length) await runCommand(this.docker, ['rm', '-f', ...list], { env: this.env({}), timeoutMs });
      const nets = await runCommand(this.docker, ['network', 'ls', '-q', '--filter', filter], {
        env: this.env({}),
      });
      for (const n of nets.stdout.split('\n').filter(Boolean))
        await runCommand(this.docker, ['network', 'rm', n], { env: this.env({}) });
      if (ctx.removeVolumes) {
        const vols = await runCommand(this.docker, ['volume', 'ls', '-q', '--filter', filter], {
          env: this.env({}),
        });
        for (const v of vols.stdout.split('\n').filter(Boolean))
          await runCommand(this.docker, ['volume', 'rm', v], { env: this.env({}) });
      }
    }
    rmSync(join(r.dir, '..'), { recursive: true, force: true });
  }
}

/** Drift verdict for one project from its containers: every applied service has a running one. */
function observeProject(r: ComposeRecord, cs: ComposeContainer[]): Observation {
  const bad = r.services.filter((s) => !cs.some((c) => c.service === s && c.status === 'running'));
  return bad.length ? { ok: false, detail: `services not running: ${bad.join(', ')}` } : { ok: true };
}
