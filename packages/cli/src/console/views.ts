/**
 * The console's JSON views computed from the fleet roll-up: pure functions, no I/O. The roll-up
 * snapshot (snapshot.ts) builds them once per change; requests only page and filter.
 */
import { createHash } from 'node:crypto';
import type { FleetStatus } from '@margo-gitops/orchestrator';

type DeviceRow = FleetStatus['devices'][number];
type DeploymentRollup = FleetStatus['deployments'][number];

/** A rollout as the console's views need it (a subset of the orchestrator's RolloutView). */
export interface RolloutLite {
  name: string;
  state: { phase: string; current: number; waves: readonly { name: string }[] };
}

export interface Problem {
  kind: 'device' | 'deployment' | 'finding';
  id: string;
  code: string;
  message: string;
}

export interface DeviceListItem {
  deviceId: string;
  /** true when the device reported or was seen within its expected window. */
  reporting: boolean;
  freshness: 'reporting' | 'stale' | 'never';
  lastSeenAt?: string;
  lastReportAt?: string;
  deployments: number;
  upToDate?: boolean;
  hold?: { reason: string; since?: string };
  problem?: { code: string; message: string };
}

export interface OverviewDeployment {
  name: string;
  app: string;
  version: string;
  targets: number;
  counts: Record<string, number>;
  rollout?: { phase: string; wave: number; waves: number; waveName: string };
}

export interface Overview {
  generatedAt: string;
  fleetCommit: string | null;
  catalogCommit: string | null;
  lastReconcileAt: string | null;
  devices: {
    total: number;
    reporting: number;
    stale: number;
    never: number;
    held: number;
    withProblems: number;
  };
  deployments: OverviewDeployment[];
  problems: Problem[];
}

export const DEVICE_FILTERS = ['all', 'reporting', 'stale', 'never', 'held', 'problems'] as const;
export type DeviceFilter = (typeof DEVICE_FILTERS)[number];
export const MAX_PAGE = 500;
export const MAX_PROBLEMS = 50;

const BAD_ROW_STATES = new Set(['failed', 'error']);

/**
 * The one problem shown for a device, worst first: its repository was written by someone else,
 * the orchestrator cannot write it, a deployment failed there, its status files were refused.
 */
export function deviceProblem(
  d: DeviceRow,
  failedRow?: { code: string; message: string },
): { code: string; message: string; rank: number } | undefined {
  if (d.desiredStateProblem)
    return { code: d.desiredStateProblem.code, message: d.desiredStateProblem.message, rank: 0 };
  if (d.repoError) return { ...d.repoError, rank: 2 };
  if (failedRow) return { ...failedRow, rank: 4 };
  const sp = d.statusProblems?.[0];
  if (sp) return { code: sp.code, message: `${sp.path}: ${sp.message}`, rank: 5 };
  return undefined;
}

/** The first failed row of each device across deployments. */
function failedRows(
  deployments: readonly DeploymentRollup[],
): Map<string, { code: string; message: string }> {
  const out = new Map<string, { code: string; message: string }>();
  for (const dep of deployments)
    for (const r of dep.devices)
      if (BAD_ROW_STATES.has(r.state) && !out.has(r.deviceId))
        out.set(r.deviceId, {
          code: r.error?.code ?? 'ORCH_DEPLOYMENT_FAILED',
          message: `${dep.name}: ${r.error?.message ?? r.reason ?? r.state}`,
        });
  return out;
}

