// Our agent's REST source and status sink against a real `margo serve` (mTLS API), through a
// man in the middle written here on node:https: it holds the server's real SVID (a stolen server
// certificate) and forwards to the real API with the device's certificate, or answers on its own
// (replaying a recorded 200, altering bytes). The agent side is the production code in process:
// RestClient, RestDesiredSource with the device's signed-manifest verifier, RestStatusSink.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  RestClient,
  RestDesiredSource,
  RestStatusSink,
  buildDeploymentStatus,
  createAgentLogger,
  manifestVerifier,
} from '@margo-gitops/agent';
import { isMargoError, stringifyJsonExact } from '@margo-gitops/spec';
import { issueServerSvid, loadPki } from '@margo-gitops/trust';
import { deployHelloArgs, json, stop } from '../../e2e/cli/harness.js';
import { requireComponent } from '../../testbed/env.js';
import {
  httpsGet,
  sha256,
  startApiFleet,
  stopApiFleet,
  waitForManifest,
  type ApiFleet,
  type Reply,
} from '../api/fleet.js';

type Mode = { kind: 'forward' } | { kind: 'replay'; manifest: Reply } | { kind: 'tamper' };

interface Mitm {
  url: string;
  mode: Mode;
  /** Status of every manifest answer the agent got, in order. */
  manifestStatuses: number[];
  close(): Promise<void>;
}

