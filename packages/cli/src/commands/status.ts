import { MargoError } from '@margo-gitops/spec';
import { paint, stateColour } from '../colour.js';
import type { CommandDeps } from '../context.js';
import { formatOutput, renderTable, type OutputFormat } from '../output.js';
import { redrawUntilStopped } from '../watch.js';

export interface StatusOptions {
  name?: string;
  output: OutputFormat;
  watch?: boolean;
  /** Seconds between redraws with --watch. */
  interval?: number;
}

/** Why a device's change has not started (a deployment in a rollout; contract field `waiting`). */
export interface Waiting {
  reason: 'window' | 'hold' | 'cap' | 'wave' | string;
  /** window: when it opens next (ISO 8601). */
  until?: string;
  /** hold: the on-site hold's reason. */
  hold?: string;
}

export interface DeviceRow {
  deviceId: string;
  state: string;
  reason?: string;
  error?: { code: string; message: string };
  waiting?: Waiting;
  /** Which revision the rollout gives this device, and where it stands. */
  rollout?: { side: string; status: string };
}

export interface DeploymentRow {
  name: string;
  application: string;
  counts: Record<string, number>;
  devices: DeviceRow[];
  rollout?: { phase: string; wave?: string; done?: number; total?: number };
}

const COUNTED = [
  'installed',
  'installing',
  'pending',
  'failed',
  'removing',
  'not-matched',
  'unknown',
  'error',
] as const;

/**
 * Normalises the status API's answer into rows for the table view (json/yaml print the answer
 * unchanged). Tolerates `{deployments: [...]}` or a bare array; per deployment `devices[]` with
 * `deviceId`/`id`, `state`, `error`, and `counts` when given (else counted from devices).
 */
export function toRows(status: unknown): DeploymentRow[] {
  const one = (status as { deployment?: unknown })?.deployment;
  const list = one
    ? [one]
    : Array.isArray(status)
      ? status
      : ((status as { deployments?: unknown[] })?.deployments ?? []);
  return (list as Record<string, any>[]).map((d) => {
    const app = d.application ?? d.app;
    const application =
      typeof d.applicationId === 'string'
        ? `${d.applicationId}${d.version ? `@${d.version}` : ''}`
        : typeof app === 'string'
          ? app
          : app
            ? `${app.id}@${app.version ?? '?'}`
            : '-';
    const devices: DeviceRow[] = (Array.isArray(d.devices) ? d.devices : []).map(
      (x: Record<string, any>) => ({
        deviceId: String(x.deviceId ?? x.id ?? '?'),
        state: String(x.state ?? 'unknown'),
        ...(x.reason ? { reason: String(x.reason) } : {}),
        ...(x.error
          ? { error: { code: String(x.error.code ?? ''), message: String(x.error.message ?? '') } }
          : {}),
        ...(x.waiting && typeof x.waiting === 'object'
          ? {
              waiting: {
                reason: String(x.waiting.reason ?? '?'),
                ...(x.waiting.until ? { until: String(x.waiting.until) } : {}),
                ...(x.waiting.hold ? { hold: String(x.waiting.hold) } : {}),
              },
            }
          : {}),
        ...(x.rollout && typeof x.rollout === 'object'
          ? { rollout: { side: String(x.rollout.side ?? '?'), status: String(x.rollout.status ?? '?') } }
          : {}),
      }),
    );
    const counts: Record<string, number> = {};
    if (d.counts && typeof d.counts === 'object') Object.assign(counts, d.counts);
    else for (const x of devices) counts[x.state] = (counts[x.state] ?? 0) + 1;
    const r = d.rollout;
    return {
      name: String(d.name ?? d.deployment ?? '?'),
      application,
      counts,
      devices,
      ...(r && typeof r === 'object'
        ? {
            rollout: {
              phase: String(r.phase ?? '?'),
              ...(r.wave !== undefined ? { wave: String(r.wave) } : {}),
              ...(typeof r.done === 'number' ? { done: r.done } : {}),
              ...(typeof r.total === 'number' ? { total: r.total } : {}),
            },
          }
        : {}),
    };
  });
}

/** `waiting for window (opens ...)`, `waiting for cap`, `waiting for wave`, `held: <reason>`. */
export function waitingText(w: Waiting): string {
  if (w.reason === 'hold') return `held: ${w.hold ?? 'on site'}`;
  if (w.reason === 'window') return `waiting for window${w.until ? ` (opens ${w.until})` : ''}`;
  return `waiting for ${w.reason}`;
}

/** `rollout: paused, wave line-a, 4/12 devices done`. */
export function rolloutLine(r: NonNullable<DeploymentRow['rollout']>): string {
  return (
    `rollout: ${r.phase}` +
    (r.wave ? `, wave ${r.wave}` : '') +
    (r.done !== undefined && r.total !== undefined ? `, ${r.done}/${r.total} devices done` : '')
  );
}

/** What the reason column of a device shows: its error, else why it waits, else the reason given. */
function deviceReason(x: DeviceRow): string {
  const parts = [
    ...(x.error ? [`${x.error.code}: ${x.error.message}`] : []),
    ...(x.waiting && !(x.waiting.reason === 'hold' && x.error?.code === 'AGENT_ON_SITE_HOLD')
      ? [waitingText(x.waiting)]
      : []),
  ];
  return parts.length ? parts.join('; ') : (x.reason ?? '');
}

