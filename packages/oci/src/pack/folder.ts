/**
 * Reads a folder into tar entries (the I/O half of packing; tar.ts is the pure half). Symlinks are
 * kept as links only when they stay inside the folder; anything else that is not a file or a
 * folder (sockets, FIFOs, devices) is refused.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { TarEntry } from './tar.js';

/** Names never packed: VCS metadata and OS litter. */
const SKIP = new Set(['.git', '.DS_Store']);

export interface ReadFolderOptions {
  /** Archive path every entry is placed under (`hello` -> `hello/compose.yaml`); '' = the root. */
  prefix: string;
  /** How to name the folder in errors. */
  label?: string;
  /** More names to leave out (relative, `/`-separated), e.g. from .helmignore. */
  ignore?: (rel: string, isDir: boolean) => boolean;
}

export async function readFolder(dir: string, o: ReadFolderOptions): Promise<TarEntry[]> {
  const label = o.label ?? dir;
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory())
    throw new MargoError('OCI_PACK_INVALID', `${label} is not a folder`, { data: { path: label } });
  const out: TarEntry[] = [];
  const at = (rel: string) => (o.prefix ? (rel ? `${o.prefix}/${rel}` : o.prefix) : rel);
  if (o.prefix) out.push({ path: o.prefix, type: 'dir' });
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      if (SKIP.has(name)) continue;
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(dir, r);
      const st = await lstat(abs);
      if (o.ignore?.(r, st.isDirectory())) continue;
      if (st.isDirectory()) {
        out.push({ path: at(r), type: 'dir' });
        await walk(r);
      } else if (st.isFile()) {
        out.push({
          path: at(r),
          type: 'file',
          data: await readFile(abs),
          executable: (st.mode & 0o111) !== 0,
        });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        const resolved = posix.normalize(posix.join(posix.dirname(r), target));
        if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../'))
          throw new MargoError(
            'OCI_PACK_PATH_OUTSIDE',
            `${label}/${r} is a link to ${JSON.stringify(target)}, outside the folder`,
            { data: { path: `${label}/${r}` } },
          );
        out.push({ path: at(r), type: 'symlink', target });
      } else {
        throw new MargoError('OCI_PACK_INVALID', `${label}/${r} is not a file, folder or link`, {
          data: { path: `${label}/${r}` },
        });
      }
    }
  };
  await walk('');
  return out;
}
