import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The pre-receive hook the embedded server makes git run (through `core.hooksPath`, set per request
 * in the environment of git http-backend, so repositories carry no hook files of their own). The
 * hook only carries the ref updates and the quarantine environment to the server's hook service
 * (hook-service.ts) on 127.0.0.1 and relays its verdict; every check runs in the server process.
 *
 * Line protocol (one connection per push), hook -> server:
 *   `margo-hook 1`, secret, request id, hook name, GIT_DIR (absolute), GIT_OBJECT_DIRECTORY,
 *   GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_QUARANTINE_PATH, the hook's stdin lines, `.`
 * server -> hook: `ok` or `refused`, then the lines git shows the pusher (`remote: ...`).
 *
 * Two runners speak it: a bash script using bash's own /dev/tcp (no other program starts: about
 * 2 ms of CPU), and, where no such bash exists, a dependency-free Node script (about 50-100 ms of
 * CPU per push, a whole Node start).
 */
export type HookRunner = 'bash' | 'node';

export const HOOK_PROTOCOL = 'margo-hook 1';

const HOOK_BASH = (bash: string): string => `#!${bash}
# margo-gitops pre-receive hook (generated; do not edit). Asks the server for the verdict over
# 127.0.0.1 with bash's /dev/tcp, so a push starts no other program.
refuse() { printf '%s\\n' "$1" >&2; exit 1; }
[ -n "$MARGO_HOOK_PORT" ] || refuse 'margo: the validation service is not configured; push refused'
{ exec 3<>"/dev/tcp/127.0.0.1/$MARGO_HOOK_PORT"; } 2>/dev/null ||
  refuse 'margo: the validation service is unreachable; push refused'
gd=\${GIT_DIR:-.}
case $gd in /*) ;; *) gd=$PWD/$gd ;; esac
{
  printf '${HOOK_PROTOCOL}\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s\\n' "$MARGO_HOOK_SECRET" "$MARGO_HOOK_REQUEST" \\
    pre-receive "$gd" "$GIT_OBJECT_DIRECTORY" "$GIT_ALTERNATE_OBJECT_DIRECTORIES" "$GIT_QUARANTINE_PATH"
  while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done
  printf '.\\n'
} >&3
IFS= read -r -t 150 verdict <&3 || refuse 'margo: the validation service did not answer; push refused'
while IFS= read -r -t 30 l <&3 || [ -n "$l" ]; do printf '%s\\n' "$l" >&2; l=; done
[ "$verdict" = ok ] && exit 0
exit 1
`;

const HOOK_JS = String.raw`'use strict';
// margo-gitops git hook (generated; do not edit). Usage: node margo-hook.cjs pre-receive
const net = require('node:net');
const path = require('node:path');
const kind = process.argv[2];
const fail = (msg) => {
  process.stderr.write(msg + '\n');
  process.exit(1);
};
const port = Number(process.env.MARGO_HOOK_PORT);
if (!port) fail('margo: the validation service is not configured; push refused');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const stdin = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  const e = process.env;
  const head = ['${HOOK_PROTOCOL}', e.MARGO_HOOK_SECRET || '', e.MARGO_HOOK_REQUEST || '', kind,
    path.resolve(e.GIT_DIR || '.'), e.GIT_OBJECT_DIRECTORY || '', e.GIT_ALTERNATE_OBJECT_DIRECTORIES || '',
    e.GIT_QUARANTINE_PATH || ''];
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  sock.setEncoding('utf8');
  sock.setTimeout(150000, () => sock.destroy(new Error('timeout')));
  sock.on('data', (d) => (data += d));
  sock.on('error', (err) => fail('margo: the validation service is unreachable (' + err.message + '); push refused'));
  sock.on('end', () => {
    const lines = data.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const verdict = lines.shift();
    if (verdict !== 'ok' && verdict !== 'refused') fail('margo: the validation service gave an unreadable answer; push refused');
    for (const m of lines) process.stderr.write(m + '\n');
    process.exit(verdict === 'ok' ? 0 : 1);
  });
  sock.end([...head, ...stdin, '.'].join('\n') + '\n');
});
`;

/** Writes the `pre-receive` hook for `runner` (and the Node script it runs) into `dir`. */
export async function installHooks(
  dir: string,
  runner: HookRunner = 'node',
  bashPath = '/bin/bash',
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = join(dir, 'pre-receive');
  if (runner === 'bash') await writeFile(p, HOOK_BASH(bashPath));
  else {
    await writeFile(join(dir, 'margo-hook.cjs'), HOOK_JS, { mode: 0o644 });
    await writeFile(
      p,
      `#!/bin/sh\n# margo-gitops (generated)\nexec "\${MARGO_HOOK_NODE:-node}" "\${0%/*}/margo-hook.cjs" pre-receive\n`,
    );
  }
  await chmod(p, 0o755);
}
