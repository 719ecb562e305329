import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { devicesWithStatus } from './list.js';
import { formatOutput, renderFields, type OutputFormat } from '../../output.js';
import { labelText } from './list.js';

export interface ShowOptions {
  id: string;
  output: OutputFormat;
}

export async function run(opts: ShowOptions, deps: CommandDeps): Promise<number> {
  const devices = await devicesWithStatus(await deps.connect(), deps);
  const d = devices.find((x) => x.id === opts.id);
  if (!d)
    throw new MargoError('CLI_DEVICE_NOT_FOUND', `no device "${opts.id}" in the fleet repository`, {
      data: { id: opts.id },
    });
  deps.io.out(
    formatOutput(d, opts.output, (x) =>
      renderFields([
        ['ID', x.id],
        ['Role', x.role],
        ['Labels', labelText(x.labels)],
        ['Report every', x.expectedReportSeconds ? `${x.expectedReportSeconds}s` : undefined],
        ['Enrolled', (x.enrolment?.enrolledAt as string | undefined) ?? 'no'],
        ['Certificate', x.enrolment?.certificateFingerprint as string | undefined],
        ['Reporting', x.status?.reporting],
        ['Last report', x.status?.lastReportAt],
        ['Deployments', x.status?.deployments],
        [
          'Repo error',
          x.status?.repoError ? `${x.status.repoError.code}: ${x.status.repoError.message}` : undefined,
        ],
        [
          'Desired state',
          x.status?.desiredStateProblem
            ? `${x.status.desiredStateProblem.code} (${x.status.desiredStateProblem.at}): ${x.status.desiredStateProblem.message}\n${x.status.desiredStateProblem.hint}`
            : undefined,
        ],
        [
          'Status ignored',
          x.status?.statusProblems?.length
            ? x.status.statusProblems.map((p) => `${p.path}: ${p.code} ${p.message}`).join('\n')
            : undefined,
        ],
      ]),
    ),
  );
  return 0;
}
