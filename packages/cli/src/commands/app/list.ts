import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAppMeta, type AppMeta } from '../../app-package.js';
import type { Connection } from '../../client-config.js';
import type { CommandDeps } from '../../context.js';
import { checkout } from '../../git-remote.js';
import { formatOutput, renderTable, type OutputFormat } from '../../output.js';

export interface ListOptions {
  output: OutputFormat;
}

export interface CatalogEntry {
  id: string;
  version: string;
  name?: string;
  description?: string;
  profiles: string[];
  parameters: string[];
}

/** Reads every `<id>/<version>/margo.yaml` of the catalog (main). Broken entries are skipped. */
export async function readCatalog(conn: Connection): Promise<CatalogEntry[]> {
  const co = await checkout(conn, 'catalog', { depth: 1 });
  try {
    const out: CatalogEntry[] = [];
    for (const id of (await readdir(co.dir, { withFileTypes: true })).filter(
      (d) => d.isDirectory() && !d.name.startsWith('.'),
    )) {
      for (const v of (await readdir(join(co.dir, id.name), { withFileTypes: true })).filter((d) =>
        d.isDirectory(),
      )) {
        const file = join(co.dir, id.name, v.name, 'margo.yaml');
        let meta: AppMeta;
        try {
          meta = parseAppMeta(await readFile(file, 'utf8'), `${id.name}/${v.name}/margo.yaml`);
        } catch {
          continue;
        }
        const { packageLocations: _p, ...rest } = meta;
        out.push({ ...rest, id: id.name, version: v.name });
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id) || compareVersions(a.version, b.version));
  } finally {
    await co.cleanup();
  }
}

/** Orders versions numerically where they are numeric (1.10 after 1.9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

export async function run(opts: ListOptions, deps: CommandDeps): Promise<number> {
  const apps = await readCatalog(await deps.connect());
  deps.io.out(
    formatOutput(apps, opts.output, (rows) =>
      renderTable(
        rows,
        [
          { header: 'id', get: (r) => r.id },
          { header: 'version', get: (r) => r.version },
          { header: 'name', get: (r) => r.name },
          { header: 'profiles', get: (r) => r.profiles.join(',') },
        ],
        { empty: 'no applications published yet (publish one with `margo app publish DIR`)' },
      ),
    ),
  );
  return 0;
}
