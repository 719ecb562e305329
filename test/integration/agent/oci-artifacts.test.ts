// Integration: the agent's artifact fetching (packages/agent/src/drivers/fetch-artifact.ts) and the
// drivers' prepare step against the testbed's real registries (docker-registry 2.8: open on
// 127.0.0.1:5000, htpasswd on :5001). Artifacts are pushed with @margo-gitops/oci's client; the
// Helm chart is the one the testbed pushed with `helm push`. The tampering registry of the
// digest-mismatch cases is a small node:http proxy in this file, in front of the real registry,
// that flips one byte of what it forwards (a real registry never serves wrong bytes on purpose).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import * as tar from 'tar';
import { parseDocument, type ApplicationDeployment } from '@margo-gitops/spec';
import { pullManifest, sha256Digest, type RegistryTarget } from '@margo-gitops/oci';
import { ComposeDriver, HelmDriver } from '@margo-gitops/agent';
import { fetchArtifact, type ArtifactRequest } from '../../../packages/agent/src/drivers/fetch-artifact.ts';
import { registrySettings } from '../../../packages/agent/src/drivers/registry-access.ts';
import type { ComponentContext } from '../../../packages/agent/src/drivers/driver.ts';
import { requireComponent } from '../../testbed/env.ts';
import { tempDir } from '../../e2e/agent/helpers.ts';
import { composeLayer, pushComposeArtifact } from '../../e2e/agent/oci-helpers.ts';

const root = new URL('../../..', import.meta.url).pathname;

/**
 * A tampering registry: forwards to `upstream`, flipping the last byte of every response body
 * whose request path matches `flip` (a blob or a manifest). Says how many it changed.
 */