/** Device list items, sorted problems first (worst first), then by id. */
export function deviceItems(status: FleetStatus): DeviceListItem[] {
  const failed = failedRows(status.deployments);
  const ranked = status.devices.map((d) => {
    const p = deviceProblem(d, failed.get(d.deviceId));
    const item: DeviceListItem = {
      deviceId: d.deviceId,
      reporting: d.reporting === 'reporting',
      freshness: d.reporting,
      ...(d.lastSeenAt ? { lastSeenAt: d.lastSeenAt } : {}),
      ...(d.lastReportAt ? { lastReportAt: d.lastReportAt } : {}),
      deployments: d.deployments,
      ...(d.upToDate !== undefined ? { upToDate: d.upToDate } : {}),
      ...(d.hold ? { hold: d.hold } : {}),
      ...(p ? { problem: { code: p.code, message: p.message } } : {}),
    };
    return { item, rank: p ? p.rank : 99 };
  });
  ranked.sort(
    (a, b) =>
      a.rank - b.rank || (a.item.deviceId < b.item.deviceId ? -1 : a.item.deviceId > b.item.deviceId ? 1 : 0),
  );
  return ranked.map((r) => r.item);
}

function rolloutLine(r: RolloutLite | undefined): OverviewDeployment['rollout'] | undefined {
  if (!r) return undefined;
  const waves = r.state.waves.length;
  const idx = Math.min(r.state.current, Math.max(0, waves - 1));
  return {
    phase: r.state.phase,
    wave: Math.min(r.state.current + 1, waves),
    waves,
    waveName: r.state.waves[idx]?.name ?? '',
  };
}

/** Only the states that occur (the UI lists them; zeros are noise). */
function nonZero(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

/** The overview: devices by freshness, deployments by state, problems worst first (at most 50). */
export function overview(
  status: FleetStatus,
  items: readonly DeviceListItem[],
  rollouts: readonly RolloutLite[],
): Overview {
  const byName = new Map(rollouts.map((r) => [r.name, r]));
  const count = (f: (d: DeviceListItem) => boolean) => items.reduce((n, d) => n + (f(d) ? 1 : 0), 0);
  const problems: (Problem & { rank: number })[] = [];
  for (const f of status.findings)
    problems.push({
      kind: 'finding',
      id: f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : f.path,
      code: f.code,
      message: f.message,
      rank: f.severity === 'error' ? 1 : 6,
    });
  for (const d of status.deployments) {
    const bad = d.devices.filter((r) => BAD_ROW_STATES.has(r.state)).length;
    if (bad)
      problems.push({
        kind: 'deployment',
        id: d.name,
        code: d.errors[0]?.code ?? 'ORCH_DEPLOYMENT_FAILED',
        message: `${bad} of ${d.total} devices failed${d.errors[0] ? `; ${d.errors[0].deviceId}: ${d.errors[0].message}` : ''}`,
        rank: 3,
      });
  }
  const failed = failedRows(status.deployments);
  for (const d of status.devices) {
    const p = deviceProblem(d, failed.get(d.deviceId));
    if (p) problems.push({ kind: 'device', id: d.deviceId, code: p.code, message: p.message, rank: p.rank });
  }
  problems.sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    generatedAt: status.generatedAt,
    fleetCommit: status.fleetCommit,
    catalogCommit: status.catalogCommit,
    lastReconcileAt: status.lastReconcileAt ?? null,
    devices: {
      total: items.length,
      reporting: count((d) => d.freshness === 'reporting'),
      stale: count((d) => d.freshness === 'stale'),
      never: count((d) => d.freshness === 'never'),
      held: count((d) => d.hold !== undefined),
      withProblems: count((d) => d.problem !== undefined),
    },
    deployments: status.deployments.map((d) => {
      const ro = rolloutLine(byName.get(d.name));
      return {
        name: d.name,
        app: d.applicationId,
        version: d.version ?? '',
        targets: d.total,
        counts: nonZero(d.counts),
        ...(ro ? { rollout: ro } : {}),
      };
    }),
    problems: problems.slice(0, MAX_PROBLEMS).map(({ rank: _r, ...p }) => p),
  };
}

export interface PageQuery {
  filter: DeviceFilter;
  q: string;
  offset: number;
  limit: number;
}

