// The orchestrator's desired-state signing key leaks to someone who also has write access to the
// Git host. Real bare repositories edited with git plumbing, the signer `margo serve` uses (created
// once, before the rotation, as in a running server), `margo pki rotate-signing-key --compromised`
// run through the CLI's own entry point, and the agent's own manifest verifier with its state on
// disk. Before the fix, a device accepted anything the leaked key signed until its certificate
// expired (two years), rotation or not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import {
  MANIFEST_FILE,
  createDeviceKeyAndCsr,
  createSignedManifest,
  initPki,
  nextManifestVersion,
  parseSignedManifest,
  signDeviceCsr,
} from '@margo-gitops/trust';
import { requireComponent } from '../testbed/env.js';
import { deployHelloArgs, json, type MargoCli, type Run } from '../e2e/cli/harness.js';
import { serveEnrolDeployHello, stopE2e, type E2eProcesses } from './e2e-setup.js';
import { manifestVerifier } from '../../packages/agent/src/index.js';
import { memoryIo } from '../../packages/cli/src/io.js';
import { main } from '../../packages/cli/src/main.js';
import { manifestSigner } from '../../packages/cli/src/server-wiring.js';
import { BareRepo, codeOf, e2eRun, helloGreeting, tempDir } from './helpers.js';

const BITS = 2048;
const DAY = 86_400_000;
const web = Buffer.from(
  'apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  name: web\n',
);
const miner = Buffer.from(
  'apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  name: miner\n',
);

test('a leaked signing key is refused by devices once they fetched a manifest revoking it (rotate-signing-key --compromised)', async (t) => {
  const root = await tempDir(t, 'margo-sec-signer-');
  const data = join(root, 'data');
  const pki = await initPki(join(data, 'pki'), { commonName: 'signer compromise root', bits: BITS });
  const sign = manifestSigner(pki); // what `margo serve` built at start
  const ids = ['press-7', 'press-8'];
  const repos = new Map(ids.map((id) => [id, BareRepo.init(join(data, 'repos', 'devices', `${id}.git`))]));
  const verifiers = new Map(
    ids.map((id) => {
      const k = createDeviceKeyAndCsr(id, { bits: BITS });
      signDeviceCsr(pki.ca, k.csrPem, { expectedDeviceId: id });
      return [id, manifestVerifier({ caCertPem: pki.ca.certPem, deviceId: id }, join(root, 'agents', id))];
    }),
  );
  const versionOf = (id: string) => {
    const head = repos.get(id)!.head();
    return head
      ? BigInt(parseSignedManifest(repos.get(id)!.readTree().get(MANIFEST_FILE)).manifest.version)
      : 0n;
  };
  const orchestratorWrites = async (id: string, files: Map<string, Buffer>) =>
    repos.get(id)!.commit(await sign(id, files, { version: versionOf(id) }), 'desired state');
  /** The agent's poll: read main's whole tree, verify before applying; the refusal code or 'accepted'. */
  const poll = async (id: string) => {
    const repo = repos.get(id)!;
    const code = await codeOf(() =>
      verifiers.get(id)!(repo.readTree(), { deviceId: id, commit: repo.head()! }),
    );
    return code ?? 'accepted';
  };

  for (const id of ids) {
    await orchestratorWrites(id, new Map([['deployments/web.yaml', web]]));
    assert.equal(await poll(id), 'accepted');
  }

  // The attacker copies the signing key and certificate (a backup, a compromised host).
  const leaked = {
    keyPem: await readFile(join(data, 'pki', 'signing.key'), 'utf8'),
    certPem: await readFile(join(data, 'pki', 'signing.crt'), 'utf8'),
  };
  const attack = (id: string, version: bigint) =>
    repos.get(id)!.commit(
      new Map([
        ['deployments/miner.yaml', miner],
        [
          MANIFEST_FILE,
          createSignedManifest(
            {
              deviceId: id,
              files: new Map([['deployments/miner.yaml', miner]]),
              version,
              expiresAt: new Date(Date.now() + 7 * DAY),
            },
            leaked,
          ),
        ],
      ]),
      'attacker',
    );

  // The operator rotates, declaring the old key compromised (the CLI's own entry point).
  const io = memoryIo();
  const code = await main(
    ['node', 'margo', 'pki', 'rotate-signing-key', '--compromised', '--data', data, '-o', 'json'],
    { io, env: { MARGO_CONFIG: join(root, 'config.json') }, cwd: root },
  );
  assert.equal(code, 0, io.stderr());
  const rotated = JSON.parse(io.stdout()) as {
    oldSerial: string;
    newSerial: string;
    revokedSigners: string[];
  };
  assert.deepEqual(rotated.revokedSigners, [rotated.oldSerial]);
  assert.equal(io.stdout().includes('PRIVATE KEY'), false);

  // The running server's signer picks up the new key; press-7 gets one re-signed manifest.
  await orchestratorWrites('press-7', new Map([['deployments/web.yaml', web]]));
  const resigned = parseSignedManifest(repos.get('press-7')!.readTree().get(MANIFEST_FILE));
  assert.deepEqual(resigned.manifest.revokedSigners, [rotated.oldSerial]);
  assert.equal(await poll('press-7'), 'accepted');

  // The attacker now serves press-7 a manifest signed with the leaked key and a far higher version.
  const good7 = repos.get('press-7')!.head()!;
  attack('press-7', versionOf('press-7') + 1_000_000n);
  assert.equal(await poll('press-7'), 'TRUST_MANIFEST_SIGNER_REVOKED');
  // ... also after an agent restart (the revocation is in its state on disk), and for any version.
  const restarted = manifestVerifier(
    { caCertPem: pki.ca.certPem, deviceId: 'press-7' },
    join(root, 'agents', 'press-7'),
  );
  attack('press-7', (1n << 64n) - 1n);
  assert.equal(
    await codeOf(() => restarted(repos.get('press-7')!.readTree(), { deviceId: 'press-7', commit: 'x' })),
    'TRUST_MANIFEST_SIGNER_REVOKED',
  );
  // The orchestrator takes main back with the new key; the device follows it.
  repos.get('press-7')!.resetTo(good7);
  await orchestratorWrites('press-7', new Map([['deployments/web.yaml', web]]));
  assert.equal(await poll('press-7'), 'accepted');

  // The window: press-8 has not fetched a manifest listing the revocation yet, so the leaked key
  // still works there. (The orchestrator must re-sign every device right after the rotation.)
  attack('press-8', versionOf('press-8') + 1n);
  assert.equal(await poll('press-8'), 'accepted', 'a device that has not fetched the revocation is exposed');
});

