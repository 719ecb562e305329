import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { TokenInfo } from '@margo-gitops/git';
import { FailureRateLimiter, isValidDeviceId } from '@margo-gitops/spec';
import { DeviceReferences, gitBytes } from './device-references.js';

export { catalogReferences } from './device-references.js';

export interface CatalogFilesOptions {
  /** The token of a request (from its Authorization header), or undefined when missing or wrong. */
  authenticate?: (req: IncomingMessage) => { given: boolean; token?: TokenInfo };
  /** Failed or malformed requests per address (shared with the Git server). */
  failures?: FailureRateLimiter;
  /** What device desired states reference (shared with the embedded registry). */
  references?: DeviceReferences;
}

/**
 * Serves files of the catalog repository (branch main) read-only at
 * `/catalog/<appId>/<version>/<path>`, straight from the bare repository, so relative Compose
 * `packageLocation`s resolve to URLs devices can download.
 *
 * With `authenticate`, a token is required (401 without one): admin, operator and publisher
 * tokens read every file; a device token reads only what its own desired state references (the
 * `/catalog/...` URLs in the deployment files on its repository's `main`, plus the `.sig`/`.asc`
 * beside each), 403 GIT_CATALOG_FILE_FORBIDDEN otherwise. Wrong tokens and malformed URLs count
 * against the address in `failures`.
 */
export function catalogFilesHandler(dataDir: string, opts: CatalogFilesOptions = {}) {
  const gitDir = join(dataDir, 'repos', 'catalog.git');
  const references = opts.references ?? new DeviceReferences(join(dataDir, 'repos', 'devices'));
  const text = (res: ServerResponse, status: number, message: string, headers = {}) =>
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${message}\n`);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const blocked = opts.failures?.retryAfterSeconds(address) ?? 0;
    if (blocked > 0) {
      text(res, 429, `GIT_RATE_LIMITED too many failed or malformed requests; retry in ${blocked}s`, {
        'retry-after': String(blocked),
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent((req.url ?? '').split('?')[0]!.replace(/^\/catalog\//, ''));
    } catch {
      opts.failures?.fail(address);
      text(res, 400, 'GIT_BAD_REQUEST malformed URL encoding');
      return;
    }
    if (!rel || rel.split('/').some((s) => s === '' || s === '.' || s === '..' || s === '.git')) {
      opts.failures?.fail(address);
      text(res, 400, 'GIT_BAD_REQUEST not a catalog file path');
      return;
    }
    if (opts.authenticate) {
      const who = opts.authenticate(req);
      if (!who.token) {
        if (who.given) opts.failures?.fail(address);
        text(res, 401, 'GIT_AUTH_FAILED a margo token is required to download catalog files', {
          'www-authenticate': 'Bearer realm="margo"',
        });
        return;
      }
      if (who.token.role === 'device') {
        const id = who.token.deviceId ?? '';
        if (!isValidDeviceId(id) || !(await references.allowsCatalogFile(id, rel))) {
          text(
            res,
            403,
            `GIT_CATALOG_FILE_FORBIDDEN the desired state of device ${id} does not reference ${rel}`,
          );
          return;
        }
      }
    }
    const body = await gitBytes(['--git-dir', gitDir, 'cat-file', 'blob', `main:${rel}`]);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not in the catalog: ${rel}\n`);
      return;
    }
    const type =
      rel.endsWith('.tar.gz') || rel.endsWith('.tgz')
        ? 'application/gzip'
        : rel.endsWith('.yaml')
          ? 'application/yaml'
          : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