/** Reads `filter`, `q`, `offset`, `limit` (≤ 500); undefined with a reason when out of range. Pure. */
export function parsePageQuery(params: URLSearchParams): PageQuery | string {
  const filter = (params.get('filter') ?? 'all') as DeviceFilter;
  if (!DEVICE_FILTERS.includes(filter)) return `filter must be one of ${DEVICE_FILTERS.join(', ')}`;
  const num = (name: string, dflt: number) => {
    const v = params.get(name);
    if (v === null || v === '') return dflt;
    return /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  };
  const offset = num('offset', 0);
  const limit = num('limit', 100);
  if (Number.isNaN(offset)) return 'offset must be a whole number';
  if (Number.isNaN(limit) || limit < 1 || limit > MAX_PAGE)
    return `limit must be a whole number from 1 to ${MAX_PAGE}`;
  const q = (params.get('q') ?? '').trim().slice(0, 200);
  return { filter, q, offset, limit };
}

/** One page of the device list (already sorted problems first, then id). Pure. */
export function pageDevices(
  items: readonly DeviceListItem[],
  p: PageQuery,
): { total: number; offset: number; items: DeviceListItem[] } {
  const q = p.q.toLowerCase();
  const keep = (d: DeviceListItem) => {
    if (q && !d.deviceId.toLowerCase().includes(q)) return false;
    switch (p.filter) {
      case 'all':
        return true;
      case 'held':
        return d.hold !== undefined;
      case 'problems':
        return d.problem !== undefined;
      default:
        return d.freshness === p.filter;
    }
  };
  const matched = p.filter === 'all' && !q ? items : items.filter(keep);
  return { total: matched.length, offset: p.offset, items: matched.slice(p.offset, p.offset + p.limit) };
}

const digest = (v: unknown) => createHash('sha1').update(JSON.stringify(v)).digest('base64').slice(0, 16);

/** Short fingerprints of what the console shows per device and per deployment, to diff roll-ups. */
export interface Fingerprints {
  devices: Map<string, string>;
  deployments: Map<string, string>;
}

export function fingerprints(
  status: FleetStatus,
  items: readonly DeviceListItem[],
  rollouts: readonly RolloutLite[],
): Fingerprints {
  const rowsByDevice = new Map<string, unknown[]>();
  for (const d of status.deployments)
    for (const r of d.devices) {
      let l = rowsByDevice.get(r.deviceId);
      if (!l) rowsByDevice.set(r.deviceId, (l = []));
      l.push([d.name, r.state, r.error?.code, r.waiting?.reason, r.rollout?.status]);
    }
  const devRows = new Map(status.devices.map((d) => [d.deviceId, d]));
  const devices = new Map<string, string>();
  for (const it of items) {
    const row = devRows.get(it.deviceId);
    // lastSeenAt moves at every poll: left out, so a quiet fleet sends no events.
    const { lastSeenAt: _seen, ...shown } = it;
    devices.set(
      it.deviceId,
      digest([
        shown,
        row?.observedCommit,
        row?.repoError,
        row?.statusProblems,
        rowsByDevice.get(it.deviceId),
      ]),
    );
  }
  const ro = new Map(rollouts.map((r) => [r.name, r]));
  const deployments = new Map<string, string>();
  for (const d of status.deployments)
    deployments.set(
      d.name,
      digest([
        d.applicationId,
        d.version,
        d.counts,
        d.errors,
        d.rollout,
        ro.get(d.name)?.state,
        d.devices.map((r) => [r.deviceId, r.state, r.error?.code, r.waiting]),
      ]),
    );
  return { devices, deployments };
}

/** Ids whose fingerprint differs (added, changed or gone). Pure. */
export function changedKeys(
  before: ReadonlyMap<string, string> | undefined,
  after: ReadonlyMap<string, string>,
): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (before?.get(k) !== v) out.push(k);
  if (before) for (const k of before.keys()) if (!after.has(k)) out.push(k);
  return out.sort();
}
