/**
 * bench/api server process: `margo serve`'s real API listener (startApiServer, signed mode) over a
 * prepared data folder, alone in its process so /proc/<pid>/stat is its CPU. Prints `{"port":N}`
 * when listening; answers "bytes" on stdin with the TCP bytes of every connection (TLS included).
 */
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSignedStateAuditor, loadPki } from '@margo-gitops/trust';
import { startApiServer } from '../../packages/cli/src/api-server.ts';

const dataDir = process.argv[2]!;
const pki = await loadPki(join(dataDir, 'pki'));
const api = await startApiServer({
  dataDir,
  pki,
  listen: '127.0.0.1:0',
  // Capacity is measured, so each simulated device may poll as fast as the load drives it (the
  // default per-device budget, 20 reads a second, is for real devices that poll every 30 s; the
  // limiter's own cost per request is still paid).
  rateLimits: { read: { burst: 1e9, perSecond: 1e9 }, write: { burst: 1e9, perSecond: 1e9 } },
  auditor: createSignedStateAuditor({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
  onError: (e) => process.stderr.write(`api error: ${(e as Error).message}\n`),
});
let bytes = 0;
const live = new Set<Socket>();
api.server.on('connection', (s: Socket) => {
  live.add(s);
  s.on('close', () => {
    bytes += s.bytesRead + s.bytesWritten;
    live.delete(s);
  });
});
// A clean exit on SIGTERM, so that `--cpu-prof` (bench/api --prof DIR) writes its profile.
process.on('SIGTERM', () => process.exit(0));
process.stdout.write(JSON.stringify({ port: api.port }) + '\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'bytes') {
    let total = bytes;
    for (const s of live) total += s.bytesRead + s.bytesWritten;
    process.stdout.write(JSON.stringify({ bytes: total }) + '\n');
  }
});
