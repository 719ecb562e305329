import type {
  ApplicationDescription,
  DeploymentIntent,
  DeviceCapabilities,
  Fleet,
  FleetDevice,
  ParamValue,
} from '@margo-gitops/spec';
import { stringify } from 'yaml';
import { chooseProfile, type DeviceFacts } from './choose-profile.js';
import { ociProfile, type ArtifactRef } from './oci-components.js';
import { deploymentIdFor } from './deployment-id.js';
import { renderApplicationDeployment } from './render-deployment.js';
import { resolveParameters, type ParameterValidator } from './resolve-parameters.js';
import { resolveVersion } from './resolve-version.js';
import { selectTargets } from './select-targets.js';
import { revisionOf } from '../rollout/revision.js';
import { sideOf } from '../rollout/step.js';
import type { RolloutState } from '../rollout/state.js';

/**
 * One catalog package: a parsed description, or why it could not be parsed. `artifacts` names the
 * OCI artifact of each component the package ships (component name -> repository, tag and
 * manifest digest), so the signed desired state pins the bytes the device pulls.
 */
export type CatalogEntry =
  | { app: ApplicationDescription; artifacts?: ReadonlyMap<string, ArtifactRef> }
  | { error: string };

/** The catalog: application id -> version (as written in the folder name) -> entry. */
export type Catalog = ReadonlyMap<string, ReadonlyMap<string, CatalogEntry>>;

/** What is currently deployed on a device (its desired-state branch), per deployment name. */
export interface CurrentDeployment {
  bytes: Buffer;
  /** Parameter values of the current ApplicationDeployment (for immutable settings). */
  parameters?: Record<string, ParamValue>;
}

export interface DeviceObservation {
  capabilities?: DeviceCapabilities;
  current: ReadonlyMap<string, CurrentDeployment>;
}

export type OutcomeStatus =
  /** The deployment is rendered into the device's desired state. */
  | 'matched'
  /** The device is targeted but does not fit (or no profile fits): it gets nothing. */
  | 'not-matched'
  /** It could not be computed (catalog, parameters, secrets, no capabilities yet): what the device had is kept. */
  | 'held'
  /** It could not be computed and the device had nothing: it gets nothing. */
  | 'error';

export interface DeploymentOutcome {
  deployment: string;
  deviceId: string;
  deploymentId: string;
  status: OutcomeStatus;
  code?: string;
  reason?: string;
  applicationId: string;
  version?: string;
  profileType?: string;
}

export interface DeviceDesired {
  deviceId: string;
  /** The device's complete desired files: `deployments/<name>.yaml` -> bytes. */
  files: Map<string, Buffer>;
  outcomes: DeploymentOutcome[];
}

export interface IntentResolution {
  intent: DeploymentIntent;
  targets: string[];
  unregistered: string[];
  app?: ApplicationDescription;
  version?: string;
  /** OCI artifacts of the package's components (see CatalogEntry). */
  artifacts?: ReadonlyMap<string, ArtifactRef>;
  error?: { code: string; reason: string };
  /** Its revision (rollout/revision.ts), rendered as annotation; set for deployments in rollouts. */
  revision?: string;
}

/** A resolved intent without its targets (the `from` side of a rollout). */
export type ResolvedIntent = Omit<IntentResolution, 'targets' | 'unregistered'>;

/** How a deployment in a rollout renders: the state decides each device's side. */
export interface RolloutRender {
  state: RolloutState;
  /** The intent at the state's `from`, resolved at `fromVersion`; absent for a first installation. */
  from?: ResolvedIntent;
}

/**
 * Which side of a rollout a device renders: `to` once told (sideOf) and when the rollout is done,
 * `from` before it is told, after a rollback, and when it is not (yet) part of the rollout.
 */
export function rolloutSide(ro: RolloutRender | undefined, deviceId: string): 'from' | 'to' {
  if (!ro || ro.state.phase === 'done') return 'to';
  if (ro.state.phase === 'rolledBack') return 'from';
  return sideOf(ro.state, deviceId) ?? 'from';
}

/** Intent-level work done once per reconcile, shared by every device. */
export interface ReconcileContext {
  fleet: Fleet;
  intents: IntentResolution[];
  /** device id -> indexes into `intents` that target it. */
  byDevice: Map<string, IntentResolution[]>;
  validate?: ParameterValidator;
  registryHost?: string;
  renderCache: Map<string, string>;
  /** Deployments in a rollout by name (set by the orchestrator each pass, after its decisions). */
  rollouts?: Map<string, RolloutRender>;
  /**
   * Deployment files present in the fleet but refused (schema or YAML errors): devices keep what
   * they have for these names instead of losing it to a typo.
   */
  brokenIntents: Map<string, string>;
}

export interface PrepareOptions {
  validate?: ParameterValidator;
  /** host[:port] of the server's embedded OCI registry as devices reach it (its public URL). */
  registryHost?: string;
  /** Yanked catalog versions per application id (not in `catalog`): named exactly, they hold with ORCH_VERSION_YANKED. */
  yanked?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Compute every intent's revision, not only those with `rollout:` (a fleet-wide cap is set). */
  revisions?: boolean;
}

