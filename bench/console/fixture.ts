/**
 * bench/console's fleet: a real `margo init` data folder, then N devices written directly on disk
 * (as bench/rollout's setup does): device repositories, `devices/<id>.yaml` in one fleet commit,
 * three deployments (web to every device, metrics to half, camera to a tenth), the orchestrator's
 * first fan-out run in this process with the server's own signer and auditor, and each device's
 * status written straight onto its status branch, signed with a device certificate the data
 * folder's CA issued for that device (one RSA key shared by the simulated devices, to keep the
 * setup short): most installed, some failed (a component error), some never reported (pending).
 * The server started afterwards finds nothing left to render, and verifies every status.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildObserved, statusFileDigest } from '@margo-gitops/spec';
import { ensureDeviceRepos } from '@margo-gitops/git';
import { Orchestrator } from '@margo-gitops/orchestrator';
import {
  createSignedStateAuditor,
  loadPki,
  loadSigningState,
  signDeviceCsr,
  signFiles,
  SIGNATURES_FILE,
} from '@margo-gitops/trust';
import forge from 'node-forge';
import { pino } from 'pino';
import { manifestSigner } from '../../packages/cli/src/server-wiring.js';
import { generateRsaKeyPair, nodeRsaSigner } from '../../packages/trust/src/x509.js';
import { buildDeploymentStatus, statusFileContent } from '../../packages/agent/src/status/build-status.js';
import {
  readCommit,
  readRef,
  readTreeFiles,
  updateRef,
  writeObject,
} from '../../packages/orchestrator/src/io/git-objects.js';
import { runBounded } from '../../packages/orchestrator/src/io/pool.js';
import { commitObjects } from '../rollout/git-wire.js';
import { capsOf, deploymentsOf } from '../rollout/simulator.js';

export const margoBin = new URL('../../packages/cli/bin/margo.js', import.meta.url).pathname;

const PACKAGE = (id: string, v: string) => `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: ${id}
  name: ${id[0]!.toUpperCase()}${id.slice(1)}
  description: The ${id} application of bench/console.
  version: ${v}
  catalog: {organization: [{name: Acme}]}
deploymentProfiles:
  - type: compose
    id: ${id}-compose
    components:
      - name: ${id}
        properties: {repository: "oci://127.0.0.1:5000/${id}/${id}", revision: "${v}"}
      - name: ${id}-sidecar
        properties: {repository: "oci://127.0.0.1:5000/${id}/sidecar", revision: "${v}"}
`;

const DEPLOYMENTS: Record<string, string> = {
  'deployments/web.yaml': `kind: Deployment\nname: web\napplication: {id: web, version: 1.0.0}\ntargets:\n  selector: {matchLabels: {fleet: bench}}\n`,
  'deployments/metrics.yaml': `kind: Deployment\nname: metrics\napplication: {id: metrics, version: 2.1.0}\ntargets:\n  selector: {matchLabels: {half: a}}\n`,
  'deployments/camera.yaml': `kind: Deployment\nname: camera\napplication: {id: camera, version: 0.9.0}\ntargets:\n  selector: {matchLabels: {ring: r9}}\n`,
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
}

/** Commits `files` on top of bare `repo`'s main and pushes it there (setup only). */
function commitFiles(root: string, repo: string, files: Record<string, string>, msg: string): void {
  const wt = mkdtempSync(join(root, 'wt-'));
  git(wt, 'init', '-q', '-b', 'main');
  git(wt, 'fetch', '-q', repo, 'main');
  git(wt, 'reset', '-q', '--hard', 'FETCH_HEAD');
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(wt, p, '..'), { recursive: true });
    writeFileSync(join(wt, p), c);
  }
  git(wt, 'add', '-A');
  git(wt, '-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', msg);
  git(wt, 'push', '-q', repo, 'HEAD:refs/heads/main');
}

export interface Fleet {
  dataDir: string;
  url: string;
  adminToken: string;
  /** Device repositories written, and how their statuses were written. */
  counts: { devices: number; installed: number; failed: number; silent: number };
  /** Seconds spent in each setup step. */
  steps: Record<string, number>;
}

/**
 * A data folder under `root` with `n` devices, for `margo serve` on 127.0.0.1:`port`.
 * `env` is the environment for the `margo init` child (MARGO_CONFIG pointing into `root`).
 */
