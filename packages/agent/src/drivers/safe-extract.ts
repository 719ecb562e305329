/**
 * Extracts a Compose package (tar or tar.gz) into a folder so that nothing lands outside it: the
 * whole archive is checked first and refused (AGENT_ARTIFACT_PATH_OUTSIDE) when any entry has an
 * absolute path or a `..` that leaves the folder, a symbolic or hard link pointing out of it, a
 * path going through a link of the archive, or is a device file or FIFO. Only then is it unpacked,
 * into a temporary sibling renamed into place, so a refused or broken archive leaves nothing behind.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { MargoError } from '@margo-gitops/spec';

/** Entry types a Compose folder may hold. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

export interface TarEntryInfo {
  path: string;
  type: string;
  linkpath?: string;
  size: number;
}

/** The archive-relative path of an entry, or null when it is absolute or leaves the folder. */
export function insidePath(p: string): string | null {
  if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p) || p.includes('\0')) return null;
  const n = posix.normalize(p.replace(/\\/g, '/'));
  if (n === '..' || n.startsWith('../')) return null;
  return n.replace(/\/+$/, '').replace(/^\.\/?/, '') || '.';
}

/**
 * Checks every entry of an archive (pure: the list `tar -t` would print). Returns the first reason
 * the archive must be refused, or null. `maxUnpackedBytes` bounds the total size (gzip bombs).
 */
export function checkEntries(entries: readonly TarEntryInfo[], maxUnpackedBytes: number): string | null {
  const links = new Set<string>();
  let total = 0;
  for (const e of entries) {
    const p = insidePath(e.path);
    if (p === null) return `entry ${JSON.stringify(e.path)} is outside the package folder`;
    // A path through a link of the archive could reach anything the link points at, whatever
    // its own spelling: refused outright.
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (links.has(prefix)) return `entry ${JSON.stringify(e.path)} goes through the link ${prefix}`;
    }
    if (e.type === 'SymbolicLink') {
      const target = e.linkpath ?? '';
      if (!target || insidePath(posix.join(posix.dirname(p), target)) === null || target.startsWith('/'))
        return `link ${JSON.stringify(e.path)} points outside the package folder (${JSON.stringify(target)})`;
      links.add(p);
    } else if (e.type === 'Link') {
      if (insidePath(e.linkpath ?? '') === null || !e.linkpath)
        return `hard link ${JSON.stringify(e.path)} points outside the package folder`;
    } else if (!FILE_TYPES.has(e.type) && e.type !== 'Directory') {
      return `entry ${JSON.stringify(e.path)} is a ${e.type}, not a file, folder or link`;
    } else if (links.has(p)) {
      // A later entry replacing a link: the writer would follow it.
      return `entry ${JSON.stringify(e.path)} replaces a link of the archive`;
    }
    total += Math.max(0, e.size);
    if (total > maxUnpackedBytes) return `the package unpacks to more than ${maxUnpackedBytes} bytes`;
  }
  return null;
}

/** Lists the entries of a tar(.gz) file (no extraction). Throws AGENT_PACKAGE_INVALID when unreadable. */
export async function listEntries(archive: string): Promise<TarEntryInfo[]> {
  const tar = await import('tar');
  const out: TarEntryInfo[] = [];
  try {
    await tar.t({
      file: archive,
      strict: true,
      onReadEntry: (e) => {
        out.push({
          path: e.path,
          type: e.type,
          ...(e.linkpath ? { linkpath: e.linkpath } : {}),
          size: e.size ?? 0,
        });
      },
    });
  } catch (e) {
    throw new MargoError(
      'AGENT_PACKAGE_INVALID',
      `package is not a readable tar archive: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return out;
}

/**
 * Extracts the tar(.gz) file `archive` into `dest`, replacing it. Refuses the whole archive
 * (AGENT_ARTIFACT_PATH_OUTSIDE, AGENT_ARTIFACT_TOO_LARGE) before writing anything into `dest`.
 */
export async function safeExtract(
  archive: string,
  dest: string,
  o: { maxUnpackedBytes: number; what: string },
): Promise<void> {
  mkdirSync(join(dest, '..'), { recursive: true });
  const tmp = `${dest}.unpack-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const entries = await listEntries(archive);
    const bad = checkEntries(entries, o.maxUnpackedBytes);
    if (bad) {
      const code = /unpacks to more than/.test(bad)
        ? 'AGENT_ARTIFACT_TOO_LARGE'
        : 'AGENT_ARTIFACT_PATH_OUTSIDE';
      throw new MargoError(code, `${o.what}: ${bad}; nothing was extracted`);
    }
    mkdirSync(tmp, { recursive: true });
    const tar = await import('tar');
    try {
      // Checked above; preservePaths:false and node-tar's own link checks stay as a second line.
      await tar.x({ file: archive, cwd: tmp, strict: true, preservePaths: false, preserveOwner: false });
    } catch (e) {
      throw new MargoError(
        'AGENT_PACKAGE_INVALID',
        `${o.what}: the archive cannot be extracted: ${(e as Error).message}`,
        { cause: e },
      );
    }
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
