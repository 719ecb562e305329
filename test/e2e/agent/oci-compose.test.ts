// End-to-end: the agent (real Agent, real git over HTTP, real Docker engine) installs a Compose
// component from OCI `repository` + `revision` pinned by digest, from its own server with its
// device token and no registry configuration at all; then bad input, each refused with its code
// in the deployment status while the last good state keeps running: a package with a path outside
// its folder, a tampered layer, a missing tag, a registry refusing the token, an oversized layer.
//
// The device's server here is a small node:http front in this file: git requests go to the test
// git server, `/v2/` to the testbed's real registry (127.0.0.1:5000) after checking the device
// token the way `margo serve`'s embedded registry does (Basic, password = token; 403 for a
// repository the device may not read). It can also flip one byte of a chosen blob: that is the
// tampering registry (a real one never serves wrong bytes on purpose). Artifacts are pushed with
// @margo-gitops/oci's client in the layout `margo app publish` writes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { RegistryTarget } from '@margo-gitops/oci';
import { Agent, loadAgentConfig } from '@margo-gitops/agent';
import { requireComponent, testbedProcessEnv } from '../../testbed/env.ts';
import {
  deploymentYaml,
  DeviceRepo,
  freePort,
  httpGet,
  removeComposeProject,
  startGitServer,
  tempDir,
  waitFor,
} from './helpers.ts';
import { composeLayer, pushComposeArtifact } from './oci-helpers.ts';

const root = new URL('../../..', import.meta.url).pathname;
const helloCompose = readFileSync(join(root, 'test/fixtures/compose/hello/docker-compose.yml'), 'utf8');

interface Front {
  url: string;
  host: string;
  /** Blob digests whose bytes are changed on the way (tampering). */
  tamper: Set<string>;
  /** Repositories the device token may not read (403, like the embedded registry). */
  forbidden: Set<string>;
  /** /v2/ requests carrying the device token, and carrying anything else. */
  seen: { token: number; other: number };
  stop(): Promise<void>;
}

function passwordOf(req: IncomingMessage): string | undefined {
  const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined;
}

/** The device's server: git to `gitPort`, /v2/ to `registry` behind the device token. */
async function startFront(gitPort: number, registry: string, token: string): Promise<Front> {
  const [rh, rp] = registry.split(':');
  const front = {
    url: '',
    host: '',
    tamper: new Set<string>(),
    forbidden: new Set<string>(),
    seen: { token: 0, other: 0 },
    stop: async () => {},
  };
  const srv: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const v2 = url.startsWith('/v2/');
    if (v2) {
      const pw = passwordOf(req);
      if (pw === token) front.seen.token++;
      else front.seen.other++;
      if (pw !== token) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="margo"', 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url)?.[1];
      if (name && front.forbidden.has(name)) {
        res.writeHead(403, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"DENIED","message":"not in the desired state of this device"}]}');
      }
    }
    const headers = { ...req.headers };
    if (v2) delete headers.authorization;
    const fwd = request(
      {
        host: v2 ? rh : '127.0.0.1',
        port: v2 ? Number(rp) : gitPort,
        path: url,
        method: req.method,
        headers,
      },
      (r) => {
        const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url)?.[1];
        if (!digest || !front.tamper.has(digest) || req.method !== 'GET') {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const body = Buffer.concat(chunks);
          body[body.length - 1] = body[body.length - 1]! ^ 0x01;
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(body);
        });
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  front.host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  front.url = `http://${front.host}`;
  front.stop = async () => {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  };
  return front;
}