export async function makeFleet(
  root: string,
  n: number,
  port: number,
  env: NodeJS.ProcessEnv,
): Promise<Fleet> {
  const dataDir = join(root, 'data');
  const steps: Record<string, number> = {};
  let t = performance.now();
  const step = (name: string) => {
    steps[name] = Math.round(performance.now() - t) / 1000;
    t = performance.now();
  };
  const out = execFileSync(
    process.execPath,
    [margoBin, 'init', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '-o', 'json'],
    { env, encoding: 'utf8' },
  );
  const init = JSON.parse(out) as { tokens: { admin: string }; server: string };
  const reposRoot = join(dataDir, 'repos');
  const ids = Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
  const devDir = (id: string) => join(reposRoot, 'devices', `${id}.git`);
  step('margo init');
  await ensureDeviceRepos(reposRoot, ids);
  step('device repositories');
  const caps = new Map(ids.map((id) => [id, capsOf(id)]));
  const writeStatus = async (id: string, files: Map<string, Buffer>, parent: string | null) => {
    const c = commitObjects(files, parent, id, Math.floor(Date.now() / 1000), 'status\n');
    for (const o of c.objects) await writeObject(devDir(id), o.type, o.content);
    await updateRef(devDir(id), 'status', parent, c.oid);
    return c.oid;
  };
  const pki = await loadPki(join(dataDir, 'pki'));
  const keys = generateRsaKeyPair(2048);
  const keyPem = forge.pki.privateKeyToPem(keys.privateKey);
  const signer = nodeRsaSigner(keyPem);
  const certOf = (id: string): string => {
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = keys.publicKey;
    csr.setSubject([{ shortName: 'CN', value: id }]);
    csr.sign(signer, forge.md.sha256.create());
    return signDeviceCsr(pki.ca, forge.pki.certificationRequestToPem(csr), { expectedDeviceId: id });
  };
  const certs = new Map<string, string>();
  const signed = (id: string, files: Map<string, Buffer>) => {
    files.set(SIGNATURES_FILE, signFiles(files, keyPem, certs.get(id)!));
    return files;
  };
  const capsStatus = new Map<string, string>();
  await runBounded(ids, 16, async (id) => {
    certs.set(id, certOf(id));
    const files = signed(id, new Map([['capabilities.json', caps.get(id)!]]));
    capsStatus.set(id, await writeStatus(id, files, null));
  });
  commitFiles(
    root,
    join(reposRoot, 'catalog.git'),
    Object.fromEntries(
      [
        ['web', '1.0.0'],
        ['metrics', '2.1.0'],
        ['camera', '0.9.0'],
      ].map(([id, v]) => [`${id}/${v}/margo.yaml`, PACKAGE(id!, v!)]),
    ),
    'bench apps',
  );
  const devices: Record<string, string> = {};
  ids.forEach((id, i) => {
    const ring = `r${Math.floor((i * 10) / n)}`;
    devices[`devices/${id}.yaml`] =
      `kind: Device\nid: ${id}\nrole: standalone-device\nlabels: {fleet: bench, ring: ${ring}, half: ${i % 2 ? 'b' : 'a'}}\n`;
  });
  commitFiles(
    root,
    join(reposRoot, 'fleet.git'),
    { ...devices, ...DEPLOYMENTS },
    `${n} devices, 3 deployments`,
  );
  // As server-wiring.ts builds it, so that `margo serve` accepts what this pass wrote.
  const orch = new Orchestrator({
    dataDir,
    reposRoot,
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
    signer: manifestSigner(pki),
    auditor: createSignedStateAuditor({ caCertPem: pki.ca.certPem, pkiDir: pki.dir }),
    signerEpoch: async () => {
      const st = await loadSigningState(pki.dir);
      return `${st.serial}/${st.revokedSigners.join(',')}`;
    },
  });
  step('certificates, capabilities, catalog, fleet');
  const first = await orch.reconcileNow('bench/console setup');
  step('first fan-out');
  await orch.stop();
  if (first.committed !== n) throw new Error(`setup fan-out: ${JSON.stringify(first).slice(0, 400)}`);
  const counts = { devices: n, installed: 0, failed: 0, silent: 0 };
  await runBounded(ids, 16, async (id) => {
    const i = Number(id.slice(4));
    if (i % 20 === 19) {
      counts.silent++; // never reported its desired state: pending
      return;
    }
    const failed = i % 20 === 7;
    const main = (await readRef(devDir(id), 'main'))!;
    const deps = deploymentsOf(await readTreeFiles(devDir(id), (await readCommit(devDir(id), main)).tree));
    const files = new Map<string, Buffer>([['capabilities.json', caps.get(id)!]]);
    for (const d of deps.values()) {
      const broken = failed && d.name === 'web';
      const doc = buildDeploymentStatus({
        deploymentId: d.id,
        name: d.name,
        deviceId: id,
        components: d.components.map((name, k) =>
          broken && k === 0
            ? {
                name,
                state: 'failed' as const,
                error: { code: 'APP_IMAGE_PULL_FAILED', message: `pull ${name}: connection refused` },
              }
            : { name, state: 'installed' as const },
        ),
        commit: main,
      });
      files.set(`deployments/${d.id}.json`, Buffer.from(statusFileContent(doc)));
    }
    const digests = new Map([...files].map(([p, b]) => [p, statusFileDigest(b)]));
    files.set('observed.json', Buffer.from(buildObserved({ commit: main, seq: 1n, files: digests })));
    await writeStatus(id, signed(id, files), capsStatus.get(id)!);
    if (failed) counts.failed++;
    else counts.installed++;
  });
  step('statuses');
  return { dataDir, url: init.server, adminToken: init.tokens.admin, counts, steps };
}