/** The man in the middle: TLS with `cert`/`key`, forwarding to `upstream` as `fleet.dev1`. */
async function startMitm(fleet: ApiFleet, tls: { cert: string; key: string }): Promise<Mitm> {
  const m: Mitm = { url: '', mode: { kind: 'forward' }, manifestStatuses: [], close: async () => {} };
  const server: Server = createServer({ ...tls }, (req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const isManifest = path === '/api/v1/deployments';
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let r: Reply;
      if (m.mode.kind === 'replay' && isManifest) r = m.mode.manifest;
      else {
        const headers: Record<string, string> = {};
        for (const h of ['accept', 'if-none-match', 'content-type'])
          if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
        r = await httpsGet(`${fleet.api}${path}`, {
          ca: fleet.ca,
          id: fleet.dev1,
          headers,
          method: req.method ?? 'GET',
          ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        });
        if (m.mode.kind === 'tamper' && !isManifest && r.status === 200) {
          // One byte of the document (or the bundle) changed on the way.
          r = { ...r, body: Buffer.from(r.body) };
          r.body[r.body.length - 1] = r.body[r.body.length - 1]! ^ 1;
        }
      }
      if (isManifest) m.manifestStatuses.push(r.status);
      const out: Record<string, string> = {};
      for (const h of ['content-type', 'etag', 'cache-control'])
        if (typeof r.headers[h] === 'string') out[h] = r.headers[h] as string;
      res.writeHead(r.status, out);
      res.end(r.body);
    })().catch((e: unknown) => {
      res.writeHead(599);
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  m.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  m.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return m;
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (isMargoError(e) ? e.code : `not a MargoError: ${(e as Error).message}`),
  );

describe(
  'agent over REST: RestDesiredSource and RestStatusSink against margo serve',
  { timeout: 420_000 },
  () => {
    const f: Partial<ApiFleet> = {};
    const closers: (() => Promise<void> | void)[] = [];
    before(async () => {
      await startApiFleet('margo-rest-source-', f);
    });
    after(async () => {
      for (const c of closers.reverse()) await c();
      await stopApiFleet(f);
    });

    test('poll, load, verify, settle; 304; a greater version; replay, tampering and a foreign server refused; status', async (t) => {
      if (!requireComponent(t, 'docker')) return;
      const fleet = f as ApiFleet;
      const pkiDir = join(fleet.dir, 'margo-data', 'pki');
      const mitm = await startMitm(fleet, {
        cert: await readFile(join(pkiDir, 'api-server.crt'), 'utf8'),
        key: await readFile(join(pkiDir, 'api-server.key'), 'utf8'),
      });
      closers.push(() => mitm.close());
      const stateDir = await mkdtemp(join(tmpdir(), 'margo-rest-agent-'));
      closers.push(() => rm(stateDir, { recursive: true, force: true }));
      const identity = {
        keyPem: fleet.dev1.key.toString(),
        certPem: fleet.dev1.cert.toString(),
        caCertPem: fleet.ca.toString(),
      };
      const client = new RestClient({ apiUrl: mitm.url, ...identity });
      closers.push(() => client.close());
      const source = new RestDesiredSource({
        client,
        stateDir,
        deviceId: 'dev1',
        // The device's own check of the signed manifest, with its floor in this state folder.
        verifier: manifestVerifier({ caCertPem: identity.caCertPem, deviceId: 'dev1' }, stateDir),
      });
      await source.init();
      const first = await waitForManifest(fleet, (m) => m.deployments.length === 1);
      const m1 = JSON.parse(first.body.toString()) as {
        manifestVersion: number;
        deployments: { deploymentId: string; digest: string }[];
      };

      // poll -> load -> verify -> settled.
      const p1 = await source.poll();
      assert.ok(p1.version && p1.changed);
      assert.equal(p1.version, `${m1.manifestVersion}:${first.headers.etag!.toString().replace(/"/g, '')}`);
      assert.equal(await source.lastKnown(), null, 'nothing applied yet');
      const s1 = await source.load(p1.version);
      const v1 = await s1.verify();
      assert.equal(v1?.manifestVersion, String(m1.manifestVersion));
      assert.ok(v1?.expiresAt instanceof Date, 'the signed manifest was verified');
      const docPaths = [...s1.files.keys()].filter((p) => p.startsWith('deployments/'));
      assert.equal(docPaths.length, 1);
      assert.equal(sha256(s1.files.get(docPaths[0]!)!), m1.deployments[0]!.digest, 'exact bytes');
      assert.ok(s1.files.has('margo-manifest.json'));
      await source.settled(p1.version);
      assert.equal(await source.lastKnown(), p1.version);

      // Nothing new: a 304 (the stored ETag), the same version.
      const p2 = await source.poll();
      assert.deepEqual(p2, { version: p1.version, changed: false });
      assert.deepEqual(mitm.manifestStatuses.slice(-1), [304]);
      // A restart (new source on the same state folder) asks with the persisted ETag: 304 again,
      // and loads the applied copy without the network.
      const restarted = new RestDesiredSource({ client, stateDir, deviceId: 'dev1' });
      await restarted.init();
      assert.deepEqual(await restarted.poll(), { version: p1.version, changed: false });
      assert.deepEqual(mitm.manifestStatuses.slice(-1), [304]);
      await restarted.load(p1.version).then((s) => s.verify());

      // A new deploy: a strictly greater manifestVersion.
      json(
        await fleet.cli.run(
          ...deployHelloArgs({ device: 'dev1', greeting: 'two', hostPort: fleet.hostPort }),
        ),
      );
      await waitForManifest(fleet, (m) => m.manifestVersion > m1.manifestVersion);
      const p3 = await source.poll();
      assert.ok(p3.changed && p3.version !== p1.version);
      const v3 = await (await source.load(p3.version!)).verify();
      assert.ok(BigInt(v3!.manifestVersion!) > BigInt(m1.manifestVersion));
      await source.settled(p3.version!);

      // Replay: the man in the middle answers the recorded first manifest (valid signature, older
      // version; its documents are still served by digest). Refused, and the floor stays.
      mitm.mode = { kind: 'replay', manifest: first };
      const replayed = await source.poll();
      assert.equal(replayed.version, p1.version);
      const sr = await source.load(replayed.version!);
      assert.equal(await codeOf(sr.verify()), 'AGENT_MANIFEST_VERSION_REPLAYED');
      await source.settled(replayed.version!);
      assert.equal(await source.lastKnown(), p3.version, 'the last good state is still the applied one');

      // Back to the real answers: the current state is accepted again (same version and ETag).
      mitm.mode = { kind: 'forward' };
      const back = await source.poll();
      assert.equal(back.version, p3.version);
      await (await source.load(back.version!)).verify();
      await source.settled(back.version!);

      // Tampering: one byte of the bundle changed on the way: refused by digest, nothing applied.
      mitm.mode = { kind: 'tamper' };
      const fresh = new RestDesiredSource({
        client,
        stateDir: await mkdtemp(join(tmpdir(), 'margo-rest-t-')),
        deviceId: 'dev1',
      });
      await fresh.init();
      const pt = await fresh.poll();
      assert.equal(await codeOf((await fresh.load(pt.version!)).verify()), 'AGENT_DIGEST_MISMATCH');
      mitm.mode = { kind: 'forward' };

      // A server whose certificate chains to our CA but names another fleet manager: nothing sent.
      const pki = await loadPki(pkiDir);
      const foreign = issueServerSvid(
        pki.ca,
        { trustDomain: 'other.internal', wfmId: 'elsewhere' },
        ['127.0.0.1'],
        { bits: 2048 },
      );
      const impostor = await startMitm(fleet, { cert: foreign.certPem, key: foreign.keyPem });
      closers.push(() => impostor.close());
      const toImpostor = new RestClient({ apiUrl: impostor.url, ...identity });
      closers.push(() => toImpostor.close());
      const fooled = new RestDesiredSource({ client: toImpostor, stateDir, deviceId: 'dev1' });
      await fooled.init();
      assert.equal(await codeOf(fooled.poll()), 'AGENT_SERVER_IDENTITY_MISMATCH');
      assert.deepEqual(impostor.manifestStatuses, [], 'no request reached it');

      // Unreachable API: a transport error (the agent retries with backoff), never a deletion.
      const closed = new RestClient({ apiUrl: 'https://127.0.0.1:9', ...identity });
      closers.push(() => closed.close());
      assert.equal(
        await codeOf(new RestDesiredSource({ client: closed, stateDir, deviceId: 'dev1' }).poll()),
        'AGENT_API_UNREACHABLE',
      );

      // Status over REST, from the durable outbox. The Git agent of dev1 stops first: its pushes
      // to the same status branch would race with what is checked here.
      await stop(fleet.agent);
      const sink = new RestStatusSink({
        client,
        stateDir,
        deviceId: 'dev1',
        logger: createAgentLogger({ level: 'silent', deviceId: 'dev1' }),
      });
      await sink.init();
      const id = m1.deployments[0]!.deploymentId;
      const text =
        stringifyJsonExact(
          buildDeploymentStatus({
            deploymentId: id,
            name: 'hello',
            deviceId: 'dev1',
            components: [{ name: 'hello', state: 'installed' }],
            commit: p3.version!,
            adoptedManifestVersion: v3!.manifestVersion!,
          }),
          2,
        ) + '\n';
      const caps = gitOf(fleet, 'show', 'status:capabilities.json');
      assert.equal(
        sink.report({ [`deployments/${id}.json`]: text, 'capabilities.json': caps }, 'installed'),
        true,
      );
      assert.equal(sink.pendingChanges(), 1);
      assert.equal(await sink.flush(), true);
      assert.equal(sink.pendingChanges(), 0, 'delivered: the outbox is empty');
      assert.equal(
        gitOf(fleet, 'show', `status:deployments/${id}.json`),
        text,
        'the exact bytes, on the status branch',
      );
      assert.match(gitOf(fleet, 'log', '-1', '--format=%B', 'status'), /Margo-Transport: rest/);
      // The same content again queues nothing (no heartbeat).
      assert.equal(sink.report({ [`deployments/${id}.json`]: text }, 'again'), false);

      // A permanent refusal (a deployment this device does not have: 404) is dropped, not looped on.
      const before = gitOf(fleet, 'rev-parse', 'status');
      assert.equal(sink.report({ 'deployments/not-mine.json': text.replace(id, 'not-mine') }, 'x'), true);
      assert.equal(await sink.flush(), true);
      assert.equal(sink.pendingChanges(), 0);
      assert.equal(gitOf(fleet, 'rev-parse', 'status'), before, 'nothing written');

      // The server unreachable: kept in the outbox for the next flush.
      const offline = new RestStatusSink({
        client: closed,
        stateDir,
        deviceId: 'dev1',
        logger: createAgentLogger({ level: 'silent', deviceId: 'dev1' }),
      });
      await offline.init();
      assert.equal(
        offline.report({ [`deployments/${id}.json`]: text.replace('installed', 'failed') }, 'y'),
        true,
      );
      assert.equal(await codeOf(offline.flush()), 'AGENT_API_UNREACHABLE');
      assert.equal(offline.pendingChanges(), 1);
      assert.equal(offline.hasUnpushed(), true);
      // Once reachable again, the queued change goes out.
      const online = new RestStatusSink({
        client,
        stateDir,
        deviceId: 'dev1',
        logger: createAgentLogger({ level: 'silent', deviceId: 'dev1' }),
      });
      await online.init();
      assert.equal(await online.flush(), true);
      assert.equal(online.pendingChanges(), 0);
      assert.match(gitOf(fleet, 'show', `status:deployments/${id}.json`), /"failed"/);
    });
  },
);

/** Stock git on dev1's device repository in the server's data folder. */
function gitOf(fleet: ApiFleet, ...args: string[]): string {
  const dir = join(fleet.dir, 'margo-data', 'repos', 'devices', 'dev1.git');
  return execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8' });
}
