// The signer hook: called only when a device's files change or its manifest nears expiry.
// The signer here is a plain function writing trust's manifest shape without a signature (the
// real one, @margo-gitops/trust createSignedManifest, is wired by `margo serve`).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRepos, ensureDeviceRepo } from '@margo-gitops/git';
import { Orchestrator, type DesiredStateSigner } from '@margo-gitops/orchestrator';
import { pino } from 'pino';
import { bareGit, capabilities, helloYaml, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-signer-');
after(cleanup);

test('manifest versions increase per change; an unchanged device is re-signed only near expiry', async () => {
  const reposRoot = join(root, 'data', 'repos');
  await createRepos(reposRoot);
  const devDir = join(reposRoot, 'devices', 'edge-1.git');
  await ensureDeviceRepo(reposRoot, 'edge-1');
  new WorkTree(root, devDir, 'status').write(
    { 'capabilities.json': capabilities('edge-1', 'Standalone Device', '8Gi') },
    'caps',
  );
  new WorkTree(root, join(reposRoot, 'catalog.git'), 'main').write(
    { 'hello/1.0.0/margo.yaml': helloYaml('1.0.0') },
    'hello',
  );
  const fleet = new WorkTree(root, join(reposRoot, 'fleet.git'), 'main');
  const intent = (g: string) =>
    `kind: Deployment\nname: web\napplication: {id: hello, version: 1.0.0}\ntargets: {devices: [edge-1]}\nparameters: {greeting: ${g}}\n`;
  fleet.write(
    {
      'devices/edge-1.yaml': 'kind: Device\nid: edge-1\nrole: standalone-device\n',
      'deployments/web.yaml': intent('a'),
    },
    'web',
  );

  let clock = Date.parse('2026-05-01T00:00:00Z');
  const calls: bigint[] = [];
  const signer: DesiredStateSigner = async (deviceId, files, prev) => {
    calls.push(prev.version);
    const out = new Map(files);
    const manifest = {
      deviceId,
      version: String(prev.version + 1n),
      issuedAt: new Date(clock).toISOString(),
      expiresAt: new Date(clock + 7 * 86400e3).toISOString(),
      files: Object.fromEntries([...files.keys()].map((k) => [k, 'sha256:x'])),
    };
    out.set('margo-manifest.json', Buffer.from(JSON.stringify({ manifest, signature: {}, signer: {} })));
    return out;
  };
  const mk = () =>
    new Orchestrator({
      dataDir: join(root, 'data'),
      reposRoot,
      logger: pino({ level: 'silent' }),
      intervalMs: 0,
      signer,
      now: () => clock,
    });
  const o = mk();
  assert.equal((await o.reconcileNow('first')).committed, 1);
  const version = () => JSON.parse(bareGit(devDir, 'show', 'main:margo-manifest.json')).manifest.version;
  assert.equal(version(), '1');
  assert.equal((await o.reconcileNow('noop')).committed, 0);
  assert.deepEqual(calls, [0n]);

  fleet.write({ 'deployments/web.yaml': intent('b') }, 'b');
  assert.equal((await o.reconcileNow('change')).committed, 1);
  assert.equal(version(), '2');

  clock += 4 * 86400e3; // 3 days left: nothing to do
  assert.equal((await o.reconcileNow('later')).committed, 0);
  clock += 2 * 86400e3; // 1 day left: re-signed
  assert.equal((await mk().reconcileNow('near expiry')).committed, 1);
  assert.equal(version(), '3');
  assert.match(bareGit(devDir, 'log', '-1', '--format=%s', 'main'), /re-sign desired state/);
  assert.deepEqual(calls, [0n, 1n, 2n]);
});
