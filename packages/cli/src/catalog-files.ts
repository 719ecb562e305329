import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * Serves files of the catalog repository (branch main) read-only at
 * `/catalog/<appId>/<version>/<path>`, straight from the bare repository, so relative Compose
 * `packageLocation`s resolve to URLs devices can download.
 */
export function catalogFilesHandler(
  dataDir: string,
  opts: { authorize?: (req: IncomingMessage) => Promise<boolean> } = {},
) {
  const gitDir = join(dataDir, 'repos', 'catalog.git');
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (opts.authorize && !(await opts.authorize(req))) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="margo"' }).end();
      return;
    }
    const rel = decodeURIComponent((req.url ?? '').split('?')[0]!.replace(/^\/catalog\//, ''));
    if (!rel || rel.split('/').some((s) => s === '' || s === '.' || s === '..' || s === '.git')) {
      res.writeHead(400).end();
      return;
    }
    const body = await gitShow(gitDir, `main:${rel}`);
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

function gitShow(gitDir: string, spec: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', 'blob', spec], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
  });
}
