import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { parseAppRef } from '../../kv.js';
import { formatOutput, renderFields, type OutputFormat } from '../../output.js';
import { readCatalog, type CatalogEntry } from './list.js';

export interface ShowOptions {
  app: string;
  output: OutputFormat;
}

export interface AppDetails extends CatalogEntry {
  versions: string[];
}

/** `margo app show ID[@VERSION]`: the newest (or the named) version plus every published version. */
export async function run(opts: ShowOptions, deps: CommandDeps): Promise<number> {
  const ref = parseAppRef(opts.app);
  const all = (await readCatalog(await deps.connect())).filter((a) => a.id === ref.id);
  const pick = ref.version === '*' ? all[all.length - 1] : all.find((a) => a.version === ref.version);
  if (!pick) {
    throw new MargoError(
      'CLI_APP_NOT_FOUND',
      ref.version === '*'
        ? `no application "${ref.id}" in the catalog`
        : `no version ${ref.version} of "${ref.id}" in the catalog`,
      {
        ...(all.length ? { hint: `Published versions: ${all.map((a) => a.version).join(', ')}.` } : {}),
        data: { id: ref.id, version: ref.version },
      },
    );
  }
  const details: AppDetails = { ...pick, versions: all.map((a) => a.version) };
  deps.io.out(
    formatOutput(details, opts.output, (d) =>
      renderFields([
        ['ID', d.id],
        ['Name', d.name],
        ['Version', d.version],
        ['Versions', d.versions.join(', ')],
        ['Profiles', d.profiles.join(', ')],
        ['Parameters', d.parameters.join(', ')],
        ['Description', d.description],
      ]),
    ),
  );
  return 0;
}
