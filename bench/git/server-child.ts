/**
 * A Git HTTP server in its own process, so the benchmark can read its CPU time from /proc:
 *   margo  <reposRoot> <tokens.json>   the embedded server (auth, rate limit off; BENCH_HOOK_RUNNER=node
 *                                      forces the Node pre-receive hook)
 *   cgi    <reposRoot>                 plain node:http wrapper running `git http-backend` per request, no auth
 * Prints `{"port":N}` on stdout when listening; answers "bytes" on stdin with socket byte totals.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { TokenStore, createGitHttpHandler } from '@margo-gitops/git';

const [mode, reposRoot, tokensFile] = process.argv.slice(2) as [string, string, string | undefined];

function cgi(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...process.env,
      GIT_PROJECT_ROOT: reposRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: url.pathname.replace(/^\/git/, ''),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      GIT_PROTOCOL: (req.headers['git-protocol'] as string) ?? '',
      HTTP_CONTENT_ENCODING: (req.headers['content-encoding'] as string) ?? '',
      REMOTE_USER: 'bench',
    },
  });
  let head: Buffer | undefined = Buffer.alloc(0);
  child.stdout.on('data', (d: Buffer) => {
    if (!head) return void res.write(d);
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const i = line.indexOf(':');
      if (line.toLowerCase().startsWith('status:')) status = parseInt(line.slice(7), 10);
      else if (i > 0) headers[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
    head = undefined;
  });
  child.on('close', () => res.end());
  req.pipe(child.stdin);
}

const handler =
  mode === 'margo'
    ? createGitHttpHandler({
        reposRoot,
        tokens: TokenStore.open(tokensFile!),
        rateLimit: false,
        ...(process.env.BENCH_HOOK_RUNNER === 'node' ? { hookRunner: 'node' as const } : {}),
      })
    : undefined;
const server = http.createServer((req, res) => {
  if (handler) void handler(req, res);
  else cgi(req, res);
});
let bytes = 0;
const live = new Set<Socket>();
server.on('connection', (s: Socket) => {
  live.add(s);
  s.on('close', () => {
    bytes += s.bytesRead + s.bytesWritten;
    live.delete(s);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'bytes') {
    let total = bytes;
    for (const s of live) total += s.bytesRead + s.bytesWritten;
    process.stdout.write(JSON.stringify({ bytes: total }) + '\n');
  }
});
