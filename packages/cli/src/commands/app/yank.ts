import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { commitChange } from '../../git-remote.js';
import { formatOutput, renderFields, type OutputFormat } from '../../output.js';

export interface YankOptions {
  app: string;
  version: string;
  reason: string;
  output: OutputFormat;
}

/** The catalog's yank record (the Git server accepts it once per published version). */
export const YANK_FILE = 'yanked.yaml';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The text of a yank record (pure). */
export function yankRecord(reason: string): string {
  return `apiVersion: catalog.margo-gitops.io/v1alpha1\nkind: Yank\nreason: ${JSON.stringify(reason)}\n`;
}

/** A real directory (not a link) at `path`? */
async function isDir(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  return st?.isDirectory() ?? false;
}

/**
 * `margo app yank APP VERSION --reason TEXT`: one commit adding `<app>/<version>/yanked.yaml`.
 * The version stays readable (devices running it can still download it) but the orchestrator no
 * longer picks it for a range; a deployment naming it exactly is held.
 */
export async function run(opts: YankOptions, deps: CommandDeps): Promise<number> {
  const reason = opts.reason.trim();
  if (!reason || reason.length > 1000)
    throw new MargoError('USAGE_ERROR', '--reason must be a text of 1 to 1000 characters');
  for (const [what, v] of [
    ['application id', opts.app],
    ['version', opts.version],
  ] as const)
    if (!NAME.test(v) || v.includes('..'))
      throw new MargoError('USAGE_ERROR', `invalid ${what} "${v.slice(0, 80)}"`);
  const conn = await deps.connect();
  let already = false;
  const res = await commitChange(
    conn,
    'catalog',
    `yank ${opts.app} ${opts.version}: ${reason.split('\n')[0]!.slice(0, 200)}`,
    async (co) => {
      const app = join(co.dir, opts.app);
      const folder = join(app, opts.version);
      const published =
        (await isDir(app)) &&
        (await isDir(folder)) &&
        ((await lstat(join(folder, 'margo.yaml')).catch(() => undefined))?.isFile() ?? false);
      if (!published)
        throw new MargoError(
          'CLI_APP_NOT_FOUND',
          `no version ${opts.version} of "${opts.app}" in the catalog`,
          {
            data: { id: opts.app, version: opts.version },
          },
        );
      if (await lstat(join(folder, YANK_FILE)).catch(() => undefined)) {
        already = true;
        return false;
      }
      await writeFile(join(folder, YANK_FILE), yankRecord(reason), { flag: 'wx' });
      return true;
    },
  );
  const out = {
    app: opts.app,
    version: opts.version,
    reason,
    yanked: true,
    alreadyYanked: already,
    ...(res.commit ? { commit: res.commit } : {}),
  };
  deps.io.out(
    formatOutput(out, opts.output, (o) =>
      renderFields([
        ['Application', `${o.app}@${o.version}`],
        ['Yanked', o.alreadyYanked ? 'already (nothing changed)' : `yes (commit ${o.commit ?? '?'})`],
        ['Reason', o.reason],
      ]),
    ),
  );
  return 0;
}
