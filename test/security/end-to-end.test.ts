// End to end with the real servers that `margo serve` composes: the embedded Git server
// (@margo-gitops/git) and the onboarding API on ONE node:http server on 127.0.0.1, the real
// enrolment client, and stock git (NativeGitStore) on the device side. The orchestrator writes
// signed desired state; the attacker holds a device token or the Git host itself.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  NativeGitStore,
  TokenStore,
  createGitHttpHandler,
  createRepos,
  ensureDeviceRepo,
} from '@margo-gitops/git';
import {
  ClientCredentialStore,
  EnrolmentTokenStore,
  MANIFEST_FILE,
  RevocationList,
  SIGNATURES_FILE,
  caFingerprint,
  createSignedManifest,
  initPki,
  nextManifestVersion,
  seal,
  signFiles,
  unseal,
  verifyManifest,
  verifySignedFiles,
} from '@margo-gitops/trust';
import { enrol } from '../../packages/agent/src/enrol/index.js';
import { createOnboardingHttpHandler } from '../../packages/orchestrator/src/onboarding/index.js';
import { BareRepo, codeOf, tempDir } from './helpers.js';

const BITS = 2048;
const author = { name: 'margo orchestrator', email: 'orchestrator@margo.invalid' };
const SECRET = 'plc-password-77aa';

