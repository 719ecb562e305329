import type { Connection } from '../../client-config.js';
import type { CommandDeps } from '../../context.js';
import type { DeviceDoc } from '../../fleet-docs.js';
import { readDevices } from '../../fleet-read.js';
import { formatOutput, renderTable, type OutputFormat } from '../../output.js';

export interface ListOptions {
  output: OutputFormat;
}

/** A fleet device plus what the status API knows about it (when a server answers). */
export type DeviceWithStatus = DeviceDoc & {
  status?: {
    reporting?: string;
    lastReportAt?: string;
    deployments?: number;
    repoError?: { code: string; message: string };
    /** Status files the server ignored (unsigned, forged, another device's, unreadable). */
    statusProblems?: { path: string; code: string; message: string }[];
    /** `main` held a commit the orchestrator did not sign (ORCH_DEVICE_REPO_TAMPERED). */
    desiredStateProblem?: { code: string; message: string; hint: string; at: string };
  };
};

export const labelText = (labels: Record<string, string> | undefined) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** Fleet documents joined with the status API's device rows (best effort: no server, no status). */
export async function devicesWithStatus(conn: Connection, deps: CommandDeps): Promise<DeviceWithStatus[]> {
  const [devices, status] = await Promise.all([
    readDevices(conn),
    /^https?:\/\//.test(conn.server)
      ? deps.services.fetchStatus(conn).catch(() => undefined)
      : Promise.resolve(undefined),
  ]);
  const rows = new Map<string, DeviceWithStatus['status'] & { deviceId: string }>();
  for (const r of (status as { devices?: (DeviceWithStatus['status'] & { deviceId: string })[] })?.devices ??
    [])
    rows.set(r.deviceId, r);
  return devices.map((d) => {
    const s = rows.get(d.id);
    if (!s) return d;
    const { deviceId: _id, ...rest } = s;
    return { ...d, status: rest };
  });
}

export async function run(opts: ListOptions, deps: CommandDeps): Promise<number> {
  const devices = await devicesWithStatus(await deps.connect(), deps);
  deps.io.out(
    formatOutput(devices, opts.output, (rows) =>
      renderTable(
        rows,
        [
          { header: 'id', get: (d) => d.id },
          { header: 'role', get: (d) => d.role },
          { header: 'labels', get: (d) => labelText(d.labels) },
          {
            header: 'reporting',
            get: (d) => d.status?.reporting ?? (d.enrolment?.enrolledAt ? 'enrolled' : undefined),
          },
          { header: 'last report', get: (d) => d.status?.lastReportAt },
          { header: 'deployments', get: (d) => d.status?.deployments },
        ],
        { empty: 'no devices yet (add one with `margo device add ID`)' },
      ),
    ),
  );
  return 0;
}
