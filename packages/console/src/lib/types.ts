/** Shapes of the console's JSON API (`/ui/api/*`, docs/console.md), as the browser reads them. */

export type Role = 'admin' | 'operator' | 'viewer';

export interface Session {
  name: string;
  role: Role | string;
}

export interface Problem {
  kind: 'device' | 'deployment' | 'finding';
  id: string;
  code: string;
  message: string;
}

export interface Overview {
  generatedAt: string;
  fleetCommit: string | null;
  catalogCommit: string | null;
  lastReconcileAt?: string | null;
  devices: {
    total: number;
    reporting: number;
    stale: number;
    never: number;
    held: number;
    withProblems: number;
  };
  deployments: {
    name: string;
    app: string;
    version: string;
    targets: number;
    counts: Record<string, number>;
    /** `wave` counts from 1. */
    rollout?: { phase: string; wave: number; waves: number; waveName?: string };
  }[];
  problems: Problem[];
}

export const DEVICE_FILTERS = ['all', 'reporting', 'stale', 'never', 'held', 'problems'] as const;
export type DeviceFilter = (typeof DEVICE_FILTERS)[number];

export interface DeviceListItem {
  deviceId: string;
  reporting: boolean;
  lastSeenAt?: string | null;
  lastReportAt?: string | null;
  deployments: number;
  upToDate?: boolean | null;
  hold?: Hold;
  problem?: { code: string; message: string };
}

export interface Hold {
  reason: string;
  since?: string;
}

export interface Waiting {
  reason: string;
  until?: string | number;
  hold?: string;
}

export interface CodedProblem {
  code: string;
  message: string;
  hint?: string;
  path?: string;
}

export interface DeviceList {
  total: number;
  offset: number;
  items: DeviceListItem[];
}

export interface HistoryCommit {
  commit: string;
  at: string;
  subject: string;
  transport?: string;
}

export interface DeviceDetail {
  deviceId: string;
  labels: Record<string, string>;
  capabilities: unknown;
  reporting: boolean;
  lastSeenAt?: string | null;
  lastReportAt?: string | null;
  observedCommit?: string | null;
  upToDate?: boolean | null;
  hold?: Hold;
  repoError?: CodedProblem;
  statusProblems?: CodedProblem[];
  desiredStateProblem?: CodedProblem;
  deployments: {
    name: string;
    deploymentId: string;
    app: string;
    version: string;
    state: string;
    error?: unknown;
    waiting?: Waiting;
    components: { name: string; state: string; error?: unknown }[];
  }[];
  history: { desired: HistoryCommit[]; status: HistoryCommit[] };
}

export interface RolloutWave {
  name: string;
  progress: 'passed' | 'current' | 'later' | string;
  devices: number;
  counts: Record<string, number>;
  waiting?: Record<string, number>;
  gateWaitsFor?: string;
  gateUntil?: string;
  failed?: { deviceId: string; error: string }[];
}

export interface RolloutView {
  name: string;
  commit?: string | null;
  state?: { fromVersion?: string; toVersion?: string };
  summary: {
    deployment: string;
    from?: string;
    to: string;
    phase: string;
    failures: number;
    failureLimit: number;
    waves: RolloutWave[];
  };
  gate?: { wave: string; waitingFor: string; until?: number };
  wakeAt?: number;
  unavailable?: string;
}

export interface Revision {
  commit: string;
  at: string;
  author: string;
  subject: string;
}

export interface DeploymentDetail {
  name: string;
  app: string;
  version: string;
  targets: unknown;
  parameters: { name: string; value: unknown; secret: boolean }[];
  present?: boolean;
  rows: { deviceId: string; state: string; error?: unknown; waiting?: Waiting; reason?: string }[];
  rollout: RolloutView | null;
  revisions: Revision[];
}

export interface DiffResult {
  from: string | null;
  to: string | null;
  patch: string;
}

export interface RollbackResult {
  commit: string;
  from?: string;
  present?: boolean;
}

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort';

export interface RolloutActionResult {
  name: string;
  action: RolloutAction;
  phase: string;
  wave?: string;
  commit: string;
}

export interface CatalogList {
  apps: { id: string; name: string; latest: string; versions: { version: string; yanked: boolean }[] }[];
}

export interface CatalogApp {
  id: string;
  name: string;
  description: string;
  versions: { version: string; yanked: boolean; publishedAt?: string }[];
}

/** The `fleet` server-sent event: what changed in the roll-up. */
export interface FleetEvent {
  generatedAt?: string;
  fleetCommit?: string | null;
  devices: string[];
  deployments: string[];
}
