import type { DeviceCapabilities, ResourceRequirements } from '@margo-gitops/spec';

const UNITS: [string, number][] = [
  ['Ti', 1024 ** 4],
  ['Gi', 1024 ** 3],
  ['Mi', 1024 ** 2],
  ['Ki', 1024],
];

/** Bytes as the largest binary unit that keeps it readable (`4Gi`, `1.5Gi`, `512Mi`). */
export function formatBytes(n: number): string {
  for (const [u, size] of UNITS) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : Number(v.toFixed(2))}${u}`;
    }
  }
  return `${n}B`;
}

/**
 * Every way a device's reported capabilities fall short of a profile's requirements, as
 * sentences a person can act on; empty when the device fits. A requirement the device does not
 * report at all (e.g. no memory figure) counts as not met.
 *
 * @example
 * unmetRequirements({ memoryBytes: 4 * 2 ** 30 }, caps); // ['needs 4Gi memory, device reports 2Gi']
 */
export function unmetRequirements(req: ResourceRequirements | undefined, caps: DeviceCapabilities): string[] {
  if (!req) return [];
  const out: string[] = [];
  if (req.cpuCores !== undefined) {
    const have = caps.cpu?.cores;
    if (have === undefined) out.push(`needs ${req.cpuCores} CPU cores, device reports none`);
    else if (have < req.cpuCores) out.push(`needs ${req.cpuCores} CPU cores, device reports ${have}`);
  }
  if (req.architectures?.length) {
    const arch = caps.cpu?.architecture;
    if (!arch) out.push(`needs CPU architecture ${req.architectures.join(' or ')}, device reports none`);
    else if (!req.architectures.includes(arch))
      out.push(`needs CPU architecture ${req.architectures.join(' or ')}, device reports ${arch}`);
  }
  if (req.memoryBytes !== undefined) {
    const have = caps.memoryBytes;
    if (have === undefined) out.push(`needs ${formatBytes(req.memoryBytes)} memory, device reports none`);
    else if (have < req.memoryBytes)
      out.push(`needs ${formatBytes(req.memoryBytes)} memory, device reports ${formatBytes(have)}`);
  }
  if (req.storageBytes !== undefined) {
    const have = caps.storageBytes;
    if (have === undefined) out.push(`needs ${formatBytes(req.storageBytes)} storage, device reports none`);
    else if (have < req.storageBytes)
      out.push(`needs ${formatBytes(req.storageBytes)} storage, device reports ${formatBytes(have)}`);
  }
  const lc = (s: string | undefined) => (s ?? '').toLowerCase();
  for (const p of req.peripherals ?? []) {
    const found = caps.peripherals.some(
      (d) =>
        lc(d.type) === lc(p.type) &&
        (!p.manufacturer || lc(d.manufacturer) === lc(p.manufacturer)) &&
        (!p.model || lc(d.model) === lc(p.model)),
    );
    if (!found) {
      const what = [p.manufacturer, p.model].filter(Boolean).join(' ');
      out.push(
        `needs peripheral ${p.type}${what ? ` (${what})` : ''}, device reports ${caps.peripherals.map((d) => d.type).join(', ') || 'none'}`,
      );
    }
  }
  for (const i of req.interfaces ?? []) {
    if (!caps.interfaces.some((d) => lc(d.type) === lc(i.type))) {
      out.push(
        `needs interface ${i.type}, device reports ${caps.interfaces.map((d) => d.type).join(', ') || 'none'}`,
      );
    }
  }
  return out;
}
