import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEVICE_ID_RULE, isValidDeviceId, MargoError } from '@margo-gitops/spec';
import type { RepoKind, RepoRef } from './access.js';

/** Throws GIT_INVALID_REPO_ID unless `id` is a safe device id. */
export function assertDeviceId(id: string): void {
  if (!isValidDeviceId(id)) {
    throw new MargoError('GIT_INVALID_REPO_ID', `invalid device id "${id.slice(0, 80)}"`, {
      data: { id: id.slice(0, 80) },
      hint: DEVICE_ID_RULE,
    });
  }
}

/** The repository a kind (and device id) refers to, with its path under the repos root. */
export function repoRef(kind: RepoKind, deviceId?: string): RepoRef {
  if (kind === 'device') {
    if (!deviceId) throw new MargoError('GIT_INVALID_REPO_ID', 'a device repository needs a device id');
    assertDeviceId(deviceId);
    return { kind, deviceId, name: `devices/${deviceId}.git` };
  }
  return { kind, name: `${kind}.git` };
}

function configText(kind: RepoKind): string {
  let c = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n';
  c += '[receive]\n\tfsckObjects = true\n';
  if (kind === 'catalog') c += '\tdenyNonFastForwards = true\n\tdenyDeletes = true\n';
  return c;
}

/**
 * Writes a bare repository skeleton (HEAD -> main) directly, without spawning git, into a temporary
 * folder renamed into place (so a half-made repository is never visible). Returns false when it
 * already existed.
 */
async function writeBareRepo(path: string, kind: RepoKind): Promise<boolean> {
  if (existsSync(join(path, 'HEAD'))) return false;
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(join(tmp, 'objects', 'info'), { recursive: true });
  await mkdir(join(tmp, 'objects', 'pack'), { recursive: true });
  await mkdir(join(tmp, 'refs', 'heads'), { recursive: true });
  await mkdir(join(tmp, 'refs', 'tags'), { recursive: true });
  await writeFile(join(tmp, 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(tmp, 'config'), configText(kind));
  await writeFile(join(tmp, 'description'), `margo-gitops ${kind} repository\n`);
  try {
    await rename(tmp, path);
    return true;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (existsSync(join(path, 'HEAD'))) return false; // created concurrently
    throw new MargoError('IO_ERROR', `cannot create repository ${path}`, { cause: e });
  }
}

/**
 * Creates `catalog.git` and `fleet.git` (bare, HEAD -> main) under `root`; the catalog refuses
 * history rewrites and branch deletion. Idempotent.
 *
 * @example
 * await createRepos('/srv/margo-data/repos');
 */
export async function createRepos(root: string): Promise<{ created: string[] }> {
  await mkdir(join(root, 'devices'), { recursive: true });
  const created: string[] = [];
  for (const kind of ['catalog', 'fleet'] as const) {
    if (await writeBareRepo(join(root, `${kind}.git`), kind)) created.push(`${kind}.git`);
  }
  return { created };
}

/** Creates `devices/<id>.git` (bare, HEAD -> main) when missing. Returns its path. */
export async function ensureDeviceRepo(
  root: string,
  id: string,
): Promise<{ path: string; created: boolean }> {
  assertDeviceId(id);
  await mkdir(join(root, 'devices'), { recursive: true });
  const path = join(root, 'devices', `${id}.git`);
  return { path, created: await writeBareRepo(path, 'device') };
}

/** Creates many device repositories quickly (no git process per repository), `concurrency` at a time. */
export async function ensureDeviceRepos(
  root: string,
  ids: string[],
  concurrency = 32,
): Promise<{ created: number }> {
  ids.forEach(assertDeviceId);
  await mkdir(join(root, 'devices'), { recursive: true });
  let next = 0;
  let created = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      if (await writeBareRepo(join(root, 'devices', `${id}.git`), 'device')) created++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return { created };
}

/** Absolute path of a repository under the root. */
export function repoPath(root: string, repo: RepoRef): string {
  return join(root, repo.name);
}
