import * as nodeFs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import type { PromiseFsClient } from 'isomorphic-git';

/**
 * Writes `data` to a temporary file next to `path`, then renames it into place: a reader (or a
 * process restarted after `kill -9`) sees the old file or the complete new one, never a truncated
 * one.
 */
async function atomicWriteFile(
  path: nodeFs.PathLike,
  data: string | Uint8Array,
  options?: nodeFs.WriteFileOptions,
): Promise<void> {
  const tmp = `${String(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, options);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * The file system handed to isomorphic-git: node's, except that files are written atomically.
 * isomorphic-git writes loose objects in place and never rewrites an object file that exists, so
 * one killed mid-write would leave a truncated object that breaks every later push or read.
 */
export const isoFs: PromiseFsClient = {
  promises: { ...nodeFs.promises, writeFile: atomicWriteFile } as PromiseFsClient['promises'],
};
