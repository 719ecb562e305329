/** Memory/storage quantities and CPU architectures as Margo documents spell them. */
import type { CpuArchitecture } from './model.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  p: 1e15,
  pb: 1e15,
  e: 1e18,
  eb: 1e18,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
  pi: 1024 ** 5,
  pib: 1024 ** 5,
  ei: 1024 ** 6,
  eib: 1024 ** 6,
};

/**
 * Parses a memory/storage quantity into bytes: Kubernetes-style binary units (`4Gi`, `2048Mi`),
 * the device-side spelling with a space (`"59 Gi"`), decimal units (`64.0 GB`, `500M`) and plain
 * numbers (bytes). Units are case-insensitive. Returns undefined for anything else.
 *
 * @example
 * parseQuantity('4Gi'); // 4294967296
 * parseQuantity('59 Gi'); // 63350767616
 * parseQuantity('2048Mi'); // 2147483648
 */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) && q >= 0 ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]{0,3})\s*$/.exec(q);
  if (!m) return undefined;
  const factor = UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

const ARCH: Record<string, CpuArchitecture> = {
  amd64: 'amd64',
  x86_64: 'amd64',
  'x86-64': 'amd64',
  x64: 'amd64',
  'intel x64': 'amd64',
  'amd x64': 'amd64',
  'intel x86_64': 'amd64',
  arm64: 'arm64',
  aarch64: 'arm64',
  armv8: 'arm64',
  'arm64-v8a': 'arm64',
  arm: 'arm',
  armhf: 'arm',
  armel: 'arm',
  armv7: 'arm',
  armv7l: 'arm',
  armv6: 'arm',
  armv6l: 'arm',
  riscv64: 'riscv64',
  other: 'other',
};

/**
 * Normalises a CPU architecture name: `x86_64`, `x64`, `Intel x64` -> `amd64`; `aarch64` -> `arm64`;
 * `armv7l` -> `arm`; unknown names -> `other`.
 *
 * @example
 * normaliseArchitecture('x86_64'); // 'amd64'
 */
export function normaliseArchitecture(name: string): CpuArchitecture {
  return ARCH[name.trim().toLowerCase()] ?? 'other';
}

/** True when `name` is an architecture Margo enumerates (or an alias of one), not just `other`. */
export function isKnownArchitecture(name: string): boolean {
  return ARCH[name.trim().toLowerCase()] !== undefined;
}

/**
 * Parses a Margo timeout `##m##s` (e.g. `8m30s`) into seconds; undefined when malformed.
 *
 * @example
 * parseTimeout('8m30s'); // 510
 */
export function parseTimeout(t: string): number | undefined {
  const m = /^(\d+)m(\d+)s$/.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** Formats seconds as a Margo timeout (`510` -> `8m30s`). */
export function formatTimeout(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
