/**
 * The reading side of the pre-write checks (fleet-checks.ts): the catalog as the server has it
 * (a clone of its catalog repository, read by the orchestrator's own CatalogReader) and the fleet
 * as it will be after a change (the work tree of commitChange's checkout).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFleet, type Fleet } from '@margo-gitops/spec';
import { CatalogReader, type Catalog } from '@margo-gitops/orchestrator';
import type { Connection } from './client-config.js';
import { checkout } from './git-remote.js';

export interface ServerCatalog {
  catalog: Catalog;
  yanked: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The server's catalog (branch main) as the orchestrator reads it: parsed packages, yanked versions
 * apart. On the server's machine (a context with its data folder) straight from its bare
 * repository; elsewhere from a shallow clone (which holds every package's files: the server allows
 * no partial clones).
 */
export async function readServerCatalog(conn: Connection): Promise<ServerCatalog> {
  const reader = new CatalogReader();
  const local = conn.dataDir && join(conn.dataDir, 'repos', 'catalog.git');
  if (local && existsSync(local)) {
    const catalog = await reader.read(local, 'refs/heads/main');
    return { catalog, yanked: reader.yanked };
  }
  const co = await checkout(conn, 'catalog', { depth: 1 });
  try {
    const catalog = await reader.read(join(co.dir, '.git'), 'HEAD');
    return { catalog, yanked: reader.yanked };
  } finally {
    await co.cleanup();
  }
}

/** The fleet documents of a work tree (`devices/`, `deployments/`, `windows/`), parsed as the orchestrator parses them. */
export async function readFleetTree(dir: string): Promise<Fleet> {
  const files = new Map<string, string>();
  for (const folder of ['devices', 'deployments', 'windows']) {
    const names = await readdir(join(dir, folder)).catch(() => [] as string[]);
    for (const n of names.sort())
      if (/\.ya?ml$/.test(n)) files.set(`${folder}/${n}`, await readFile(join(dir, folder, n), 'utf8'));
  }
  return parseFleet(files);
}
