import { cp, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { create as tarCreate } from 'tar';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import { readAppMeta } from '../../app-package.js';
import type { CommandDeps } from '../../context.js';
import { commitChange, remoteLines } from '../../git-remote.js';
import { formatOutput, type OutputFormat } from '../../output.js';
import { createProgress } from '../../progress.js';

export interface PublishOptions {
  dir: string;
  output: OutputFormat;
}

export interface PublishResult {
  id: string;
  version: string;
  path: string;
  commit: string;
  packed: string[];
}

const SKIP = new Set(['.git', 'node_modules', '.DS_Store']);

/**
 * `margo app publish DIR`: clone the catalog, copy DIR to `<id>/<version>/`, pack each relative
 * Compose `packageLocation` that names a missing `X.tar.gz` from the folder `X/`, commit, push.
 * The server validates the push; its findings are shown as they come.
 */
export async function run(opts: PublishOptions, deps: CommandDeps): Promise<number> {
  const { io } = deps;
  const src = resolve(deps.cwd, opts.dir);
  const meta = await readAppMeta(src, opts.dir);
  const conn = await deps.connect();
  const target = `${meta.id}/${meta.version}`;
  const packed: string[] = [];
  let res;
  const progress = createProgress(io);
  const task = progress.task(`publish ${meta.id} ${meta.version}`);
  try {
    res = await commitChange(
      conn,
      'catalog',
      `publish ${meta.id} ${meta.version}`,
      async (co) => {
        const dest = join(co.dir, target);
        if (await exists(dest)) {
          throw new MargoError(
            'CLI_APP_EXISTS',
            `${meta.id} version ${meta.version} is already in the catalog`,
            { data: { id: meta.id, version: meta.version } },
          );
        }
        await mkdir(dirname(dest), { recursive: true });
        await cp(src, dest, { recursive: true, filter: (p) => !SKIP.has(p.split(/[\\/]/).pop() ?? '') });
        for (const loc of meta.packageLocations) {
          task.update(`packing ${loc}`);
          packed.push(...(await packIfNeeded(dest, loc)));
        }
      },
      { onStep: (s) => task.update(s) },
    );
    task.done();
    progress.stop();
  } catch (e) {
    task.fail();
    progress.stop();
    if (
      isMargoError(e) &&
      (e.code === 'CLI_GIT_FAILED' || e.code === 'CLI_AUTH_FAILED') &&
      typeof e.data?.output === 'string'
    ) {
      const lines = remoteLines(e.data.output);
      if (lines.length && e.code === 'CLI_GIT_FAILED') {
        for (const l of lines) io.err(l + '\n');
        throw new MargoError(
          'CLI_PUBLISH_REJECTED',
          `the server refused ${meta.id} ${meta.version} (${opts.dir})`,
          { cause: e, data: { findings: lines } },
        );
      }
    }
    throw e;
  }
  for (const l of res.remote) io.err(`server: ${l}\n`);
  const out: PublishResult = {
    id: meta.id,
    version: meta.version,
    path: target,
    commit: res.commit ?? '',
    packed,
  };
  io.out(
    formatOutput(
      out,
      opts.output,
      (r) => `published ${r.id} ${r.version} to the catalog (${r.path}, commit ${r.commit.slice(0, 12)})\n`,
    ),
  );
  return 0;
}

/** Packs `<pkg>/<X>` into `<pkg>/<X>.tar.gz` when the tarball is missing but the folder exists. */
export async function packIfNeeded(pkgDir: string, loc: string): Promise<string[]> {
  const rel = loc.replace(/^\.\//, '');
  if (!rel.endsWith('.tar.gz') && !rel.endsWith('.tgz')) return [];
  const file = resolve(pkgDir, rel);
  if (relative(pkgDir, file).startsWith('..')) return [];
  if (await exists(file)) return [];
  const folder = file.replace(/\.(tar\.gz|tgz)$/, '');
  if (!(await isDir(folder))) return [];
  const entries = (await readdir(folder)).sort();
  await tarCreate(
    { gzip: true, file, cwd: folder, portable: true, mtime: new Date(0), noDirRecurse: false },
    entries,
  );
  return [rel];
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
