import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentFingerprint, DeploymentFingerprint } from '../plan/fingerprint.js';
import type { ActionKind } from '../plan/plan-actions.js';
import { removeFileDurable, writeFileAtomic } from './atomic-write.js';

export type DriverName = 'compose' | 'helm';

/** What a driver needs later to observe, upgrade or remove a component (project name, folder, release...). */
export type DriverRecord = Record<string, unknown>;

export interface AppliedComponent {
  fingerprint: ComponentFingerprint;
  driver: DriverName;
  record: DriverRecord;
}

/** One deployment as it is known to be applied on the device. Written only after an action succeeds. */
export interface AppliedDeployment {
  id: string;
  name: string;
  profileType: DeploymentFingerprint['profileType'];
  namespace: string;
  dependsOn: string[];
  annotations: Record<string, string>;
  /** Components in the desired order; a partially applied upgrade keeps old entries for the rest. */
  components: AppliedComponent[];
  appliedAt: string;
  commit: string;
}

/** Write-ahead record: written before an action starts, removed when it finished (either way). */
export interface Intent {
  deploymentId: string;
  name: string;
  action: ActionKind;
  component?: string;
  commit: string;
  startedAt: string;
}

export interface AgentMarker {
  /** Desired commit whose plan completed (every action done or failed for good). */
  lastReconciledCommit?: string;
}

export function appliedFingerprint(a: AppliedDeployment): DeploymentFingerprint {
  return {
    id: a.id,
    name: a.name,
    profileType: a.profileType,
    namespace: a.namespace,
    dependsOn: a.dependsOn,
    components: a.components.map((c) => c.fingerprint),
  };
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The agent's durable memory in `stateDir`: applied deployments, intents, marker. Every write is
 * atomic (tmp + fsync + rename), so `kill -9` leaves a consistent view.
 */
export class StateStore {
  readonly appliedDir: string;
  readonly intentDir: string;
  constructor(readonly stateDir: string) {
    this.appliedDir = join(stateDir, 'applied');
    this.intentDir = join(stateDir, 'intents');
    mkdirSync(this.appliedDir, { recursive: true });
    mkdirSync(this.intentDir, { recursive: true });
  }

  private list<T>(dir: string): T[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .sort()
      .map((f) => readJson<T>(join(dir, f)))
      .filter((x): x is T => x !== undefined);
  }

  listApplied(): AppliedDeployment[] {
    return this.list<AppliedDeployment>(this.appliedDir);
  }
  getApplied(id: string): AppliedDeployment | undefined {
    return readJson<AppliedDeployment>(join(this.appliedDir, `${id}.json`));
  }
  putApplied(a: AppliedDeployment): void {
    writeFileAtomic(join(this.appliedDir, `${a.id}.json`), JSON.stringify(a, null, 2));
  }
  deleteApplied(id: string): void {
    removeFileDurable(join(this.appliedDir, `${id}.json`));
  }

  listIntents(): Intent[] {
    return this.list<Intent>(this.intentDir);
  }
  putIntent(i: Intent): void {
    writeFileAtomic(join(this.intentDir, `${i.deploymentId}.json`), JSON.stringify(i));
  }
  clearIntent(deploymentId: string): void {
    removeFileDurable(join(this.intentDir, `${deploymentId}.json`));
  }

  getMarker(): AgentMarker {
    return readJson<AgentMarker>(join(this.stateDir, 'agent-state.json')) ?? {};
  }
  putMarker(m: AgentMarker): void {
    writeFileAtomic(join(this.stateDir, 'agent-state.json'), JSON.stringify(m));
  }
}
