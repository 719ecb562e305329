import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { arch, cpus, networkInterfaces, totalmem } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { normaliseArchitecture } from '@margo-gitops/spec';

export interface DiscoverOptions {
  deviceId: string;
  /** Folder whose file system is reported as storage (the state folder). */
  storagePath: string;
  /** Runtimes this agent drives: compose -> `Standalone Device`, helm -> `Standalone Cluster`. */
  runtimes: ('compose' | 'helm')[];
  /** Kubernetes node capacity (Helm devices): replaces local cores and memory. */
  nodeCapacity?: { cpuCores: number; memoryBytes: number; architectures: string[] };
  /** The device's OpenTelemetry collector the agent injects into workloads, when configured. */
  otelCollector?: { endpoint: string; protocol: string };
  /** JSON or YAML merged over the discovered `properties` (vendor, serial number, extra peripherals...). */
  overridesFile?: string;
  /** Roots for tests: `/sys` and `/dev`. */
  sysRoot?: string;
  devRoot?: string;
}

const PCI_VENDORS: Record<string, string> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x8086': 'Intel',
  '0x13b5': 'ARM',
};

function readText(p: string): string | undefined {
  try {
    const s = readFileSync(p, 'utf8').trim();
    return s || undefined;
  } catch {
    return undefined;
  }
}

/** GPUs from /dev/nvidia* and /sys/class/drm/card* (PCI vendor id). */
export function discoverGpus(
  sysRoot = '/sys',
  devRoot = '/dev',
): { type: string; manufacturer?: string; model?: string }[] {
  const out: { type: string; manufacturer?: string; model?: string }[] = [];
  const seen = new Set<string>();
  try {
    for (const card of readdirSync(join(sysRoot, 'class/drm'))
      .filter((c) => /^card\d+$/.test(c))
      .sort()) {
      const vendor = readText(join(sysRoot, 'class/drm', card, 'device/vendor'));
      const device = readText(join(sysRoot, 'class/drm', card, 'device/device'));
      const manufacturer = vendor ? (PCI_VENDORS[vendor] ?? vendor) : undefined;
      out.push({
        type: 'gpu',
        ...(manufacturer ? { manufacturer } : {}),
        ...(device ? { model: device } : {}),
      });
      if (manufacturer) seen.add(manufacturer);
    }
  } catch {
    // no DRM subsystem
  }
  try {
    const nv = readdirSync(devRoot).filter((d) => /^nvidia\d+$/.test(d));
    if (nv.length && !seen.has('NVIDIA'))
      for (const _ of nv) out.push({ type: 'gpu', manufacturer: 'NVIDIA' });
  } catch {
    // no /dev
  }
  return out;
}

/** Interface type from its Linux name. */
export function interfaceType(name: string): string {
  if (/^(wl|wlan|ath|ra)/.test(name)) return 'wifi';
  if (/^(ww|wwan|rmnet|usb\d|cdc)/.test(name)) return 'cellular';
  if (/^(v?can|slcan)/.test(name)) return 'canbus';
  if (/^(bt|bnep)/.test(name)) return 'bluetooth';
  if (/^(en|eth|em|eno|ens|enp)/.test(name)) return 'ethernet';
  return 'other';
}

const VIRTUAL_IF = /^(lo|docker\d*|veth|br-|virbr|cni|flannel|cali|tun|tap|kube|vxlan|dummy)/;

export function discoverInterfaces(sysRoot = '/sys'): { type: string; name: string }[] {
  const names = new Set(Object.keys(networkInterfaces()));
  try {
    for (const n of readdirSync(join(sysRoot, 'class/net'))) names.add(n);
  } catch {
    // no sysfs
  }
  return [...names]
    .filter((n) => !VIRTUAL_IF.test(n))
    .sort()
    .map((name) => ({ type: interfaceType(name), name }));
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b))
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}

/** Binary quantity string (`15923Mi`) as Margo's resources expect. */
export function toMi(bytes: number): string {
  return `${Math.floor(bytes / 1024 ** 2)}Mi`;
}

/** Architectures rc.2's DeviceCapabilitiesManifest enumerates for `cpus[].architecture`. */
const REPORTED_ARCHITECTURES = new Set(['amd64', 'arm64', 'arm']);