// The same attack against the real processes: `margo serve` and an enrolled `margo agent` running
// hello-world on the testbed's Docker engine. The attacker holds a copy of pki/signing.key and
// pushes with stock git straight into the device's bare repository on the host.
describe('leaked signing key, real server and agent', { timeout: 900_000 }, () => {
  const FIRST = 'before-the-leak';
  const SECOND = 'after-the-rotation';
  const EVIL = 'signed-with-the-leaked-key';
  let dir = '';
  let cli: MargoCli;
  let port = 0;
  let hostPort = 0;
  let deviceRepo = '';
  const procs: E2eProcesses = { seen: new Set() };
  const margo = (...args: string[]): Promise<Run> => cli.run(...args);
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const host = (...args: string[]) => git(dir, '--git-dir', deviceRepo, ...args);
  const statusAt = (rev: string, path: string) => {
    try {
      return JSON.parse(host('show', `${rev}:${path}`));
    } catch {
      return undefined;
    }
  };
  /** The status commit whose observed.json names `desired`, if the agent made one. */
  const statusObserving = (desired: string) =>
    host('rev-list', 'status')
      .split('\n')
      .find((c) => c && statusAt(c, 'observed.json')?.commit === desired);

  before(async () => {
    ({ dir, port, hostPort, cli } = await e2eRun('margo-signer-compromise-'));
    deviceRepo = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
  });
  after(() => stopE2e(cli, procs, { dir, hostPort }));

  it('after rotate-signing-key --compromised, the agent refuses a higher version signed with the leaked key', async (t) => {
    if (!requireComponent(t, ['docker', 'image'])) return;
    await serveEnrolDeployHello(cli, procs, { dir, port, hostPort, greeting: FIRST });

    const pkiDir = join(dir, 'margo-data', 'pki');
    const leaked = {
      keyPem: await readFile(join(pkiDir, 'signing.key'), 'utf8'),
      certPem: await readFile(join(pkiDir, 'signing.crt'), 'utf8'),
    };
    // Rotation while `margo serve` runs; the next desired-state change is signed with the new key.
    const rotated = json<{ oldSerial: string; newSerial: string }>(
      await margo('pki', 'rotate-signing-key', '--compromised', '--data', 'margo-data', '-o', 'json'),
    );
    json(await margo(...deployHelloArgs({ device: 'dev1', greeting: SECOND, hostPort })));
    await cli.until(180, `GREETING=${SECOND}`, async () => (await helloGreeting(hostPort)) === SECOND);
    const signed = parseSignedManifest(Buffer.from(host('show', `main:${MANIFEST_FILE}`)));
    assert.deepEqual(signed.manifest.revokedSigners, [rotated.oldSerial]);
    assert.ok(
      signed.signer.certificates[0]!.replace(/\s/g, '') !== leaked.certPem.replace(/\s/g, ''),
      'signed with the new key without a server restart',
    );

    // The attacker: stock git, GREETING changed, re-signed with the leaked key, a far higher version.
    let observed: string | undefined;
    for (let attempt = 1; attempt <= 5 && !observed; attempt++) {
      // Quiet first: the agent has reported on the current main, so the orchestrator pass its
      // report starts is not the one that meets (and restores) the attack commit.
      await cli.until(60, 'the agent to report on the current main', async () =>
        statusObserving(host('rev-parse', 'main')),
      );
      const wt = join(dir, `attack-${attempt}`);
      git(dir, 'clone', '-q', '-b', 'main', deviceRepo, wt);
      const files = new Map<string, Buffer>();
      for (const p of git(wt, 'ls-files')
        .split('\n')
        .filter((p) => p && p !== MANIFEST_FILE)) {
        const text = (await readFile(join(wt, p), 'utf8')).replaceAll(SECOND, EVIL);
        await writeFile(join(wt, p), text);
        files.set(p, Buffer.from(text));
      }
      const previous = await readFile(join(wt, MANIFEST_FILE));
      const manifest = createSignedManifest(
        {
          deviceId: 'dev1',
          files,
          version: nextManifestVersion(previous) + 1_000_000n,
          expiresAt: new Date(Date.now() + 7 * DAY),
        },
        leaked,
      );
      await writeFile(join(wt, MANIFEST_FILE), manifest);
      git(
        wt,
        '-c',
        'user.name=Mallory',
        '-c',
        'user.email=m@example.invalid',
        'commit',
        '-qam',
        'leaked key',
      );
      git(wt, 'push', '-q', '-f', 'origin', 'HEAD:main');
      const commit = git(wt, 'rev-parse', 'HEAD');
      // The agent reports on the commit it acted on, unless the orchestrator restored main first.
      const acted = await cli.until(
        60,
        'the agent or the orchestrator to act on the attack commit',
        async () =>
          statusObserving(commit) ?? (host('rev-parse', 'main') !== commit ? 'restored' : undefined),
      );
      observed = acted === 'restored' ? statusObserving(commit) : acted;
    }
    assert.ok(
      observed,
      `the agent never reported on the attack commit:\n${(cli.logs.agent ?? '').slice(-3000)}`,
    );
    const codes = host('ls-tree', '--name-only', observed!, 'deployments/')
      .split('\n')
      .filter(Boolean)
      .map((p) => statusAt(observed!, p)?.status?.error?.code);
    assert.ok(codes.includes('TRUST_MANIFEST_SIGNER_REVOKED'), `refusal reported: ${JSON.stringify(codes)}`);
    await cli.until(30, `GREETING still ${SECOND}`, async () => (await helloGreeting(hostPort)) === SECOND);
    assert.equal(procs.seen.has(EVIL), false, 'the workload never served the attacker value');
  });
});
