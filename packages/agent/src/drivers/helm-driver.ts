import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MargoError } from '@margo-gitops/spec';
import type { ProfileType } from '@margo-gitops/spec';
import type { DriverRecord } from '../state/state-store.js';
import type { ComponentContext, Driver, Observation, Prepared, RemoveContext } from './driver.js';
import { fetchComponentArtifact } from './fetch-artifact.js';
import { helmValues } from './helm-values.js';
import { withHelmOtelValues } from '../otel/inject.js';
import { KubeClient } from './kube-client.js';
import { registrySettings, type RegistrySettings } from './registry-access.js';
import { runCommand, tail } from './run-command.js';

export interface HelmDriverOptions {
  helmPath?: string;
  kubeconfig: string;
  /** How OCI registries holding charts are reached (hosts over http, device token, size limit). */
  registry?: Partial<RegistrySettings>;
}

interface HelmRecord extends DriverRecord {
  release: string;
  namespace: string;
  chart: string;
  version: string;
  registryConfig: string;
  /** Manifest digest of the chart artifact installed (OCI charts). */
  digest?: string;
  /** Helm revision the agent made; another revision means someone changed the release by hand. */
  revision?: number;
}

const AUTH_RE =
  /unauthorized|authentication required|credential not found|no basic auth credentials|401|403 Forbidden|denied/i;
const NOT_FOUND_RE = /not found|no such host|connection refused|manifest unknown|failed to fetch|404/i;

/** Release name for a component: the component name (Margo: Helm uses it as the chart name), at most 53 chars. */
export function releaseName(component: string): string {
  return component
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 53)
    .replace(/-+$/, '');
}

/** The chart file of an artifact in a component's work dir (named by manifest digest). */
const chartFile = (workDir: string, digest: string) =>
  join(workDir, `chart-${digest.slice('sha256:'.length, 'sha256:'.length + 16)}.tgz`);

/**
 * Installs Helm components: an OCI chart (`oci://`) is fetched by the agent's own client (digest
 * checked, credentials only for their registry, see registry-access.ts), saved as a .tgz in the
 * work dir and installed with `helm upgrade --install <release> <file.tgz>`, so helm never talks
 * to the registry and no credential reaches its argv or config. Charts from http(s) repositories
 * (older desired state) are pulled and installed by helm with `--repo`/`--version` as before.
 * Values come from the parameter pointers; the namespace is `metadata.namespace` (created through
 * the Kubernetes API when missing); `helm uninstall` on removal.
 */
export class HelmDriver implements Driver {
  readonly name = 'helm' as const;
  private readonly helm: string;
  private readonly kube: KubeClient;
  private readonly registry: RegistrySettings;

  constructor(private readonly o: HelmDriverOptions) {
    this.helm = o.helmPath ?? 'helm';
    this.registry = registrySettings(o.registry);
    this.kube = new KubeClient(o.kubeconfig);
  }

  supports(type: ProfileType): boolean {
    return type === 'helm.v3';
  }

