import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentOutcome } from '../core/desired-state.js';

/** What the orchestrator remembers about one device between passes (and restarts). */
export interface DeviceState {
  /** Fingerprint of every input of the last pass (fleet, catalog, status and main heads). */
  inputKey?: string;
  mainOid: string | null;
  statusOid: string | null;
  manifestVersion?: number;
  manifestExpiresAt?: number;
  outcomes: DeploymentOutcome[];
  /** Deployment name -> ms when its desired file last changed. */
  changedAt: Record<string, number>;
  error?: { code: string; message: string; at: number; attempts: number };
}

const FILE = 'orchestrator-devices.json';

/** Loads `<dataDir>/state/orchestrator-devices.json`; an absent or unreadable file is an empty state. */
export async function loadDeviceStates(dataDir: string): Promise<Map<string, DeviceState>> {
  try {
    const data = JSON.parse(await fs.readFile(join(dataDir, 'state', FILE), 'utf8')) as {
      version: number;
      devices: Record<string, DeviceState>;
    };
    if (data.version !== 1) return new Map();
    return new Map(Object.entries(data.devices));
  } catch {
    return new Map();
  }
}

/** Writes the state atomically (temporary file + rename). */
export async function saveDeviceStates(
  dataDir: string,
  states: ReadonlyMap<string, DeviceState>,
): Promise<void> {
  const dir = join(dataDir, 'state');
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.tmp-${process.pid}`);
  await fs.writeFile(tmp, JSON.stringify({ version: 1, devices: Object.fromEntries(states) }));
  await fs.rename(tmp, join(dir, FILE));
}
