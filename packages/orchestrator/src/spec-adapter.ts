/**
 * The spec functions the orchestrator uses, looked up on the spec package at load time, with small
 * built-in fallbacks used only while spec does not export them yet (so this package builds and
 * runs in either state). Prefer spec's: it knows every era's spelling.
 */
import * as spec from '@margo-gitops/spec';
import type {
  ApplicationDescription,
  Component,
  DeploymentProfile,
  DeploymentState,
  DeviceCapabilities,
  DeviceRole,
  Finding,
  Parameter,
  ParamValue,
  ProfileType,
} from '@margo-gitops/spec';
import type { ParameterValidator } from './core/resolve-parameters.js';

const exported = spec as unknown as Record<string, unknown>;
function specFn<T>(name: string): T | undefined {
  const f = exported[name];
  return typeof f === 'function' ? (f as T) : undefined;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

const UNIT: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** `4Gi`, `59 Gi`, `512Mi` -> bytes (spec's parseQuantity when exported). */
export function parseQuantity(q: string | number): number | undefined {
  const f = specFn<(q: string | number) => number | undefined>('parseQuantity');
  if (f) return f(q);
  if (typeof q === 'number') return q;
  const m = /^\s*([0-9.]+)\s*([KMGTPE]i?)?B?\s*$/.exec(q);
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? (UNIT[m[2]] ?? NaN) : 1);
}

function profileType(t: unknown): ProfileType | undefined {
  const s = str(t)?.toLowerCase();
  if (s === 'helm.v3' || s === 'helm') return 'helm.v3';
  if (s === 'compose' || s === 'docker-compose') return 'compose';
  return undefined;
}

function timeoutSeconds(t: unknown): number | undefined {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(str(t) ?? '');
  if (!m || (!m[1] && !m[2])) return undefined;
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

function fallbackApplication(data: unknown): ApplicationDescription {
  const d = rec(data);
  const meta = rec(d.metadata);
  const id = str(d.id) ?? str(meta.id);
  if (!id) throw new Error('margo.yaml has no application id');
  const profiles: DeploymentProfile[] = arr(d.deploymentProfiles).map((p0, i) => {
    const p = rec(p0);
    const type = profileType(p.type);
    if (!type) throw new Error(`deploymentProfiles[${i}].type ${String(p.type)} is not helm.v3 or compose`);
    const components: Component[] = arr(p.components).map((c0) => {
      const c = rec(c0);
      const pr = rec(c.properties);
      const wait = str(pr.wait) !== 'false';
      const to = timeoutSeconds(pr.timeout);
      const comp: Component = { name: str(c.name) ?? '', raw: c };
      if (type === 'helm.v3')
        comp.helm = {
          repository: str(pr.repository) ?? '',
          revision: str(pr.revision) ?? '',
          wait,
          ...(to !== undefined ? { timeoutSeconds: to } : {}),
        };
      else {
        comp.compose = { wait, ...(to !== undefined ? { timeoutSeconds: to } : {}) };
        for (const k of ['packageLocation', 'keyLocation', 'repository', 'revision'] as const)
          if (str(pr[k])) comp.compose[k] = str(pr[k])!;
      }
      return comp;
    });
    const rr = rec(p.requiredResources ?? rec(p.deviceConstraints).capacityRequirements);
    const cpu = rec(rr.cpu);
    const requirements: DeploymentProfile['requirements'] = {};
    if (cpu.cores !== undefined) requirements.cpuCores = Number(cpu.cores);
    if (Array.isArray(cpu.architectures))
      requirements.architectures = cpu.architectures.map((a) => (a === 'x86_64' ? 'amd64' : a)) as never;
    if (rr.memory !== undefined) requirements.memoryBytes = parseQuantity(str(rr.memory)!)!;
    if (rr.storage !== undefined) requirements.storageBytes = parseQuantity(str(rr.storage)!)!;
    if (Array.isArray(rr.peripherals))
      requirements.peripherals = rr.peripherals.map((x) => ({
        type: str(rec(x).type) ?? '',
        ...(str(rec(x).manufacturer) ? { manufacturer: str(rec(x).manufacturer)! } : {}),
        ...(str(rec(x).model) ? { model: str(rec(x).model)! } : {}),
      }));
    if (Array.isArray(rr.interfaces))
      requirements.interfaces = rr.interfaces.map((x) => ({ type: str(rec(x).type) ?? '' }));
    return {
      id: str(p.id) ?? `${type}-${i}`,
      type,
      rawType: str(p.type)!,
      components,
      ...(Object.keys(requirements).length ? { requirements } : {}),
    };
  });
  const parameters: Record<string, Parameter> = {};
  for (const [name, p0] of Object.entries(rec(d.parameters))) {
    const p = rec(p0);
    const targets = arr(p.targets).map((t0) => {
      const t = rec(t0);
      const raw = str(t.pointer) ?? '';
      return {
        pointer: raw.replace(/^ENV\./, ''),
        rawPointer: raw,
        components: arr(t.components).map((c) => str(c) ?? ''),
      };
    });
    parameters[name] = { name, targets, ...(p.value !== undefined ? { value: p.value as ParamValue } : {}) };
  }
  const cfg = rec(d.configuration);
  const app: ApplicationDescription = {
    kind: 'ApplicationDescription',
    idPlacement: str(d.id) ? 'top-level' : 'metadata',
    id,
    name: str(meta.name) ?? str(d.name) ?? id,
    version: str(meta.version) ?? str(d.version) ?? '',
    catalog: rec(meta.catalog ?? d.catalog),
    profiles,
    parameters,
    apiVersion: str(d.apiVersion) ?? '',
    original: data,
  };
  if (d.configuration) {
    app.configuration = {
      sections: arr(cfg.sections).map((s0) => ({
        name: str(rec(s0).name) ?? '',
        settings: arr(rec(s0).settings).map((x0) => {
          const x = rec(x0);
          return {
            parameter: str(x.parameter) ?? '',
            name: str(x.name) ?? '',
            immutable: x.immutable === true || x.immutable === 'true',
            schema: str(x.schema) ?? '',
          };
        }),
      })),
      schema: arr(cfg.schema) as never,
    };
  }
  return app;
}

/** Parsed margo.yaml data -> normalised ApplicationDescription (throws when unusable). */
export function normaliseApplication(data: unknown): ApplicationDescription {
  const f = specFn<(d: unknown) => ApplicationDescription>('normaliseApplicationDescription');
  return f ? f(data) : fallbackApplication(data);
}

const ROLE_MAP: Record<string, DeviceRole> = {
  'standalone cluster': 'standalone-cluster',
  'cluster leader': 'cluster-leader',
  'standalone device': 'standalone-device',
  'cluster worker': 'cluster-worker',
  gateway: 'gateway',
};

function fallbackCapabilities(data: unknown): DeviceCapabilities {
  const d = rec(data);
  if (d.kind === 'DeviceCapabilities' && Array.isArray(d.roles) && !d.properties)
    return d as unknown as DeviceCapabilities;
  const p = rec(d.properties);
  const res = rec(p.resources);
  const cpus = [
    ...(Array.isArray(res.cpu) ? res.cpu : res.cpu ? [res.cpu] : []),
    ...arr(res.cpus),
    ...arr(p.cpus),
  ].map(rec);
  const cores = cpus.reduce((n, c) => n + Number(c.cores ?? 0), 0);
  const a = str(cpus[0]?.architecture ?? cpus[0]?.cpuArchitecture);
  const bytes = (v: unknown) =>
    typeof v === 'number' ? v * 1e9 : v === undefined ? undefined : parseQuantity(String(v));
  const mem = bytes(res.memory ?? p.memory);
  const sto = bytes(res.storage ?? p.storage);
  return {
    kind: 'DeviceCapabilities',
    apiVersion: str(d.apiVersion) ?? '',
    id: str(p.id) ?? '',
    roles: arr(p.roles ?? d.roles).flatMap((r) => {
      const x = ROLE_MAP[(str(r) ?? '').toLowerCase().replace(/[-_\s]+/g, ' ')];
      return x ? [x] : [];
    }),
    ...(cpus.length
      ? { cpu: { cores, ...(a ? { architecture: (a === 'x86_64' ? 'amd64' : a) as never } : {}) } }
      : {}),
    ...(mem !== undefined ? { memoryBytes: mem } : {}),
    ...(sto !== undefined ? { storageBytes: sto } : {}),
    peripherals: arr(res.peripherals ?? p.peripherals).map((x) => ({
      type: (str(rec(x).type) ?? '').toLowerCase(),
      ...(str(rec(x).manufacturer) ? { manufacturer: str(rec(x).manufacturer)! } : {}),
      ...(str(rec(x).model) ? { model: str(rec(x).model)! } : {}),
    })),
    interfaces: arr(res.interfaces ?? p.interfaces).map((x) => ({
      type: (str(rec(x).type) ?? '').toLowerCase(),
    })),
    ...(d.labels ? { labels: rec(d.labels) } : {}),
    original: data,
  };
}

/** Parsed capabilities.json -> normalised DeviceCapabilities. */
export function normaliseCapabilities(data: unknown): DeviceCapabilities {
  const f = specFn<(d: unknown) => DeviceCapabilities>('normaliseDeviceCapabilities');
  return f ? f(data) : fallbackCapabilities(data);
}

export interface StatusSummary {
  deploymentId: string;
  state: DeploymentState;
  error?: { code: string; message: string };
  components: { name: string; state: DeploymentState; error?: { code: string; message: string } }[];
}

const STATES = new Set(['pending', 'installing', 'installed', 'failed', 'removing', 'removed']);
function state(v: unknown): DeploymentState {
  const s = (str(v) ?? '').toLowerCase();
  if (s === 'success') return 'installed';
  if (s === 'failure') return 'failed';
  return (STATES.has(s) ? s : 'pending') as DeploymentState;
}
function err(v: unknown): { code: string; message: string } | undefined {
  const e = rec(v);
  return e.code !== undefined || e.message !== undefined
    ? { code: str(e.code) ?? '', message: str(e.message) ?? '' }
    : undefined;
}

/** Parsed deployments/<id>.json from a status branch -> the fields the roll-up needs. */
export function summariseStatus(data: unknown): StatusSummary {
  const d = rec(data);
  const st = rec(d.status);
  const s: StatusSummary = {
    deploymentId: str(d.deploymentId) ?? '',
    state: state(st.state ?? d.state),
    components: arr(d.components).map((c0) => {
      const c = rec(c0);
      const e = err(c.error);
      return { name: str(c.name) ?? '', state: state(c.state), ...(e ? { error: e } : {}) };
    }),
  };
  const e = err(st.error ?? d.error);
  if (e) s.error = e;
  return s;
}

/** spec's validateParameterValues as a ParameterValidator, or undefined when spec lacks it. */
export function specParameterValidator(): ParameterValidator | undefined {
  const f =
    specFn<
      (
        app: ApplicationDescription,
        values: Record<string, ParamValue>,
        opts?: { previous?: Record<string, ParamValue> },
      ) => unknown
    >('validateParameterValues');
  if (!f) return undefined;
  return (app, values, opts) => {
    const r = f(app, values, opts);
    if (Array.isArray(r)) return r as Finding[];
    const findings = (r as { findings?: Finding[] } | undefined)?.findings;
    return Array.isArray(findings) ? findings : [];
  };
}