/**
 * Resolves every intent once (targets, catalog version, application) for a reconcile pass.
 *
 * @example
 * const ctx = prepareReconcile(fleet, catalog);
 * const desired = desiredForDevice(ctx, fleet.devices.get('edge-1')!, { capabilities, current: new Map() });
 */
export function prepareReconcile(
  fleet: Fleet,
  catalog: Catalog,
  opts: PrepareOptions = {},
): ReconcileContext {
  const ctx: ReconcileContext = {
    fleet,
    intents: [],
    byDevice: new Map(),
    renderCache: new Map(),
    brokenIntents: new Map(),
    ...opts,
  };
  for (const f of fleet.findings) {
    const m = f.severity === 'error' ? /^deployments\/([^/]+)\.ya?ml$/.exec(f.file ?? '') : null;
    if (m && !fleet.deployments.has(m[1]!) && !ctx.brokenIntents.has(m[1]!))
      ctx.brokenIntents.set(m[1]!, `${f.code} ${f.file}${f.line ? `:${f.line}` : ''}: ${f.message}`);
  }
  for (const name of [...fleet.deployments.keys()].sort()) {
    const intent = fleet.deployments.get(name)!;
    const sel = selectTargets(intent, fleet.devices);
    const r: IntentResolution = {
      ...resolveIntent(intent, catalog, opts),
      targets: sel.deviceIds,
      unregistered: sel.unregistered,
    };
    ctx.intents.push(r);
    for (const id of r.targets) {
      let list = ctx.byDevice.get(id);
      if (!list) ctx.byDevice.set(id, (list = []));
      list.push(r);
    }
  }
  return ctx;
}

/**
 * Resolves one intent against the catalog (version, application, artifacts), without targets. The
 * revision (rollout/revision.ts) is set when the intent has `rollout:` or `opts.revisions` is on.
 */
export function resolveIntent(
  intent: DeploymentIntent,
  catalog: Catalog,
  opts: Pick<PrepareOptions, 'yanked' | 'revisions'> = {},
): Omit<IntentResolution, 'targets' | 'unregistered'> {
  const r: Omit<IntentResolution, 'targets' | 'unregistered'> = { intent };
  const versions = catalog.get(intent.application.id);
  if (opts.yanked?.get(intent.application.id)?.has(intent.application.version)) {
    r.error = {
      code: 'ORCH_VERSION_YANKED',
      reason: `application ${intent.application.id} ${intent.application.version} was yanked (${intent.application.id}/${intent.application.version}/yanked.yaml in the catalog)`,
    };
  } else if (!versions || versions.size === 0) {
    r.error = {
      code: 'ORCH_APP_NOT_FOUND',
      reason: `application ${intent.application.id} is not in the catalog`,
    };
  } else {
    const v = resolveVersion(intent.application.version, [...versions.keys()]);
    if ('error' in v)
      r.error = {
        code: 'ORCH_VERSION_NOT_FOUND',
        reason: `application ${intent.application.id}: ${v.error}`,
      };
    else {
      r.version = v.version;
      const entry = versions.get(v.version)!;
      if ('error' in entry)
        r.error = {
          code: 'ORCH_CATALOG_INVALID',
          reason: `application ${intent.application.id} ${v.version}: ${entry.error}`,
        };
      else {
        r.app = entry.app;
        if (entry.artifacts) r.artifacts = entry.artifacts;
      }
    }
  }
  if (r.version !== undefined && (intent.rollout || opts.revisions))
    r.revision = revisionOf(intent, r.version);
  return r;
}

const ID_PLACEHOLDER = '00000000-0000-5000-8000-000000000000';
/** Rendered once per deployment and version, the text names the device through this placeholder. */
const DEVICE_PLACEHOLDER = 'margo-gitops-device-id-placeholder';
/** The device id as a YAML scalar (quoted when a plain scalar would read as a number, boolean, ...). */
const yamlScalar = (s: string): string => stringify(s, { lineWidth: 0 }).trimEnd();

/**
 * The complete desired state of one device: one ApplicationDeployment per matching intent.
 * Pure: the same context and observation always give the same bytes.
 */