/** Interface types rc.2 enumerates (others, e.g. unnamed virtual ones, are left out). */
const REPORTED_INTERFACES = new Set(['ethernet', 'wifi', 'cellular', 'bluetooth', 'usb', 'canbus', 'rs232']);

/**
 * An overrides file written for the older shape (`resources: {peripherals, memory...}`) keeps
 * working: its `resources` members are lifted to the flat N properties.
 */
function liftResources(over: Record<string, unknown>): Record<string, unknown> {
  const { resources, ...rest } = over;
  if (!resources || typeof resources !== 'object' || Array.isArray(resources)) return over;
  const { cpu: _cpu, ...flat } = resources as Record<string, unknown>;
  return { ...flat, ...rest };
}

/**
 * DeviceCapabilities discovered from the machine, in the current shape (rc.2/rc.3
 * `DeviceCapabilitiesManifest`): `properties` {id, vendor, modelNumber, serialNumber, cpus
 * [{cores, architecture}], memory, storage, peripherals, interfaces, otelCollector,
 * supportedRuntimes ['oci'], supportedDeploymentTypes (helm and/or compose: what this agent
 * drives)} and `labels` when the overrides file gives some. No root apiVersion/kind: that schema
 * forbids members other than `properties`, `labels` and `x-*-extensions`. An architecture outside
 * rc.2's enum (amd64, arm64, arm) is left out rather than reported invalid. Deterministic for an
 * unchanged machine, so it is reported only when something changed.
 * @example const caps = discoverCapabilities({ deviceId: 'dev-1', storagePath: '/var/lib/margo', runtimes: ['compose'] });
 */
export function discoverCapabilities(o: DiscoverOptions): Record<string, unknown> {
  const sys = o.sysRoot ?? '/sys';
  const dmi = (f: string) => readText(join(sys, 'class/dmi/id', f));
  let storage: number | undefined;
  try {
    const s = statfsSync(o.storagePath);
    storage = s.blocks * s.bsize;
  } catch {
    storage = undefined;
  }
  const archName = normaliseArchitecture(o.nodeCapacity?.architectures[0] ?? arch().replace('x64', 'amd64'));
  const cores = o.nodeCapacity ? Math.floor(o.nodeCapacity.cpuCores) : cpus().length;
  const memory = o.nodeCapacity ? o.nodeCapacity.memoryBytes : totalmem();
  const deploymentTypes = (['helm', 'compose'] as const).filter((t) => o.runtimes.includes(t));
  let properties: Record<string, unknown> = {
    id: o.deviceId,
    vendor: dmi('sys_vendor') ?? 'unknown',
    modelNumber: dmi('product_name') ?? 'unknown',
    serialNumber: dmi('product_serial') ?? dmi('product_uuid') ?? 'unknown',
    cpus: [{ cores, ...(REPORTED_ARCHITECTURES.has(archName) ? { architecture: archName } : {}) }],
    memory: toMi(memory),
    ...(storage ? { storage: toMi(storage) } : {}),
    peripherals: discoverGpus(sys, o.devRoot ?? '/dev'),
    interfaces: discoverInterfaces(sys)
      .filter((i) => REPORTED_INTERFACES.has(i.type))
      .map((i) => ({ type: i.type, name: i.name })),
    // True when the device owner configured the collector the agent hands to workloads
    // (otelCollector setting); an overrides file may still say otherwise.
    otelCollector: Boolean(o.otelCollector),
    supportedRuntimes: ['oci'],
    supportedDeploymentTypes: deploymentTypes,
  };
  let labels: unknown;
  if (o.overridesFile && existsSync(o.overridesFile)) {
    const over = parseYaml(readFileSync(o.overridesFile, 'utf8')) as Record<string, unknown> | null;
    if (over && typeof over === 'object') {
      const { labels: l, ...rest } = (over.properties as Record<string, unknown>) ?? over;
      labels = over.labels ?? l;
      properties = deepMerge(properties, liftResources(rest));
    }
  }
  return {
    properties,
    ...(labels && typeof labels === 'object' && !Array.isArray(labels) ? { labels } : {}),
    // rc.2 has a boolean only; where the workloads reach the collector rides in our extension.
    ...(o.otelCollector
      ? {
          'x-margo-gitops-extensions': {
            otelCollector: { endpoint: o.otelCollector.endpoint, protocol: o.otelCollector.protocol },
          },
        }
      : {}),
  };
}
