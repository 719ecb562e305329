/**
 * bench/registry: pulling a 50 MB artifact from margo's embedded OCI registry (a real `margo
 * serve`, artifact committed to the catalog with git) against the testbed's docker-registry
 * (127.0.0.1:5000, the same artifact pushed there), same machine, same run, same client.
 *   (1) time per pull (manifest + config + layer, every digest checked by the client): median of
 *       --rounds alternating pulls; target: embedded <= 1.2x docker-registry
 *   (2) the server's extra RSS while serving (sampled every 20 ms, minus its RSS before the
 *       first pull); target <= 64 MB
 * The first pull from margo fills its verified blob cache (copy out of Git + sha256) and is shown
 * apart; the rounds are warm for both (docker-registry reads its filesystem, margo its cache).
 * Run: node --conditions=source --import tsx bench/registry/index.ts [--rounds 9] [--mb 50]
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import {
  COMPOSE_ARTIFACT,
  composeArtifact,
  EMPTY_CONFIG,
  OCI_MANIFEST,
  sha256Digest,
} from '@margo-gitops/oci';
import { basic, layoutFiles, pushCatalog, startMargo } from '../../test/integration/registry/helpers.ts';
import { loadTestbed, testbedProcessEnv } from '../../test/testbed/env.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = arg('rounds', 9);
const MB = arg('mb', 50);
const agent = new http.Agent({ keepAlive: true });

interface Target {
  label: string;
  base: string;
  name: string;
  auth?: string;
}

/** GET `path`; resolves with status, headers and the body's sha256 and length (streamed, not kept). */
function get(
  t: Target,
  path: string,
  accept?: string,
): Promise<{
  status: number;
  digest: string;
  size: number;
  body?: Buffer;
  headers: http.IncomingHttpHeaders;
}> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${t.base}${path}`,
      { agent, headers: { ...(t.auth ? { authorization: t.auth } : {}), ...(accept ? { accept } : {}) } },
      (res) => {
        const hash = createHash('sha256');
        const keep: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          hash.update(d);
          size += d.length;
          if (size < 1 << 20) keep.push(d);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            digest: `sha256:${hash.digest('hex')}`,
            size,
            body: Buffer.concat(keep),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

/** One pull as a client does it: manifest by tag, then each blob, every digest checked. Milliseconds. */
async function pull(t: Target, tag: string, want: string): Promise<number> {
  const t0 = performance.now();
  const m = await get(t, `/v2/${t.name}/manifests/${tag}`, OCI_MANIFEST);
  if (m.status !== 200 || m.digest !== want) throw new Error(`${t.label}: manifest ${m.status} ${m.digest}`);
  const manifest = JSON.parse(m.body!.toString('utf8')) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  for (const d of [manifest.config, ...manifest.layers]) {
    const b = await get(t, `/v2/${t.name}/blobs/${d.digest}`);
    if (b.status !== 200 || b.digest !== d.digest)
      throw new Error(`${t.label}: blob ${d.digest} ${b.status} ${b.digest}`);
  }
  return performance.now() - t0;
}

/** Pushes blobs and the manifest to an open registry (monolithic uploads). */
async function pushToRegistry(
  base: string,
  name: string,
  tag: string,
  blobs: Buffer[],
  manifest: Buffer,
): Promise<void> {
  for (const b of blobs) {
    const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
    const loc = new URL(start.headers.get('location')!, base);
    loc.searchParams.set('digest', sha256Digest(b));
    const put = await fetch(loc, {
      method: 'PUT',
      body: new Uint8Array(b),
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201) throw new Error(`upload: HTTP ${put.status} ${await put.text()}`);
  }
  const res = await fetch(`${base}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body: new Uint8Array(manifest),
    headers: { 'content-type': OCI_MANIFEST },
  });
  if (res.status !== 201) throw new Error(`manifest: HTTP ${res.status} ${await res.text()}`);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toFixed(1);

async function main(): Promise<void> {
  const tb = loadTestbed();
  if (!tb?.registry) throw new Error('bench/registry needs the testbed registry (test/testbed/up)');
  const layer = randomBytes(MB * 1024 * 1024); // incompressible: no transfer is cheaper than another
  const art = composeArtifact(sha256Digest(layer), layer.length, '1.0.0');
  const s = await startMargo(testbedProcessEnv(tb));
  try {
    const app = `bench-${randomBytes(3).toString('hex')}`;
    const pushed = await pushCatalog(
      s,
      layoutFiles(`${app}/1.0.0`, [
        {
          repository: `${app}/big`,
          tag: '1.0.0',
          manifest: art.bytes,
          mediaType: OCI_MANIFEST,
          artifactType: COMPOSE_ARTIFACT,
          blobs: [EMPTY_CONFIG, layer],
        },
      ]),
      'bench artifact',
    );
    if (!pushed.ok) throw new Error(`catalog push refused:\n${pushed.output}`);
    const regName = `bench/${app}`;
    await pushToRegistry(`http://${tb.registry}`, regName, '1.0.0', [EMPTY_CONFIG, layer], art.bytes);
    const margo: Target = { label: 'margo', base: s.url, name: `${app}/big`, auth: basic(s.tokens.operator) };
    const registry: Target = { label: 'docker-registry', base: `http://${tb.registry}`, name: regName };
    const pid = s.server.pid!;
    // Baseline: the server up, the catalog pushed, one authenticated request answered.
    await get(margo, '/v2/');
    await new Promise((r) => setTimeout(r, 500));
    const baseKb = rssKb(pid);
    let peakKb = baseKb;
    const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(pid))), 20);
    const cold = await pull(margo, '1.0.0', art.digest);
    const times: Record<string, number[]> = { margo: [], 'docker-registry': [] };
    await pull(registry, '1.0.0', art.digest); // warm the registry's page cache too
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first so drifts in load hit both.
      const order = i % 2 ? [registry, margo] : [margo, registry];
      for (const t of order) times[t.label]!.push(await pull(t, '1.0.0', art.digest));
    }
    clearInterval(sampler);
    const m = median(times.margo!);
    const r = median(times['docker-registry']!);
    const extraMb = (peakKb - baseKb) / 1024;
    console.log(
      [
        `bench/registry: pull of a ${MB} MiB artifact (manifest + config + layer, digests checked), ${ROUNDS} warm rounds each`,
        `  margo embedded registry   median ${fmt(m)} ms  (rounds: ${times.margo!.map((x) => x.toFixed(0)).join(' ')})`,
        `  docker-registry (floor)   median ${fmt(r)} ms  (rounds: ${times['docker-registry']!.map((x) => x.toFixed(0)).join(' ')})`,
        `  ratio margo / docker-registry: ${(m / r).toFixed(2)}x (target <= 1.2x) ${m / r <= 1.2 ? 'OK' : 'OVER'}`,
        `  margo first pull (blob copied out of Git and verified into its cache): ${fmt(cold)} ms`,
        `  margo server RSS: ${fmt(baseKb / 1024)} MB before, peak ${fmt(peakKb / 1024)} MB; extra ${fmt(extraMb)} MB (target <= 64 MB) ${extraMb <= 64 ? 'OK' : 'OVER'}`,
      ].join('\n'),
    );
  } finally {
    agent.destroy();
    await s.close();
  }
}

await main();
