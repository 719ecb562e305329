import { MargoError } from '@margo-gitops/spec';

export const ZERO_OID = '0000000000000000000000000000000000000000';
const OID_RE = /^[0-9a-f]{40}$/;

/** True for a full 40-hex SHA-1 object id. */
export function isOid(s: string): boolean {
  return OID_RE.test(s);
}

/** `main` -> `refs/heads/main`; full refs and `HEAD` are kept. */
export function fullRef(ref: string): string {
  if (ref === 'HEAD' || ref.startsWith('refs/')) return ref;
  return `refs/heads/${ref}`;
}

/** Short branch name of `refs/heads/x` (or the input when it is not a branch ref). */
export function shortRef(ref: string): string {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
}

/** Validates a ref name the way git's check-ref-format does (the subset margo needs). */
export function assertRefName(ref: string): void {
  const full = fullRef(ref);
  if (full === 'HEAD') return;
  const bad =
    !/^refs\/[A-Za-z0-9._\/-]+$/.test(full) ||
    full.includes('..') ||
    full.includes('//') ||
    full.endsWith('/') ||
    full.endsWith('.lock') ||
    full.endsWith('.') ||
    full.split('/').some((s) => s.startsWith('.') || s === '');
  if (bad) throw new MargoError('GIT_REF_NOT_FOUND', `invalid ref name "${ref}"`, { data: { ref } });
}

/** Checks that a file path is a clean relative path inside a repository. */
export function assertFilePath(path: string): void {
  const segs = path.split('/');
  const bad =
    path.length === 0 ||
    path.includes('\0') ||
    path.includes('\\') ||
    segs.some((s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git');
  if (bad) throw new MargoError('GIT_INVALID_PATH', `invalid file path "${path}"`, { data: { path } });
}

/** Normalises a prefix filter: '' / undefined = everything; otherwise ends with '/'. */
export function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const p = prefix.replace(/^\/+/, '');
  return p.endsWith('/') ? p : `${p}/`;
}

/** Builds the commit message with trailers (`Key: value` lines after a blank line). */
export function buildMessage(message: string, trailers?: Record<string, string>): string {
  let msg = message.endsWith('\n') ? message : `${message}\n`;
  const entries = Object.entries(trailers ?? {});
  if (entries.length) {
    for (const [k, v] of entries) {
      if (!/^[A-Za-z0-9-]+$/.test(k) || /[\r\n]/.test(v)) {
        throw new MargoError('USAGE_ERROR', `invalid commit trailer "${k}"`);
      }
    }
    msg += `\n${entries.map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
  }
  return msg;
}

/** File content as a Buffer (strings are UTF-8). */
export function toBuffer(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}
