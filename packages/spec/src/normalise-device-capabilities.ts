import type { CpuArchitecture, DeviceCapabilities, DeviceRole } from './model.js';
import { normaliseProfileType } from './normalise-profile.js';
import { normaliseArchitecture, parseQuantity } from './quantity.js';
import { arr, isRecord, num, rec, str } from './read.js';

const ROLES: Record<string, DeviceRole> = {
  'standalone cluster': 'standalone-cluster',
  'cluster leader': 'cluster-leader',
  'cluster lead': 'cluster-leader',
  'standalone device': 'standalone-device',
  'cluster worker': 'cluster-worker',
  gateway: 'gateway',
  'micro device': 'other',
};

/**
 * Maps a role as written (`Standalone Cluster`, `standalone cluster`, `cluster lead`,
 * `standalone-cluster`) to the normalised role; undefined when unknown.
 */
export function normaliseRole(role: string): DeviceRole | undefined {
  return ROLES[
    role
      .trim()
      .toLowerCase()
      .replace(/[-_\s]+/g, ' ')
  ];
}

/** `helm.v3`/`helm` -> `helm`, `docker-compose`/`compose` -> `compose`; others as written. */
function deploymentType(t: string): string {
  const type = normaliseProfileType(t);
  return type === 'helm.v3' ? 'helm' : (type ?? t);
}

/** The roles implied by N `supportedDeploymentTypes` (the roles choose-profile reads). */
function rolesFor(types: string[]): DeviceRole[] {
  return [
    ...(types.includes('helm') ? (['standalone-cluster'] as const) : []),
    ...(types.includes('compose') ? (['standalone-device'] as const) : []),
  ];
}

/** GB-style integers in G24 (`memory: 64`) count gigabytes; strings carry their unit. */
function bytes(v: unknown): number | undefined {
  if (typeof v === 'number') return v * 1e9;
  const s = str(v);
  return s === undefined ? undefined : parseQuantity(s);
}

/**
 * Normalises DeviceCapabilities of any era: G24 (`cpus` array, peripherals beside resources),
 * DM (`cpu` object), gateway drafts (`cpu` array, no resources), rc.3 (`properties.cpus`, labels).
 */
export function normaliseDeviceCapabilities(data: unknown): DeviceCapabilities {
  const d = rec(data);
  const p = rec(d.properties);
  const res = rec(p.resources);
  const cpuList = [
    ...(Array.isArray(res.cpu) ? res.cpu : isRecord(res.cpu) ? [res.cpu] : []),
    ...arr(res.cpus),
    ...arr(p.cpus),
  ].map(rec);
  let cores = 0;
  let architecture: CpuArchitecture | undefined;
  let frequencyGHz: number | undefined;
  for (const c of cpuList) {
    cores += num(c.cores) ?? 0;
    const a = str(c.architecture) ?? str(c.cpuArchitecture) ?? str(arr(c.architectures)[0]);
    if (a !== undefined && architecture === undefined) architecture = normaliseArchitecture(a);
    const f = typeof c.frequency === 'string' ? parseFloat(c.frequency) : num(c.frequency);
    if (f !== undefined && !Number.isNaN(f) && frequencyGHz === undefined) frequencyGHz = f;
  }
  const memory = bytes(res.memory ?? p.memory);
  const storage = bytes(res.storage ?? p.storage);
  const peripherals = arr(res.peripherals ?? p.peripherals).map((x) => {
    const r = rec(x);
    const manufacturer = str(r.manufacturer) ?? str(rec(r.properties).manufacturer);
    const model = str(r.model) ?? str(r.modelNumber);
    return {
      type: (str(r.type) ?? '').toLowerCase(),
      ...(str(r.name) !== undefined ? { name: str(r.name)! } : {}),
      ...(manufacturer !== undefined ? { manufacturer } : {}),
      ...(model !== undefined ? { model } : {}),
    };
  });
  const interfaces = arr(res.interfaces ?? p.interfaces).map((x) => {
    const r = rec(x);
    const type = (str(r.type) ?? '').toLowerCase().replace(/^wi-fi$/, 'wifi');
    return { type, ...(str(r.name) !== undefined ? { name: str(r.name)! } : {}) };
  });
  const deploymentTypes = Array.isArray(p.supportedDeploymentTypes)
    ? [...new Set(p.supportedDeploymentTypes.map((t) => deploymentType(String(t))))]
    : undefined;
  const written = [...new Set(arr(p.roles).map((r) => normaliseRole(String(r)) ?? 'other'))];
  // N documents report no roles: the deployment types say what the device can run.
  const roles = written.length ? written : rolesFor(deploymentTypes ?? []);
  const caps: DeviceCapabilities = {
    kind: 'DeviceCapabilities',
    apiVersion: str(d.apiVersion) ?? '',
    id: str(p.id) ?? '',
    roles,
    peripherals,
    interfaces,
    original: data,
  };
  for (const key of ['vendor', 'modelNumber', 'serialNumber'] as const) {
    const v = str(p[key]);
    if (v !== undefined) caps[key] = v;
  }
  if (cpuList.length)
    caps.cpu = {
      cores,
      ...(architecture ? { architecture } : {}),
      ...(frequencyGHz !== undefined ? { frequencyGHz } : {}),
    };
  if (memory !== undefined) caps.memoryBytes = memory;
  if (storage !== undefined) caps.storageBytes = storage;
  if (isRecord(d.labels)) caps.labels = d.labels;
  if (typeof p.otelCollector === 'boolean') caps.otelCollector = p.otelCollector;
  if (Array.isArray(p.supportedRuntimes)) caps.supportedRuntimes = p.supportedRuntimes.map((r) => String(r));
  if (deploymentTypes) caps.supportedDeploymentTypes = deploymentTypes;
  return caps;
}