test(
  'enrolled device: own repository only, no push to main, host edits refused, status verified, revocation',
  { timeout: 120_000 },
  async (t) => {
    const data = await tempDir(t, 'margo-sec-e2e-');
    const repos = join(data, 'repos');
    await createRepos(repos);
    const pki = await initPki(join(data, 'pki'), { commonName: 'e2e root', bits: BITS });
    const gitTokens = TokenStore.open(join(data, 'auth', 'tokens.json'));
    const enrolmentTokens = new EnrolmentTokenStore(data);
    const clients = new ClientCredentialStore(data);
    const git = createGitHttpHandler({ reposRoot: repos, tokens: gitTokens, rateLimit: false });
    let base = '';
    const onboarding = createOnboardingHttpHandler({
      dataDir: data,
      pki,
      enrolmentTokens,
      clients,
      publicGitUrl: (id) => `${base}/git/devices/${id}.git`,
      issueGitToken: async (id) => {
        await ensureDeviceRepo(repos, id);
        return gitTokens.issueToken('device', { deviceId: id, name: `device ${id}` }).token;
      },
    });
    const server = createServer((req, res) => {
      (async () => (await onboarding(req, res)) || (await git(req, res)))().then(
        (handled) => {
          if (!handled) res.writeHead(404).end();
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t.after(async () => {
      await git.close();
      await new Promise((r) => server.close(r));
    });

    // two devices enrol with their one-time tokens, pinning the CA
    const fp = await caFingerprint(pki.dir);
    const devA = await enrol({
      serverUrl: base,
      enrolment: (await enrolmentTokens.issue('press-7')).enrolment,
      stateDir: await tempDir(t, 'margo-e2e-a-'),
      caFingerprint: fp,
      bits: BITS,
    });
    const devB = await enrol({
      serverUrl: base,
      enrolment: (await enrolmentTokens.issue('press-8')).enrolment,
      stateDir: await tempDir(t, 'margo-e2e-b-'),
      caFingerprint: fp,
      bits: BITS,
    });

    // orchestrator: signed desired state with a sealed secret for each device
    const publish = async (dev: typeof devA, apps: string[]) => {
      const store = new NativeGitStore(join(repos, 'devices', `${dev.deviceId}.git`));
      const files = new Map<string, Buffer>();
      for (const app of apps)
        files.set(
          `deployments/${app}.yaml`,
          Buffer.from(`kind: ApplicationDeployment\nname: ${app}\npassword: ${seal(SECRET, dev.certPem)}\n`),
        );
      const prev = await store.resolveRef('main');
      const version = nextManifestVersion(prev ? await store.readFile('main', MANIFEST_FILE) : undefined);
      const manifest = createSignedManifest(
        { deviceId: dev.deviceId, files, version, expiresAt: new Date(Date.now() + 7 * 86_400_000) },
        pki.signing,
      );
      const changes = new Map<string, Buffer | null>([...files, [MANIFEST_FILE, manifest]]);
      if (prev)
        for (const p of (await store.readTree('main')).keys()) if (!changes.has(p)) changes.set(p, null);
      await store.commitFiles({
        ref: 'main',
        expectedOid: prev,
        changes,
        message: `desired state v${version}`,
        author,
      });
    };
    await publish(devA, ['web']);
    await publish(devB, ['scada']);

    // device A fetches and verifies its own repository with its Git token
    const work = await tempDir(t, 'margo-e2e-work-');
    const cloneA = new NativeGitStore(join(work, 'a.git'));
    await cloneA.clone(devA.repoUrl, { auth: { token: devA.token }, ref: 'main' });
    const tree = await cloneA.readFiles('main');
    const v = verifyManifest(tree.get(MANIFEST_FILE), {
      caCertPem: devA.caCertPem,
      deviceId: 'press-7',
      files: tree,
    });
    const sealed = /password: (\S+)/.exec(tree.get('deployments/web.yaml')!.toString())![1]!;
    assert.equal(unseal(sealed, devA.keyPem), SECRET);

    // with its token, device A cannot read device B's repository ...
    const steal = new NativeGitStore(join(work, 'steal.git'));
    const readOther = await codeOf(() =>
      steal.clone(`${base}/git/devices/press-8.git`, { auth: { token: devA.token }, ref: 'main' }),
    );
    assert.equal(readOther, 'GIT_ACCESS_DENIED', 'reading another device repository');
    // ... and even with B's bytes (e.g. from the Git host) cannot open B's secrets
    const bTree = await new NativeGitStore(join(repos, 'devices', 'press-8.git')).readFiles('main');
    const bSealed = /password: (\S+)/.exec(bTree.get('deployments/scada.yaml')!.toString())![1]!;
    assert.equal(await codeOf(() => unseal(bSealed, devA.keyPem)), 'TRUST_SEALED_WRONG_KEY');

    // ... and cannot push to main of its own repository
    await cloneA.commitFiles({
      ref: 'main',
      expectedOid: await cloneA.resolveRef('main'),
      changes: new Map([['deployments/miner.yaml', 'kind: evil\n']]),
      message: 'device pushes desired state',
      author,
    });
    const pushMain = await codeOf(() => cloneA.push(devA.repoUrl, 'main', { auth: { token: devA.token } }));
    assert.equal(pushMain, 'GIT_PUSH_REJECTED', 'device push to main');

    // the Git host edits A's desired state: the device refuses it
    const hostRepo = new BareRepo(join(repos, 'devices', 'press-7.git'));
    const edited = hostRepo.readTree();
    edited.set(
      'deployments/web.yaml',
      Buffer.from('kind: ApplicationDeployment\nname: web\nimage: evil/miner\n'),
    );
    hostRepo.commit(edited, 'edited on the host');
    await cloneA.fetch(devA.repoUrl, { auth: { token: devA.token }, ref: 'main' });
    const tree2 = await cloneA.readFiles('main');
    assert.equal(
      await codeOf(() =>
        verifyManifest(tree2.get(MANIFEST_FILE), {
          caCertPem: devA.caCertPem,
          deviceId: 'press-7',
          files: tree2,
          lastAppliedVersion: v.version,
          lastAppliedDigest: v.digest,
        }),
      ),
      'TRUST_MANIFEST_FILE_CHANGED',
    );

    // device A reports signed status on its status branch; the orchestrator verifies it
    const status = new Map([['deployments/web.json', Buffer.from('{"status":{"state":"installed"}}')]]);
    const statusFiles = new Map<string, Buffer>([
      ...status,
      [SIGNATURES_FILE, signFiles(status, devA.keyPem, devA.certPem)],
    ]);
    const remoteStatus = await cloneA
      .fetch(devA.repoUrl, { auth: { token: devA.token }, ref: 'status' })
      .catch(() => ({ oid: null }));
    await cloneA.commitFiles({
      ref: 'status',
      expectedOid: remoteStatus.oid ?? null,
      changes: statusFiles,
      message: 'status',
      author,
    });
    await cloneA.push(devA.repoUrl, 'status', { auth: { token: devA.token } });
    const serverSide = new NativeGitStore(join(repos, 'devices', 'press-7.git'));
    const checkStatus = async () => {
      const files = await serverSide.readFiles('status');
      const sigs = files.get(SIGNATURES_FILE);
      files.delete(SIGNATURES_FILE);
      return verifySignedFiles(files, sigs, {
        caCertPem: pki.ca.certPem,
        deviceId: 'press-7',
        revoked: await new RevocationList(pki.dir).serials(),
      });
    };
    assert.deepEqual((await checkStatus()).refused, []);
    // forged on the host
    const st = hostRepo.readTree('status');
    st.set('deployments/web.json', Buffer.from('{"status":{"state":"failed"}}'));
    hostRepo.commit(st, 'forged status', 'status');
    assert.deepEqual(
      (await checkStatus()).refused.map((r) => r.code),
      ['TRUST_STATUS_FORGED'],
    );

    // revoke press-7: certificate, Git token and OAuth client die at once
    await new RevocationList(pki.dir).revokeDevice('press-7');
    for (const rec of gitTokens.list().filter((r) => r.deviceId === 'press-7' && !r.revoked))
      gitTokens.revoke(rec.id);
    await clients.revokeDevice('press-7');
    hostRepo.commit(
      new Map<string, Buffer>(status).set(SIGNATURES_FILE, signFiles(status, devA.keyPem, devA.certPem)),
      'status after revoke',
      'status',
    );
    assert.deepEqual(
      (await checkStatus()).refused.map((r) => r.code),
      ['TRUST_DEVICE_CERT_REVOKED'],
    );
    const afterRevoke = await codeOf(() =>
      new NativeGitStore(join(work, 'again.git')).clone(devA.repoUrl, {
        auth: { token: devA.token },
        ref: 'main',
      }),
    );
    assert.equal(afterRevoke, 'GIT_AUTH_FAILED', 'revoked Git token');
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: devA.clientId,
      client_secret: devA.clientSecret,
    });
    assert.equal(
      (
        await fetch(devA.tokenEndpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        })
      ).status,
      401,
    );
    // device B is unaffected
    await new NativeGitStore(join(work, 'b.git')).clone(devB.repoUrl, {
      auth: { token: devB.token },
      ref: 'main',
    });
  },
);
