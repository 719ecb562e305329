import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from './client-config.js';
import { fromYaml, type DeploymentDoc, type DeviceDoc } from './fleet-docs.js';
import { checkout } from './git-remote.js';

/** Reads every `*.yaml` document in one folder of the fleet repository (main). */
export async function readFleetFolder<T>(conn: Connection, folder: 'devices' | 'deployments'): Promise<T[]> {
  const co = await checkout(conn, 'fleet', { depth: 1 });
  try {
    return await readDocs<T>(join(co.dir, folder), folder);
  } finally {
    await co.cleanup();
  }
}

export async function readDocs<T>(dir: string, label: string): Promise<T[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const n of names) out.push(fromYaml<T>(await readFile(join(dir, n), 'utf8'), `${label}/${n}`));
  return out;
}

export const readDevices = (conn: Connection) => readFleetFolder<DeviceDoc>(conn, 'devices');
export const readDeployments = (conn: Connection) => readFleetFolder<DeploymentDoc>(conn, 'deployments');

/** True when the device's labels satisfy `matchLabels` (every key equal). */
export function matchesLabels(labels: Record<string, string>, match: Record<string, string> = {}): boolean {
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}
