// The orchestrator's desired-state signing key leaks to someone who also has write access to the
// Git host. Real bare repositories edited with git plumbing, the signer `margo serve` uses (created
// once, before the rotation, as in a running server), `margo pki rotate-signing-key --compromised`
// run through the CLI's own entry point, and the agent's own manifest verifier with its state on
// disk. Before the fix, a device accepted anything the leaked key signed until its certificate
// expired (two years), rotation or not.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  MANIFEST_FILE,
  createDeviceKeyAndCsr,
  createSignedManifest,
  initPki,
  parseSignedManifest,
  signDeviceCsr,
} from '@margo-gitops/trust';
import { manifestVerifier } from '../../packages/agent/src/index.js';
import { memoryIo } from '../../packages/cli/src/io.js';
import { main } from '../../packages/cli/src/main.js';
import { manifestSigner } from '../../packages/cli/src/server-wiring.js';
import { BareRepo, codeOf, tempDir } from './helpers.js';

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