export function desiredForDevice(
  ctx: ReconcileContext,
  device: FleetDevice,
  obs: DeviceObservation,
): DeviceDesired {
  const out: DeviceDesired = { deviceId: device.id, files: new Map(), outcomes: [] };
  const facts: DeviceFacts = {
    id: device.id,
    labels: device.labels,
    ...(device.role ? { role: device.role } : {}),
    ...(obs.capabilities ? { capabilities: obs.capabilities } : {}),
  };
  for (const target of ctx.byDevice.get(device.id) ?? []) {
    const name = target.intent.name;
    const ro = ctx.rollouts?.get(name);
    let r: ResolvedIntent = target;
    if (rolloutSide(ro, device.id) === 'from') {
      if (!ro!.from) {
        out.outcomes.push({
          deployment: name,
          deviceId: device.id,
          deploymentId: deploymentIdFor(device.id, name),
          applicationId: target.intent.application.id,
          status: 'not-matched',
          code: 'ROLLOUT_WAITING',
          reason:
            ro!.state.phase === 'rollingBack' || ro!.state.phase === 'rolledBack'
              ? `the rollout of ${name} (a first installation) was rolled back: removed`
              : `waiting for its wave of the rollout of ${name}`,
        });
        continue;
      }
      r = ro!.from;
    }
    const path = `deployments/${name}.yaml`;
    const deploymentId = deploymentIdFor(device.id, name);
    const base = {
      deployment: name,
      deviceId: device.id,
      deploymentId,
      applicationId: r.intent.application.id,
      ...(r.version ? { version: r.version } : {}),
    };
    const current = obs.current.get(name);
    const hold = (code: string, reason: string) => {
      if (current) out.files.set(path, current.bytes);
      out.outcomes.push({ ...base, status: current ? 'held' : 'error', code, reason });
    };
    if (r.error || !r.app) {
      hold(r.error?.code ?? 'ORCH_APP_NOT_FOUND', r.error?.reason ?? 'application not resolved');
      continue;
    }
    const choice = chooseProfile(r.app, facts, r.intent.profile);
    if (!choice.ok) {
      // No capabilities yet: a device that runs nothing is simply not matched; one that already
      // runs the deployment keeps it until it reports again.
      if (choice.hold && current) hold(choice.code, choice.reason);
      else out.outcomes.push({ ...base, status: 'not-matched', code: choice.code, reason: choice.reason });
      continue;
    }
    const params = resolveParameters({
      app: r.app,
      profile: choice.profile,
      intent: r.intent,
      deviceId: device.id,
      ...(current?.parameters ? { previous: current.parameters } : {}),
      ...(ctx.validate ? { validate: ctx.validate } : {}),
    });
    if (!params.ok) {
      hold(params.code, params.reason);
      continue;
    }
    const oci = ociProfile({
      profile: choice.profile,
      ...(r.artifacts ? { artifacts: r.artifacts } : {}),
      ...(ctx.registryHost ? { registryHost: ctx.registryHost } : {}),
    });
    if (!oci.ok) {
      hold(oci.code, `application ${r.intent.application.id} ${r.version}: ${oci.reason}`);
      continue;
    }
    const key = `${name}\0${r.version}\0${r.revision ?? ''}\0${choice.profile.id}\0${JSON.stringify(params.parameters)}`;
    let text = ctx.renderCache.get(key);
    if (text === undefined) {
      const app = r.app;
      const version = r.version!;
      text = renderApplicationDeployment({
        deviceId: DEVICE_PLACEHOLDER,
        deploymentId: ID_PLACEHOLDER,
        name,
        namespace: r.intent.namespace ?? name,
        applicationId: app.id,
        applicationVersion: version,
        profile: oci.profile,
        parameters: params.parameters,
        dependsOn: r.intent.dependsOn,
        ...(r.revision !== undefined ? { revision: r.revision } : {}),
      });
      ctx.renderCache.set(key, text);
    }
    out.files.set(
      path,
      Buffer.from(
        text.replace(ID_PLACEHOLDER, deploymentId).replace(DEVICE_PLACEHOLDER, yamlScalar(device.id)),
        'utf8',
      ),
    );
    out.outcomes.push({ ...base, status: 'matched', profileType: choice.profile.type });
  }
  for (const [name, cur] of obs.current) {
    const why = ctx.brokenIntents.get(name);
    if (why === undefined || out.files.has(`deployments/${name}.yaml`)) continue;
    out.files.set(`deployments/${name}.yaml`, cur.bytes);
    out.outcomes.push({
      deployment: name,
      deviceId: device.id,
      deploymentId: deploymentIdFor(device.id, name),
      status: 'held',
      code: 'ORCH_FLEET_SCHEMA',
      reason: `the deployment document is invalid; kept the previous desired state (${why})`,
      applicationId: '',
    });
  }
  return out;
}

export interface ReconcileInput extends PrepareOptions {
  fleet: Fleet;
  catalog: Catalog;
  /** What each device reported and currently has; a device without an entry has reported nothing. */
  observations: ReadonlyMap<string, DeviceObservation>;
}

/**
 * The whole pure reconcile: every fleet device's complete desired state.
 *
 * @example
 * const desired = reconcile({ fleet, catalog, observations: new Map([['edge-1', { capabilities, current: new Map() }]]) });
 * desired.get('edge-1')!.files; // Map { 'deployments/web.yaml' => <Buffer ...> }
 */
export function reconcile(input: ReconcileInput): Map<string, DeviceDesired> {
  const { fleet, catalog, observations, ...opts } = input;
  const ctx = prepareReconcile(fleet, catalog, opts);
  const out = new Map<string, DeviceDesired>();
  for (const id of [...fleet.devices.keys()].sort()) {
    out.set(
      id,
      desiredForDevice(ctx, fleet.devices.get(id)!, observations.get(id) ?? { current: new Map() }),
    );
  }
  return out;
}
