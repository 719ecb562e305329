/**
 * Deterministic tar.gz: same entries -> same bytes -> same digest, on any machine and any day.
 * Entries are sorted by path; every header has mtime 0, uid/gid 0, no user or group names and a
 * normalised mode (0755 folders and executables, 0644 other files, 0777 symlinks); the gzip header
 * has mtime 0 and OS "unknown" (255) so that the platform does not leak into the bytes either.
 * (The deflate stream itself comes from the zlib Node ships: another zlib build could compress
 * differently, which is why a published package keeps its packed bytes rather than re-packing.)
 */
import { gzipSync } from 'node:zlib';
import { MargoError } from '@margo-gitops/spec';

export type TarEntry =
  | { path: string; type: 'dir' }
  | { path: string; type: 'file'; data: Uint8Array; executable?: boolean }
  | { path: string; type: 'symlink'; target: string };

const BLOCK = 512;

/** ustar splits a long path into prefix (<= 155) + '/' + name (<= 100). */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { name, prefix };
  }
  throw new MargoError('OCI_PACK_INVALID', `${path}: the path is too long for a tar archive (ustar)`, {
    data: { path },
  });
}

function octal(buf: Buffer, off: number, len: number, n: number): void {
  buf.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const path = e.type === 'dir' ? `${e.path}/` : e.path;
  const { name, prefix } = splitPath(path);
  h.write(name, 0, 100, 'utf8');
  const mode = e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : e.executable ? 0o755 : 0o644;
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime
  h.write(e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0', 156, 1, 'ascii');
  if (e.type === 'symlink') {
    if (Buffer.byteLength(e.target) > 100)
      throw new MargoError('OCI_PACK_INVALID', `${e.path}: the link target is too long for ustar`, {
        data: { path: e.path },
      });
    h.write(e.target, 157, 100, 'utf8');
  }
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  h.write(prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function checkPath(p: string): void {
  const parts = p.split('/');
  if (!p || p.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..') || p.includes('\0'))
    throw new MargoError('OCI_PACK_INVALID', `${JSON.stringify(p)} is not a relative archive path`, {
      data: { path: p },
    });
}

/** The uncompressed tar of `entries` (sorted here; duplicate paths refused). */
export function tarBytes(entries: readonly TarEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const out: Buffer[] = [];
  let prev: string | undefined;
  for (const e of sorted) {
    checkPath(e.path);
    if (e.path === prev)
      throw new MargoError('OCI_PACK_INVALID', `${e.path} appears twice in the archive`, {
        data: { path: e.path },
      });
    prev = e.path;
    const size = e.type === 'file' ? e.data.byteLength : 0;
    out.push(header(e, size));
    if (e.type === 'file') {
      out.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) out.push(Buffer.alloc(pad));
    }
  }
  out.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(out);
}

/** gzip with a fixed header (mtime 0, OS 255): the bytes depend only on the input. */
export function gzipDeterministic(bytes: Uint8Array): Buffer {
  const gz = gzipSync(bytes, { level: 9 });
  gz.writeUInt32LE(0, 4);
  gz[9] = 0xff;
  return gz;
}

/** `tarBytes` + `gzipDeterministic`. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  return gzipDeterministic(tarBytes(entries));
}
