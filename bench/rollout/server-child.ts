/**
 * bench/rollout's Git server process: the embedded Git server as `margo serve` composes it (token
 * auth, fleet push validation, per-token rate limit), without the orchestrator, which runs in a
 * process of its own so its CPU and RSS are its own. Push and device-seen events go to the parent
 * over IPC (seen events batched every 500 ms), which hands them to the orchestrator process.
 * Prints `{"port":N}` on stdout when listening.
 *   server-child.ts <reposRoot> <tokens.json>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenStore, createGitHttpHandler } from '@margo-gitops/git';
import { validateFleetPush } from '../../packages/cli/src/fleet-push-validator.js';

const [reposRoot, tokensFile] = process.argv.slice(2) as [string, string];
const seen = new Set<string>();
let errors = 0;
const handler = createGitHttpHandler({
  reposRoot,
  tokens: TokenStore.open(tokensFile),
  validators: { fleet: validateFleetPush },
  onPush: (e) =>
    process.send!({ push: { repo: e.repo, ref: e.ref, ...(e.deviceId ? { deviceId: e.deviceId } : {}) } }),
  onDeviceSeen: (id) => seen.add(id),
  onError: (e) => {
    if (errors++ < 5) process.stderr.write(`git server error: ${(e as Error).message}\n`);
  },
});
setInterval(() => {
  if (!seen.size) return;
  process.send!({ seen: [...seen] });
  seen.clear();
}, 500).unref();
const server = http.createServer((req, res) => {
  handler(req, res)
    .then((handled) => {
      if (!handled) res.writeHead(404).end();
    })
    .catch(() => res.destroy());
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
process.on('message', (m: { cpu?: boolean }) => {
  if (m.cpu)
    process.send!({
      cpu: process.cpuUsage(),
      maxRssKb: process.resourceUsage().maxRSS,
      errors,
    });
});
process.on('disconnect', () => process.exit(0));
