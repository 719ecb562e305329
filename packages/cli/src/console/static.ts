import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { securityHeaders, sendError } from './http.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` names: their content never changes, so browsers may keep them. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+(\.map)?$/;

/** Where the built console lives: the console package's dist folder, found when first needed. */
export function lazyAssetsDir(): () => Promise<string | undefined> {
  let dir: Promise<string | undefined> | undefined;
  return () =>
    (dir ??= import('@margo-gitops/console').then((m) => m.consoleAssetsDir()).catch(() => undefined));
}

const missing = () =>
  new MargoError('CONSOLE_ASSETS_MISSING', "the console's built files are not installed with this margo");

/**
 * Serves `/ui/assets/*` from `<dir>/assets` (long cache for hashed names) and the UI's index.html
 * for every other `/ui` path (the UI routes with the history API). 503 CONSOLE_ASSETS_MISSING when
 * the console was not built.
 */
export async function serveStatic(
  path: string,
  method: string,
  res: ServerResponse,
  dir: string | undefined,
): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { ...securityHeaders(), allow: 'GET, HEAD' }).end();
    return;
  }
  if (!dir) return sendError(res, missing());
  let file: string;
  let cache: string;
  if (path.startsWith('/ui/assets/')) {
    const rel = path.slice('/ui/assets/'.length);
    const root = resolve(dir, 'assets');
    file = resolve(root, rel);
    if (!rel || rel.split('/').some((s) => s === '' || s.startsWith('.')) || !file.startsWith(root + sep)) {
      return sendError(res, new MargoError('CONSOLE_NOT_FOUND', `no console asset ${rel.slice(0, 80)}`));
    }
    cache = HASHED.test(rel) ? 'public, max-age=31536000, immutable' : 'no-cache';
  } else {
    file = join(dir, 'index.html');
    cache = 'no-cache';
  }
  let body: Buffer;
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    body = await readFile(file);
  } catch {
    if (file.endsWith('index.html')) return sendError(res, missing());
    return sendError(res, new MargoError('CONSOLE_NOT_FOUND', `no console asset ${path.slice(11, 91)}`));
  }
  res.writeHead(200, {
    ...securityHeaders(),
    'content-type':
      TYPES[extname(file)] ??
      (file.endsWith('.html') ? 'text/html; charset=utf-8' : 'application/octet-stream'),
    'content-length': String(body.length),
    'cache-control': cache,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
