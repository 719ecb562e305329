import type { CommandDeps } from '../../context.js';
import { readDevices } from '../../fleet-read.js';
import { formatOutput, renderTable, type OutputFormat } from '../../output.js';

export interface ListOptions {
  output: OutputFormat;
}

export const labelText = (labels: Record<string, string> | undefined) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export async function run(opts: ListOptions, deps: CommandDeps): Promise<number> {
  const devices = await readDevices(await deps.connect());
  deps.io.out(
    formatOutput(devices, opts.output, (rows) =>
      renderTable(
        rows,
        [
          { header: 'id', get: (d) => d.id },
          { header: 'role', get: (d) => d.role },
          { header: 'labels', get: (d) => labelText(d.labels) },
          { header: 'enrolled', get: (d) => (d.enrolment?.enrolledAt as string | undefined) ?? 'no' },
        ],
        { empty: 'no devices yet (add one with `margo device add ID`)' },
      ),
    ),
  );
  return 0;
}
