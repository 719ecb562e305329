import type { Logger } from 'pino';
import { toMargoError, type MargoError } from '@margo-gitops/spec';
import type { AgentConfig } from '../config/agent-config.js';
import { ComposeDriver } from '../drivers/compose-driver.js';
import type { Driver, Observation } from '../drivers/driver.js';
import { HelmDriver } from '../drivers/helm-driver.js';
import { driverRegistrySettings } from '../drivers/registry-config.js';
import { errInfo } from '../logger.js';
import type { AppliedComponent, AppliedDeployment } from '../state/state-store.js';

/** The device's runtimes (default: Compose, plus Helm when `kubeconfig` is set) and which of them failed to start. */
export class DriverSet {
  readonly all: Driver[];
  private readonly errors = new Map<string, MargoError>();

  constructor(config: AgentConfig, drivers?: Driver[]) {
    const registry = driverRegistrySettings(config);
    this.all = drivers ?? [
      new ComposeDriver({
        ...(config.composeCommand ? { composeCommand: config.composeCommand } : {}),
        dockerPath: config.dockerPath,
        ...(config.composeProjectPrefix ? { projectPrefix: config.composeProjectPrefix } : {}),
        stopTimeoutSeconds: config.composeStopTimeoutSeconds,
        registry: registry.compose,
      }),
      ...(config.kubeconfig
        ? [
            new HelmDriver({
              helmPath: config.helmPath,
              kubeconfig: config.kubeconfig,
              registry: registry.helm,
            }),
          ]
        : []),
    ];
  }

  /** Initialises every driver; one that fails is remembered (its deployments fail with its error). */
  async init(logger: Logger): Promise<void> {
    for (const d of this.all) {
      try {
        await d.init(logger.child({ driver: d.name }));
        this.errors.delete(d.name);
      } catch (e) {
        const err = toMargoError(e, 'AGENT_COMPOSE_UNAVAILABLE');
        this.errors.set(d.name, err);
        logger.error({ driver: d.name, err: errInfo(err) }, 'driver unavailable');
      }
    }
  }

  /** True when some driver failed its last init (retried before the next reconcile). */
  get hasErrors(): boolean {
    return this.errors.size > 0;
  }

  errorOf(name: string): MargoError | undefined {
    return this.errors.get(name);
  }

  forType(type: string): Driver | undefined {
    return this.all.find((d) => d.supports(type as never));
  }

  byName(name: string): Driver | undefined {
    return this.all.find((x) => x.name === name);
  }

  /** Node capacity from the Kubernetes API when there is a Helm driver (capabilities). */
  async nodeCapacity(): Promise<Awaited<ReturnType<HelmDriver['nodeCapacity']>> | undefined> {
    const helm = this.all.find((d): d is HelmDriver => d instanceof HelmDriver);
    if (!helm) return undefined;
    return helm.nodeCapacity().catch(() => undefined);
  }

  /** Observes every applied component, one query per driver when the driver can (observeMany). */
  async observe(applied: AppliedDeployment[], logger: Logger): Promise<Map<AppliedComponent, Observation>> {
    const out = new Map<AppliedComponent, Observation>();
    for (const drv of this.all) {
      const comps = applied.flatMap((a) =>
        a.components.filter((c) => c.driver === drv.name).map((c) => ({ id: a.id, c })),
      );
      if (!comps.length) continue;
      if (drv.observeMany) {
        try {
          const obs = await drv.observeMany(
            comps.map((x) => x.c.record),
            logger,
          );
          comps.forEach((x, i) => out.set(x.c, obs[i]!));
        } catch (e) {
          logger.debug({ driver: drv.name, err: errInfo(e) }, 'observe failed');
        }
        continue;
      }
      for (const x of comps) {
        try {
          out.set(x.c, await drv.observe(x.c.record, logger));
        } catch (e) {
          logger.debug({ deploymentId: x.id, err: errInfo(e) }, 'observe failed');
        }
      }
    }
    return out;
  }
}
