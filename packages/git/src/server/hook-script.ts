import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The hooks the embedded server makes git run (through `core.hooksPath`, set per request in the
 * environment of git http-backend, so repositories carry no hook files of their own). Each hook is
 * a tiny dependency-free Node script that sends the ref updates and the quarantine environment to
 * the server over a Unix socket and prints the verdict's messages (git shows them as `remote:`).
 */
const HOOK_JS = String.raw`'use strict';
// margo-gitops git hook (generated; do not edit). Usage: node margo-hook.cjs pre-receive
const http = require('node:http');
const path = require('node:path');
const kind = process.argv[2];
const socketPath = process.env.MARGO_HOOK_SOCKET;
if (!socketPath) process.exit(0);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const body = JSON.stringify({
    hook: kind,
    secret: process.env.MARGO_HOOK_SECRET || '',
    request: process.env.MARGO_HOOK_REQUEST || '',
    stdin: Buffer.concat(chunks).toString('utf8'),
    gitDir: path.resolve(process.env.GIT_DIR || '.'),
    objectDirectory: process.env.GIT_OBJECT_DIRECTORY || '',
    alternates: process.env.GIT_ALTERNATE_OBJECT_DIRECTORIES || '',
    quarantine: process.env.GIT_QUARANTINE_PATH || '',
  });
  const fail = (msg) => {
    process.stderr.write(msg + '\n');
    process.exit(kind === 'pre-receive' ? 1 : 0);
  };
  const req = http.request(
    { socketPath, path: '/hook', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
    (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => {
        let v;
        try {
          v = JSON.parse(data);
        } catch (e) {
          return fail('margo: the validation service gave an unreadable answer; push refused');
        }
        for (const m of v.messages || []) process.stderr.write(m + '\n');
        process.exit(v.ok ? 0 : 1);
      });
    },
  );
  req.setTimeout(120000, () => req.destroy(new Error('timeout')));
  req.on('error', (e) => fail('margo: the validation service is unreachable (' + e.message + '); push refused'));
  req.end(body);
});
`;

function wrapper(hook: string): string {
  return `#!/bin/sh\n# margo-gitops (generated)\nexec "\${MARGO_HOOK_NODE:-node}" "$(dirname "$0")/margo-hook.cjs" ${hook}\n`;
}

/** Writes `pre-receive` and `margo-hook.cjs` into `dir`. */
export async function installHooks(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'margo-hook.cjs'), HOOK_JS, { mode: 0o644 });
  for (const hook of ['pre-receive']) {
    const p = join(dir, hook);
    await writeFile(p, wrapper(hook));
    await chmod(p, 0o755);
  }
}
