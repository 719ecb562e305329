import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentIntent, Finding, Fleet, FleetDevice, MaintenanceWindow } from '@margo-gitops/spec';
import type { DeploymentOutcome } from '../core/desired-state.js';
import type { Baseline } from '../rollout/controller.js';

/** What the orchestrator remembers about one device between passes (and restarts). */
export interface DeviceState {
  /** Fingerprint of every input of the last pass (fleet, catalog, status and main heads). */
  inputKey?: string;
  mainOid: string | null;
  statusOid: string | null;
  /**
   * The commit on `main` the orchestrator last wrote or proved it signed: the only source of what a
   * device currently has (never the unverified head of `main`).
   */
  signedOid?: string;
  /** Decimal string: manifest versions are 64-bit and must stay exact. */
  manifestVersion?: string;
  manifestExpiresAt?: number;
  /** The signer epoch (signing certificate, revoked signers) the current manifest was signed with. */
  signedWith?: string;
  /** Highest sequence number of a signed status report accepted from the device (decimal). */
  statusSeq?: string;
  /** The last time `main` held a commit the orchestrator did not sign, and what it was. */
  foreignMain?: { commit: string | null; code: string; reason: string; at: number };
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
    for (const d of Object.values(data.devices)) {
      // Before 0.2 the version was a JS number, partly taken from unverified bytes on `main`:
      // keep it only as a floor for the next version; what is on `main` is then audited again.
      if (typeof d.manifestVersion === 'number')
        d.manifestVersion = Number.isSafeInteger(d.manifestVersion) ? String(d.manifestVersion) : undefined;
      if (d.manifestVersion === undefined) delete d.manifestVersion;
    }
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

interface FleetSnapshotFile {
  version: 1;
  oid: string;
  devices: FleetDevice[];
  deployments: DeploymentIntent[];
  /** Absent in snapshots written before windows were acted on: such a snapshot is parsed again. */
  windows?: MaintenanceWindow[];
  findings: Finding[];
}

const FLEET_FILE = 'orchestrator-fleet.json';

/** The parsed fleet saved at `oid`, so a restart skips re-parsing an unchanged fleet. */
export async function loadFleetSnapshot(dataDir: string, oid: string): Promise<Fleet | undefined> {
  try {
    const d = JSON.parse(await fs.readFile(join(dataDir, 'state', FLEET_FILE), 'utf8')) as FleetSnapshotFile;
    if (d.version !== 1 || d.oid !== oid || !Array.isArray(d.windows)) return undefined;
    return {
      devices: new Map(d.devices.map((x) => [x.id, x])),
      deployments: new Map(d.deployments.map((x) => [x.name, x])),
      windows: new Map(d.windows.map((x) => [x.name, x])),
      findings: d.findings,
    };
  } catch {
    return undefined;
  }
}

export async function saveFleetSnapshot(dataDir: string, oid: string, fleet: Fleet): Promise<void> {
  const dir = join(dataDir, 'state');
  await fs.mkdir(dir, { recursive: true });
  const body: FleetSnapshotFile = {
    version: 1,
    oid,
    devices: [...fleet.devices.values()],
    deployments: [...fleet.deployments.values()],
    windows: [...(fleet.windows?.values() ?? [])],
    findings: fleet.findings,
  };
  const tmp = join(dir, `${FLEET_FILE}.tmp-${process.pid}`);
  await fs.writeFile(tmp, JSON.stringify(body));
  await fs.rename(tmp, join(dir, FLEET_FILE));
}

/** The rollout memory of the orchestrator: the last fleet commit it reconciled, and each deployment's baseline. */
export interface RolloutMemory {
  /** False when no memory was saved yet (a new data folder, or one from before rollouts). */
  found?: boolean;
  fleetCommit?: string;
  baseline: Map<string, Baseline>;
}

const ROLLOUT_FILE = 'orchestrator-rollouts.json';

/** Loads `<dataDir>/state/orchestrator-rollouts.json`; absent or unreadable: nothing remembered. */
export async function loadRolloutMemory(dataDir: string): Promise<RolloutMemory> {
  try {
    const d = JSON.parse(await fs.readFile(join(dataDir, 'state', ROLLOUT_FILE), 'utf8')) as {
      version: number;
      fleetCommit?: string;
      baseline: Record<string, Baseline>;
    };
    if (d.version !== 1) return { baseline: new Map() };
    return {
      found: true,
      ...(typeof d.fleetCommit === 'string' ? { fleetCommit: d.fleetCommit } : {}),
      baseline: new Map(Object.entries(d.baseline ?? {})),
    };
  } catch {
    return { baseline: new Map() };
  }
}

/** Writes the rollout memory atomically. */
export async function saveRolloutMemory(dataDir: string, m: RolloutMemory): Promise<void> {
  const dir = join(dataDir, 'state');
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `${ROLLOUT_FILE}.tmp-${process.pid}`);
  await fs.writeFile(
    tmp,
    JSON.stringify({ version: 1, fleetCommit: m.fleetCommit, baseline: Object.fromEntries(m.baseline) }),
  );
  await fs.rename(tmp, join(dir, ROLLOUT_FILE));
}