  async init(logger: Logger): Promise<void> {
    let r;
    try {
      r = await runCommand(this.helm, ['version', '--short'], { timeoutMs: 20_000 });
    } catch (e) {
      throw new MargoError(
        'AGENT_HELM_FAILED',
        `helm is not usable at ${this.helm}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (r.code !== 0) throw new MargoError('AGENT_HELM_FAILED', `helm version failed: ${tail(r.stderr, 2)}`);
    logger.info({ helm: r.stdout.trim() }, 'helm detected');
  }

  private base(): string[] {
    return ['--kubeconfig', this.o.kubeconfig];
  }

  private chartRef(ctx: ComponentContext): { chart: string; repoArgs: string[]; version: string } {
    const h = ctx.component.helm;
    if (!h)
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `component ${ctx.component.name} has no Helm properties`,
      );
    if (/\.tgz$/.test(h.repository)) return { chart: h.repository, repoArgs: [], version: h.revision };
    return { chart: ctx.component.name, repoArgs: ['--repo', h.repository], version: h.revision };
  }

  private classify(out: string, what: string): MargoError {
    const msg = `${what}: ${tail(out, 4)}`;
    if (/timed out|context deadline exceeded/i.test(out)) return new MargoError('AGENT_TIMEOUT', msg);
    if (AUTH_RE.test(out)) return new MargoError('AGENT_REGISTRY_AUTH_FAILED', msg);
    if (NOT_FOUND_RE.test(out) && /pull|fetch|chart|repo|oci|registry|manifest|version/i.test(out))
      return new MargoError('AGENT_PACKAGE_UNREACHABLE', msg, { retry: 'backoff' });
    return new MargoError('AGENT_HELM_FAILED', msg, { retry: 'backoff' });
  }

  /**
   * An OCI chart as a verified .tgz in the work dir. A pinned chart already there (restart, drift
   * repair) needs no registry.
   */
  private async fetchChart(ctx: ComponentContext, repository: string, revision: string): Promise<string> {
    const pin = ctx.component.ociDigest;
    if (pin && existsSync(chartFile(ctx.workDir, pin))) return pin;
    ctx.progress('downloading');
    const a = await fetchComponentArtifact(ctx, {
      kind: 'helm',
      settings: this.registry,
      repository,
      revision,
    });
    renameSync(a.path, chartFile(ctx.workDir, a.manifestDigest));
    ctx.logger.debug({ chart: a.shown, manifestDigest: a.manifestDigest }, 'chart ready');
    return a.manifestDigest;
  }

  async prepare(ctx: ComponentContext): Promise<Prepared> {
    mkdirSync(ctx.workDir, { recursive: true, mode: 0o700 });
    const registryConfig = join(ctx.workDir, 'registry.json');
    const h = ctx.component.helm;
    if (h?.repository.startsWith('oci://')) {
      // helm installs a local file: it needs no registry login (an empty config keeps it off ~/.config/helm).
      writeFileSync(registryConfig, '{"auths":{}}', { mode: 0o600 });
      const digest = await this.fetchChart(ctx, h.repository, h.revision);
      ctx.progress('prepared');
      return {
        chart: chartFile(ctx.workDir, digest),
        repoArgs: [],
        registryConfig,
        source: h.repository,
        version: h.revision,
        digest,
      };
    }
    const { chart, repoArgs, version } = this.chartRef(ctx);
    if (!ctx.registry) writeFileSync(registryConfig, '{"auths":{}}', { mode: 0o600 });
    else {
      const reg = ctx.registry;
      const r = await runCommand(
        this.helm,
        [
          'registry',
          'login',
          reg.server,
          '--username',
          reg.username,
          '--password-stdin',
          '--registry-config',
          registryConfig,
        ],
        {
          input: reg.password,
          timeoutMs: 60_000,
          secrets: [reg.password],
        },
      );
      if (r.code !== 0)
        throw new MargoError(
          'AGENT_REGISTRY_AUTH_FAILED',
          `helm registry login to ${reg.server} failed: ${tail(r.stderr, 3)}`,
        );
    }
    ctx.progress('downloading');
    // Pull once to surface unreachable charts and auth problems before anything changes.
    const pullDir = join(ctx.workDir, 'chart');
    rmSync(pullDir, { recursive: true, force: true });
    mkdirSync(pullDir, { recursive: true });
    const pull = await runCommand(
      this.helm,
      [
        'pull',
        chart,
        ...repoArgs,
        '--version',
        version,
        '--destination',
        pullDir,
        '--registry-config',
        registryConfig,
      ],
      { timeoutMs: ctx.timeoutSeconds * 1000 },
    );
    if (pull.code !== 0)
      throw this.classify(pull.stderr || pull.stdout, `cannot pull chart ${chart} ${version}`);
    ctx.progress('prepared');
    return { chart, repoArgs, version, versionArgs: ['--version', version], registryConfig };
  }

  async apply(ctx: ComponentContext, prepared: Prepared): Promise<DriverRecord> {
    const { chart, repoArgs, version, versionArgs, registryConfig, source, digest } = prepared as {
      chart: string;
      repoArgs: string[];
      version: string;
      /** `--version <revision>` for repository charts; none for a chart file. */
      versionArgs?: string[];
      registryConfig: string;
      source?: string;
      digest?: string;
    };
    const namespace = ctx.deployment.namespace;
    const release = releaseName(ctx.component.name);
    ctx.progress('configuring');
    const ns = await this.kube.ensureNamespace(namespace);
    if (ns === 'created') ctx.logger.info({ namespace }, 'namespace created');
    const { values, invalid } = helmValues(ctx.values);
    if (invalid.length)
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `component ${ctx.component.name}: malformed parameter pointers ${invalid.join(', ')}`,
      );
    const valuesFile = join(ctx.workDir, 'values.json');
    writeFileSync(valuesFile, JSON.stringify(withHelmOtelValues(ctx, values)), { mode: 0o600 });
    const wait = ctx.component.helm?.wait ?? true;
    const args = [
      'upgrade',
      '--install',
      release,
      chart,
      ...repoArgs,
      ...(versionArgs ?? []),
      '--namespace',
      namespace,
      '--values',
      valuesFile,
      '--registry-config',
      registryConfig,
      ...(wait ? ['--wait', '--timeout', `${ctx.timeoutSeconds}s`] : []),
      ...this.base(),
    ];
    try {
      const r = await runCommand(this.helm, args, {
        timeoutMs: (ctx.timeoutSeconds + 30) * 1000,
        secrets: ctx.values.map(([, v]) => String(v)).filter((v) => v.length >= 6),
      });
      if (r.timedOut)
        throw new MargoError(
          'AGENT_TIMEOUT',
          `helm upgrade of ${release} did not finish within ${ctx.timeoutSeconds}s`,
        );
      if (r.code !== 0) throw this.classify(r.stderr || r.stdout, `helm upgrade --install ${release} failed`);
    } finally {
      rmSync(valuesFile, { force: true });
    }
    ctx.progress('deployed');
    const now = await this.releaseStatus(release, namespace);
    if (digest) {
      // Earlier chart files are not needed once this one is installed.
      const keep = chart.slice(ctx.workDir.length + 1);
      for (const f of readdirSync(ctx.workDir))
        if (/^chart-[0-9a-f]{16}\.tgz$/.test(f) && f !== keep) rmSync(join(ctx.workDir, f), { force: true });
    }
    const record: HelmRecord = {
      release,
      namespace,
      chart: source ?? chart,
      version,
      registryConfig,
      ...(digest ? { digest } : {}),
      ...(now?.revision ? { revision: now.revision } : {}),
    };
    return record;
  }

  /** `helm status` of a release: null when it does not exist. */
  private async releaseStatus(
    release: string,
    namespace: string,
  ): Promise<{ status?: string; revision?: number } | null> {
    const s = await runCommand(
      this.helm,
      ['status', release, '--namespace', namespace, '-o', 'json', ...this.base()],
      { timeoutMs: 30_000 },
    );
    if (s.code !== 0) {
      if (/not found/i.test(s.stderr)) return null;
      throw this.classify(s.stderr, `helm status ${release}`);
    }
    const j = JSON.parse(s.stdout) as { info?: { status?: string }; version?: number };
    return {
      ...(j.info?.status ? { status: j.info.status } : {}),
      ...(j.version ? { revision: j.version } : {}),
    };
  }

  async observe(record: DriverRecord): Promise<Observation> {
    const r = record as HelmRecord;
    const s = await this.releaseStatus(r.release, r.namespace);
    if (!s) return { ok: false, detail: `release ${r.release} not found` };
    if (s.status !== 'deployed') return { ok: false, detail: `release ${r.release} is ${s.status}` };
    if (r.revision && s.revision && s.revision !== r.revision) {
      return {
        ok: false,
        detail: `release ${r.release} was changed outside the agent (revision ${s.revision}, applied ${r.revision})`,
      };
    }
    return { ok: true };
  }

  async remove(ctx: RemoveContext): Promise<void> {
    const r = ctx.record as HelmRecord;
    const u = await runCommand(
      this.helm,
      [
        'uninstall',
        r.release,
        '--namespace',
        r.namespace,
        '--wait',
        '--timeout',
        `${ctx.timeoutSeconds}s`,
        ...this.base(),
      ],
      { timeoutMs: (ctx.timeoutSeconds + 30) * 1000 },
    );
    if (u.code !== 0 && !/not found/i.test(u.stderr))
      throw this.classify(u.stderr, `helm uninstall ${r.release}`);
    rmSync(join(r.registryConfig, '..'), { recursive: true, force: true });
  }

  /** Node capacity for DeviceCapabilities of Kubernetes devices. */
  nodeCapacity() {
    return this.kube.nodeCapacity();
  }
}
