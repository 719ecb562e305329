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

export interface DeviceRow {
  deviceId: string;
  state: string;
  reason?: string;
  error?: { code: string; message: string };
}

export interface DeploymentRow {
  name: string;
  application: string;
  counts: Record<string, number>;
  devices: DeviceRow[];
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
      }),
    );
    const counts: Record<string, number> = {};
    if (d.counts && typeof d.counts === 'object') Object.assign(counts, d.counts);
    else for (const x of devices) counts[x.state] = (counts[x.state] ?? 0) + 1;
    return { name: String(d.name ?? d.deployment ?? '?'), application, counts, devices };
  });
}

export function renderStatus(status: unknown, name: string | undefined, color: boolean): string {
  const p = paint(color);
  const rows = toRows(status);
  if (name) {
    const d = rows[0];
    if (!d) return `deployment ${name}: no status yet\n`;
    return (
      `deployment ${d.name}  application ${d.application}\n` +
      renderTable(
        d.devices,
        [
          { header: 'device', get: (x) => x.deviceId },
          { header: 'state', get: (x) => stateColour(p, x.state) },
          {
            header: 'error / reason',
            get: (x) => (x.error ? `${x.error.code}: ${x.error.message}` : (x.reason ?? '')),
          },
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
    ) + renderDeviceProblems(status, p)
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