test(
  'compose from OCI via the device’s own server (device token, pinned); bad input keeps the last good state',
  { timeout: 300_000 },
  async (t) => {
    const tb = requireComponent(t, ['docker', 'registry', 'image']);
    if (!tb) return;
    Object.assign(process.env, testbedProcessEnv(tb));
    const env = testbedProcessEnv(tb);
    const dir = tempDir('agent-e2e-oci-compose-');
    const token = `device-${randomBytes(6).toString('hex')}`;
    const git = await startGitServer(join(dir, 'srv'), token);
    const front = await startFront(git.port, tb.registry!, token);
    const repo = new DeviceRepo(join(dir, 'srv'), 'dev-oc');
    const port = await freePort();
    const id = '0000001e-8888-4a5b-9c3d-00000000001e';
    const project = 'margo-ocidev-0000001e';
    const name = `margo-e2e/oci-compose-${Date.now().toString(36)}`;
    const reg: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 20_000 };
    const stateDir = join(dir, 'state');
    let agent: Agent | undefined;
    const desired = (revision: string, digest: string | undefined, greeting: string, repoName = name) =>
      deploymentYaml({
        name: 'ocidev',
        id,
        components: [
          {
            name: 'echo',
            properties: { repository: `oci://${front.host}/${repoName}`, revision },
            ...(digest ? { 'x-margo-gitops-extensions': { digest } } : {}),
          },
        ],
        parameters: {
          port: { value: String(port), pointer: 'ENV.HOST_PORT', components: ['echo'] },
          greeting: { value: greeting, pointer: 'ENV.GREETING', components: ['echo'] },
        },
      });
    const status = () => repo.statusJson(`deployments/${id}.json`);
    const pushCompose = async (n: string, tag: string, files: Record<string, string>, hostile?: string) =>
      pushComposeArtifact(reg, n, tag, await composeLayer(files, hostile));
    try {
      const v1 = await pushComposeArtifact(
        reg,
        name,
        '1.0.0',
        await composeLayer({ 'docker-compose.yml': helloCompose }),
      );
      const { config, problems } = loadAgentConfig({
        flags: {
          deviceId: 'dev-oc',
          repoUrl: `${front.url}/dev-oc.git`,
          token,
          stateDir,
          pollIntervalSeconds: 1,
          defaultTimeoutSeconds: 60,
          composeCommand: tb.compose!.join(' '),
          composeStopTimeoutSeconds: 1,
          // No ociPlainHttpHosts: the device's own server is reached with its URL's scheme.
          maxArtifactBytes: 256 * 1024,
        },
      });
      assert.deepEqual(problems, []);
      // The verifier stands in for the signed-manifest check (packages/trust, test/security): it
      // accepts every commit and names the manifest version the status must report as adopted.
      let manifestVersion = '18446744073709551614';
      agent = new Agent({
        config,
        logger: pino({ level: 'silent' }),
        verifier: async () => ({ manifestVersion }),
      });

      repo.commit({ 'deployments/ocidev.yaml': desired('1.0.0', v1.manifest, 'from-v1') });
      const r1 = await agent.pollOnce();
      assert.deepEqual(
        r1.actions.map((a) => `${a.kind}:${a.result}`),
        ['install:ok'],
        JSON.stringify(status()),
      );
      const serving = async () => (await httpGet(`http://127.0.0.1:${port}/cgi-bin/env`)) ?? '';
      assert.match(await waitFor('workload', serving, 30_000), /GREETING=from-v1/);
      await waitFor('installed', () => status()?.status?.state === 'installed');
      assert.ok(front.seen.token > 0, 'the artifact came with the device token');
      assert.match(
        repo.statusFile(`deployments/${id}.json`)!,
        /"adoptedManifestVersion": 18446744073709551614,/,
        'the applied manifest version, exact',
      );
      manifestVersion = '18446744073709551615';
      const workDir = join(stateDir, 'compose', id, 'echo');
      const good = readdirSync(workDir).sort();

      // Each bad input: refused with its code in the status; v1 keeps running; nothing new on disk.
      const hostile = await pushCompose(name, '2.0.0', { 'docker-compose.yml': helloCompose }, 'escaped.txt');
      const v3 = await pushCompose(name, '3.0.0', {
        'docker-compose.yml': helloCompose,
        'extra.txt': 'v3',
      });
      front.tamper.add(v3.layer);
      const big = await pushCompose(name, '4.0.0', {
        'docker-compose.yml': helloCompose,
        'big.bin': randomBytes(300 * 1024).toString('base64'),
      });
      const forbiddenName = `${name}-private`;
      const fv = await pushCompose(forbiddenName, '1.0.0', { 'docker-compose.yml': helloCompose });
      front.forbidden.add(forbiddenName);
      const cases: [string, string, string][] = [
        ['path outside the folder', desired('2.0.0', hostile.manifest, 'v2'), 'AGENT_ARTIFACT_PATH_OUTSIDE'],
        ['tampered layer', desired('3.0.0', v3.manifest, 'v3'), 'AGENT_ARTIFACT_DIGEST_MISMATCH'],
        ['missing tag', desired('9.9.9', undefined, 'v9'), 'AGENT_ARTIFACT_NOT_FOUND'],
        ['token refused', desired('1.0.0', fv.manifest, 'vf', forbiddenName), 'AGENT_ARTIFACT_AUTH_FAILED'],
        ['oversized layer', desired('4.0.0', big.manifest, 'v4'), 'AGENT_ARTIFACT_TOO_LARGE'],
      ];
      for (const [what, doc, code] of cases) {
        repo.commit({ 'deployments/ocidev.yaml': doc });
        const r = await agent.pollOnce();
        assert.deepEqual(
          r.actions.map((a) => `${a.kind}:${a.result}`),
          ['upgrade:failed'],
          what,
        );
        const s = await waitFor(`${what}: failed status`, () => {
          const st = status();
          return st?.status?.state === 'failed' && st.components?.[0]?.error?.code ? st : undefined;
        });
        assert.equal(s.components[0].error.code, code, `${what}: ${JSON.stringify(s.components[0].error)}`);
        assert.match(
          repo.statusFile(`deployments/${id}.json`)!,
          /"adoptedManifestVersion": 18446744073709551615,/,
        );
        assert.ok(!JSON.stringify(s).includes(token), `${what}: no token in the status`);
        assert.match(await serving(), /GREETING=from-v1/, `${what}: the last good state keeps running`);
        assert.deepEqual(readdirSync(workDir).sort(), good, `${what}: nothing half-installed`);
      }
      assert.equal(readdirSync(join(stateDir, 'compose', id)).includes('escaped.txt'), false);

      // Back to v1: nothing to do, installed again.
      repo.commit({ 'deployments/ocidev.yaml': desired('1.0.0', v1.manifest, 'from-v1') });
      const back = await agent.pollOnce();
      assert.deepEqual(
        back.actions.map((a) => `${a.kind}:${a.result}`),
        ['noop:ok'],
      );
      await waitFor('installed again', () => status()?.status?.state === 'installed');
      // Unchanged since the commit it was applied at: it reports that commit's manifest version.
      assert.match(
        repo.statusFile(`deployments/${id}.json`)!,
        /"adoptedManifestVersion": 18446744073709551614,/,
      );
    } finally {
      await agent?.stop();
      removeComposeProject(env, project);
      await front.stop();
      await git.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