async function tamperingProxy(
  upstream: string,
  flip: RegExp,
): Promise<{ host: string; flipped: number; close(): Promise<void> }> {
  const [uh, up] = upstream.split(':');
  const state = { host: '', flipped: 0, close: async () => {} };
  const srv: Server = createServer((req, res) => {
    const fwd = request(
      { host: uh, port: Number(up), path: req.url, method: req.method, headers: req.headers },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const body = Buffer.concat(chunks);
          if (flip.test(req.url ?? '') && body.length && req.method === 'GET') {
            body[body.length - 1] = body[body.length - 1]! ^ 0x01;
            state.flipped++;
          }
          const headers = { ...r.headers };
          res.writeHead(r.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    req.pipe(fwd);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  state.host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((r) => srv.close(() => r()));
  return state;
}

const helloCompose = readFileSync(join(root, 'test/fixtures/compose/hello/docker-compose.yml'), 'utf8');

test(
  'OCI artifacts against real registries: tag, pin, tampering, missing tag, credentials, size',
  { timeout: 120_000 },
  async (t) => {
    const tb = requireComponent(t, ['registry']);
    if (!tb) return;
    const dir = tempDir('agent-oci-int-');
    const open: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
    const creds = { username: tb.registryUser!, password: tb.registryPassword! };
    const priv: RegistryTarget = {
      host: tb.registryAuth!,
      plainHttp: true,
      timeoutMs: 10_000,
      credentials: creds,
    };
    const name = `margo-it/compose-${Date.now().toString(36)}`;
    const base: Omit<ArtifactRequest, 'repository' | 'revision'> = {
      kind: 'compose',
      settings: registrySettings({ plainHttpHosts: [tb.registry!, tb.registryAuth!] }),
      timeoutMs: 10_000,
      dir,
    };
    try {
      const layer = await composeLayer({ 'docker-compose.yml': helloCompose });
      const pin = (await pushComposeArtifact(open, name, '1.0.0_build.7', layer)).manifest;
      const repository = `oci://${tb.registry}/${name}`;

      // By tag (SemVer build metadata written `_`), then by the pin.
      const a = await fetchArtifact({ ...base, repository, revision: '1.0.0+build.7' });
      assert.equal(a.manifestDigest, pin);
      assert.ok(readFileSync(a.path).equals(layer));
      assert.equal(a.layer.digest, sha256Digest(layer));
      const b = await fetchArtifact({ ...base, repository, revision: '1.0.0+build.7', digest: pin });
      assert.equal(b.manifestDigest, pin);

      // A pin naming other content than the tag: fetched by the pin, so the registry has no such manifest.
      const other = `sha256:${'0'.repeat(64)}`;
      await assert.rejects(fetchArtifact({ ...base, repository, revision: '1.0.0+build.7', digest: other }), {
        code: 'AGENT_ARTIFACT_NOT_FOUND',
      });
      // Missing tag.
      await assert.rejects(
        fetchArtifact({ ...base, repository, revision: '9.9.9' }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'AGENT_ARTIFACT_NOT_FOUND');
          assert.match(e.message, /9\.9\.9/);
          return true;
        },
      );

      // Tampering registry: a flipped byte in the layer, then in the manifest fetched by its pin.
      for (const [what, flip] of [
        ['blob', /\/blobs\/sha256:/],
        ['manifest', /\/manifests\//],
      ] as const) {
        const proxy = await tamperingProxy(tb.registry!, flip);
        try {
          for (const f of readdirSync(dir)) if (f.startsWith('layer-')) rmSync(join(dir, f));
          await assert.rejects(
            fetchArtifact({
              ...base,
              settings: registrySettings({ plainHttpHosts: [proxy.host] }),
              repository: `oci://${proxy.host}/${name}`,
              revision: '1.0.0+build.7',
              digest: pin,
            }),
            { code: 'AGENT_ARTIFACT_DIGEST_MISMATCH' },
            what,
          );
          assert.ok(proxy.flipped >= 1, `the proxy changed the ${what}`);
          assert.deepEqual(
            readdirSync(dir).filter((f) => f.startsWith('layer-')),
            [],
            `no ${what} file is left behind`,
          );
        } finally {
          await proxy.close();
        }
      }

      // Oversized layer: refused from the manifest's size, before the download.
      await assert.rejects(
        fetchArtifact({
          ...base,
          settings: registrySettings({ plainHttpHosts: [tb.registry!], maxArtifactBytes: 64 }),
          repository,
          revision: '1.0.0+build.7',
        }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'AGENT_ARTIFACT_TOO_LARGE');
          assert.match(e.message, /maxArtifactBytes/);
          return true;
        },
      );

      // Credentials: the htpasswd registry refuses anonymous access and a wrong password; the
      // deployment's credentials go only to the host they name.
      await pushComposeArtifact(priv, name, '1.0.0', layer);
      const privRepo = `oci://${tb.registryAuth}/${name}`;
      const refused = async (deploymentCredentials?: ArtifactRequest['deploymentCredentials']) => {
        const e = await fetchArtifact({
          ...base,
          repository: privRepo,
          revision: '1.0.0',
          ...(deploymentCredentials ? { deploymentCredentials } : {}),
        }).then(
          () => assert.fail('fetched without the right credentials'),
          (err: Error & { code?: string }) => err,
        );
        assert.equal(e.code, 'AGENT_ARTIFACT_AUTH_FAILED');
        assert.ok(!e.message.includes(tb.registryPassword!), 'no secret in the message');
        return e.message;
      };
      assert.match(await refused(), /no MARGO_REGISTRY_\* parameters with server/);
      assert.match(
        await refused({ server: tb.registryAuth!, ...creds, password: 'wrong-password' }),
        /deployment’s MARGO_REGISTRY_\*/,
      );
      assert.match(
        await refused({ server: 'registry.elsewhere.example:5001', ...creds }),
        /no MARGO_REGISTRY_\*/,
      );
      const ok = await fetchArtifact({
        ...base,
        repository: privRepo,
        revision: '1.0.0',
        deploymentCredentials: { server: `http://${tb.registryAuth}/`, ...creds },
      });
      assert.ok(readFileSync(ok.path).equals(layer));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** A ComponentContext for a driver's prepare step, from a deployment document. */
function context(doc: string, workDir: string, progress: string[]): ComponentContext {
  const d = parseDocument(Buffer.from(doc), { file: 'd.yaml', kind: 'ApplicationDeployment' })
    .model as ApplicationDeployment;
  assert.ok(d, 'deployment parses');
  return {
    deployment: d,
    component: d.profile.components[0]!,
    values: [],
    repoFiles: new Map(),
    workDir,
    timeoutSeconds: 30,
    logger: pino({ level: 'silent' }),
    progress: (p) => progress.push(p),
  };
}

const deployment = (type: 'compose' | 'helm', repository: string, revision: string, digest?: string) => `
id: 0000001d-7777-4a5b-9c3d-00000000001d
metadata: {name: oci-it, namespace: oci-it, deviceId: dev-1}
spec:
  applicationId: oci-it
  deploymentProfile:
    type: ${type}
    components:
      - name: app
        properties: {repository: "${repository}", revision: "${revision}"}
${digest ? `        x-margo-gitops-extensions: {digest: "${digest}"}\n` : ''}`;

test(
  'drivers prepare OCI components: Compose extracted safely, Helm chart saved as .tgz',
  { timeout: 120_000 },
  async (t) => {
    const tb = requireComponent(t, ['registry', 'charts']);
    if (!tb) return;
    const dir = tempDir('agent-oci-drv-');
    const open: RegistryTarget = { host: tb.registry!, plainHttp: true, timeoutMs: 10_000 };
    const registry = { plainHttpHosts: [tb.registry!] };
    const name = `margo-it/drv-${Date.now().toString(36)}`;
    try {
      const compose = new ComposeDriver({ registry });
      const good = (
        await pushComposeArtifact(
          open,
          name,
          '1.0.0',
          await composeLayer({ 'docker-compose.yml': helloCompose }),
        )
      ).manifest;
      const work = join(dir, 'compose-work');
      mkdirSync(work);
      const progress: string[] = [];
      const p = await compose.prepare(
        context(deployment('compose', `oci://${tb.registry}/${name}`, '1.0.0', good), work, progress),
      );
      assert.equal(readFileSync(join(p.dir as string, p.composeFile as string), 'utf8'), helloCompose);
      assert.deepEqual(progress, ['downloading', 'prepared']);
      // Pinned and extracted already: no registry needed (a repository that does not exist).
      const again = await compose.prepare(
        context(deployment('compose', `oci://${tb.registry}/${name}/gone`, '1.0.0', good), work, []),
      );
      assert.equal(again.dir, p.dir);

      // A package with an entry outside its folder: refused whole, nothing new in the work dir.
      const hostile = (
        await pushComposeArtifact(
          open,
          name,
          '2.0.0',
          await composeLayer({ 'docker-compose.yml': helloCompose }, 'escaped.txt'),
        )
      ).manifest;
      const before = readdirSync(work).sort();
      await assert.rejects(
        compose.prepare(
          context(deployment('compose', `oci://${tb.registry}/${name}`, '2.0.0', hostile), work, []),
        ),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'AGENT_ARTIFACT_PATH_OUTSIDE');
          assert.match(e.message, /escaped\.txt/);
          return true;
        },
      );
      assert.deepEqual(readdirSync(work).sort(), before);
      assert.equal(existsSync(join(dir, 'escaped.txt')), false);

      // Helm: the chart the testbed pushed with `helm push`, fetched by its pin and saved as a .tgz.
      const chartRepo = `${tb.chartRepo}/hello`;
      const m = await pullManifest(open, 'charts/hello', '0.1.0');
      const helm = new HelmDriver({ kubeconfig: join(dir, 'unused.kubeconfig'), registry });
      const hwork = join(dir, 'helm-work');
      mkdirSync(hwork);
      const hp = await helm.prepare(context(deployment('helm', chartRepo, '0.1.0', m.digest), hwork, []));
      assert.match(hp.chart as string, /chart-[0-9a-f]{16}\.tgz$/);
      assert.equal(hp.digest, m.digest);
      const entries: string[] = [];
      await tar.t({ file: hp.chart as string, onReadEntry: (e) => entries.push(e.path) });
      assert.ok(entries.includes('hello/Chart.yaml'), entries.join(','));
      assert.deepEqual(
        readdirSync(hwork).sort(),
        [String(hp.chart).split('/').pop(), 'registry.json'].sort(),
      );
      // A Compose artifact is not a chart.
      await assert.rejects(
        helm.prepare(context(deployment('helm', `oci://${tb.registry}/${name}`, '1.0.0'), hwork, [])),
        { code: 'AGENT_PACKAGE_INVALID' },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