/** Per deployment in a rollout: its rollout line and how many devices wait, and why. */
function renderRollouts(rows: DeploymentRow[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const waits = new Map<string, number>();
    for (const x of r.devices) {
      if (!x.waiting) continue;
      const key = x.waiting.reason === 'hold' ? 'held on site' : waitingText(x.waiting);
      waits.set(key, (waits.get(key) ?? 0) + 1);
    }
    if (!r.rollout && !waits.size) continue;
    const w = [...waits].map(([k, n]) => `${n} ${k}`).join(', ');
    lines.push(
      `  ${r.name}  ${r.rollout ? rolloutLine(r.rollout) : ''}${w ? `${r.rollout ? '; ' : ''}${w}` : ''}`,
    );
  }
  return lines.length ? `\nrollouts\n${lines.join('\n')}\n` : '';
}

/** Devices held on site (fleet status `devices[].hold`), with their reasons. */
export function renderHolds(status: unknown, p: ReturnType<typeof paint>): string {
  const devices = (
    status as { devices?: { deviceId?: unknown; hold?: { reason?: unknown; since?: unknown } }[] }
  )?.devices;
  if (!Array.isArray(devices)) return '';
  const lines = devices
    .filter((d) => d.hold && typeof d.hold.reason === 'string')
    .map(
      (d) =>
        `  ${String(d.deviceId)}  held: ${String(d.hold!.reason)}${d.hold!.since ? ` (since ${String(d.hold!.since)})` : ''}`,
    );
  return lines.length
    ? `\n${p.yellow('held on site')} (margo-agent release on the device lifts it)\n${lines.join('\n')}\n`
    : '';
}

export function renderStatus(status: unknown, name: string | undefined, color: boolean): string {
  const p = paint(color);
  const rows = toRows(status);
  if (name) {
    const d = rows[0];
    if (!d) return `deployment ${name}: no status yet\n`;
    return (
      `deployment ${d.name}  application ${d.application}\n` +
      (d.rollout ? `${rolloutLine(d.rollout)}\n` : '') +
      renderTable(
        d.devices,
        [
          { header: 'device', get: (x) => x.deviceId },
          { header: 'state', get: (x) => stateColour(p, x.state) },
          ...(d.devices.some((x) => x.rollout)
            ? [
                {
                  header: 'rollout',
                  get: (x: DeviceRow) => (x.rollout ? `${x.rollout.side} ${x.rollout.status}` : ''),
                },
              ]
            : []),
          { header: 'error / reason', get: deviceReason },
        ],
        { empty: '(no device targeted yet)' },
      )
    );
  }
  return (
    renderTable(
      rows,
      [
        { header: 'deployment', get: (r) => r.name },
        { header: 'application', get: (r) => r.application },
        {
          header: 'devices',
          get: (r) => r.devices.length || Object.values(r.counts).reduce((a, b) => a + b, 0),
        },
        ...COUNTED.map((s) => ({
          header: s,
          get: (r: DeploymentRow) => r.counts[s] ?? 0,
        })),
      ],
      { empty: 'no deployments yet (create one with `margo deploy APP --name NAME --device ID`)' },
    ) +
    renderRollouts(rows) +
    renderHolds(status, p) +
    renderDeviceProblems(status, p)
  );
}

interface DeviceProblemRow {
  deviceId: string;
  repoError?: { code: string; message: string };
  desiredStateProblem?: { code: string; message: string; hint?: string };
  statusProblems?: { path: string; code: string; message: string }[];
}

/**
 * Devices with something wrong that no deployment row shows: a repository the orchestrator could not
 * write, state on `main` it did not sign, status files it ignored. Empty when there is none.
 */
export function renderDeviceProblems(status: unknown, p: ReturnType<typeof paint>): string {
  const devices = (status as { devices?: DeviceProblemRow[] } | undefined)?.devices;
  if (!Array.isArray(devices)) return '';
  const lines: string[] = [];
  for (const d of devices) {
    const problems = [
      ...(d.desiredStateProblem ? [`${d.desiredStateProblem.code}: ${d.desiredStateProblem.message}`] : []),
      ...(d.desiredStateProblem?.hint ? [`  hint: ${d.desiredStateProblem.hint}`] : []),
      ...(d.repoError ? [`${d.repoError.code}: ${d.repoError.message}`] : []),
      ...(d.statusProblems ?? []).map((s) => `${s.code}: status file ${s.path} ignored: ${s.message}`),
    ];
    for (const [i, text] of problems.entries())
      lines.push(`  ${i === 0 ? d.deviceId : ' '.repeat(d.deviceId.length)}  ${text}`);
  }
  return lines.length ? `\n${p.red('device problems')}\n${lines.join('\n')}\n` : '';
}

/** Pick one deployment out of a fleet answer (when the API has no per-name route). */
function selectOne(status: unknown, name: string): unknown {
  if (status && typeof status === 'object' && 'deployment' in status) return status;
  if (Array.isArray(status) || (status && typeof status === 'object' && 'deployments' in status)) {
    const list = Array.isArray(status)
      ? status
      : (status as { deployments: Record<string, unknown>[] }).deployments;
    const one = (list as Record<string, unknown>[]).filter((d) => (d.name ?? d.deployment) === name);
    if (!one.length)
      throw new MargoError('CLI_DEPLOYMENT_NOT_FOUND', `no deployment "${name}" in the fleet status`, {
        data: { name },
      });
    return { deployments: one };
  }
  return status;
}

/** `margo status [NAME] [-o ...] [--watch]`. */
export async function run(opts: StatusOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  const fetchOnce = async () => {
    const s = await deps.services.fetchStatus(conn, opts.name);
    return opts.name ? selectOne(s, opts.name) : s;
  };
  const draw = (s: unknown) => formatOutput(s, opts.output, (x) => renderStatus(x, opts.name, deps.io.color));
  if (!opts.watch) {
    deps.io.out(draw(await fetchOnce()));
    return 0;
  }
  await redrawUntilStopped(deps, { output: opts.output, interval: opts.interval, what: 'status' }, async () =>
    draw(await fetchOnce()),
  );
  return 0;
}
