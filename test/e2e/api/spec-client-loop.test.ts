/**
 * A third-party Margo device, written here on node:https alone (no project code: the requests,
 * digests and documents are built by hand from the rc.2 OpenAPI), walks the whole rc.2 loop
 * against a real `margo serve`: a manifest asked for before any desired state (503, Retry-After),
 * capabilities PUT (after which the fleet roll-up matches the device and its manifest holds the
 * deployment), the manifest again with If-None-Match (304), the document and the bundle by
 * digest (sha256 over the exact bytes; the bundle unpacked with the stock `tar`), status POST
 * (after which `margo status` shows it installed, written to the device's `status` branch with
 * its provenance), capabilities DELETE. Every response is checked against the upstream rc.2
 * OpenAPI schemas by its content type, and the run ends with zero violations.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { json } from '../cli/harness.js';
import { requireComponent } from '../../testbed/env.js';
import {
  httpsGet,
  sha256,
  startApiFleet,
  stopApiFleet,
  type ApiFleet,
  type Identity,
  type Reply,
} from '../../integration/api/fleet.js';
import { capabilities } from '../../integration/api/write-fleet.js';
import { BUNDLE_TYPE, Rc2Replies } from './rc2-replies.js';

interface Manifest {
  manifestVersion: number;
  bundle: { mediaType: string; digest: string; url: string; sizeBytes?: number } | null;
  deployments: { deploymentId: string; digest: string; url: string; sizeBytes?: number }[];
}

describe('rc.2 spec client: the whole loop against margo serve', { timeout: 600_000 }, () => {
  const f: Partial<ApiFleet> = {};
  before(async () => {
    await startApiFleet('margo-api-loop-', f);
  });
  after(async () => {
    if (f.server && f.server.exitCode === null && f.cli) await f.cli.run('undeploy', 'hello2');
    await stopApiFleet(f);
  });

  test('manifest, 304, capabilities, document, bundle, status, roll-up', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const fleet = f as ApiFleet;
    const margo = (...a: string[]) => fleet.cli.run(...a);
    const dev2Repo = join(fleet.dir, 'margo-data', 'repos', 'devices', 'dev2.git');
    const dev1Repo = join(fleet.dir, 'margo-data', 'repos', 'devices', 'dev1.git');
    const gitIn = (repo: string, ...a: string[]) => {
      try {
        return execFileSync('git', ['--git-dir', repo, ...a], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim();
      } catch {
        return '';
      }
    };
    const statusHead = (repo: string) => gitIn(repo, 'rev-parse', '--verify', '-q', 'refs/heads/status');
    const keep = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => keep.destroy());

    // Every reply is checked here by its content type; violations are collected and must be none.
    const replies = new Rc2Replies(join(fleet.dir, 'bundles'));
    const call = async (
      method: string,
      path: string,
      o: { id?: Identity; body?: unknown; type?: string; headers?: Record<string, string> } = {},
    ): Promise<Reply> => {
      const body =
        o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      const r = await httpsGet(`${fleet.api}${path}`, {
        ca: fleet.ca,
        id: o.id ?? fleet.dev2,
        method,
        agent: o.id ? undefined : keep,
        headers: {
          ...(body !== undefined ? { 'content-type': o.type ?? 'application/json' } : {}),
          ...(o.headers ?? {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
      await replies.check(`${method} ${path}`, r);
      return r;
    };
    const problemCode = (r: Reply) =>
      (JSON.parse(r.body.toString('utf8')) as { code?: string; errors?: unknown[] }).code;
    const manifestOf = (r: Reply) => JSON.parse(r.body.toString('utf8')) as Manifest;

    // 1. A deployment for dev2 waits for its capabilities: dev2 has reported none.
    json(
      await margo(
        'deploy',
        'hello-world@1.0.0',
        '--name',
        'hello2',
        '--device',
        'dev2',
        '--set-string',
        'GREETING=from a spec client',
        '--set',
        `HOST_PORT=${fleet.hostPort}`,
        '-o',
        'json',
      ),
    );
    const dev2Row = async () => {
      const r = await margo('status', 'hello2', '-o', 'json');
      if (r.code !== 0) return undefined;
      const s = JSON.parse(r.out) as {
        deployment: { devices: { deviceId: string; state: string; reason?: string }[] };
      };
      return s.deployment.devices.find((d) => d.deviceId === 'dev2');
    };
    const unmatched = await fleet.cli.until(120, 'hello2 not matched on dev2', async () => {
      const row = await dev2Row();
      return row?.state === 'not-matched' ? row : undefined;
    });
    assert.match(unmatched.reason ?? '', /capabilit/);

    // 2. Manifest before any desired state: the server cannot vouch for one yet, so 503 with
    //    Retry-After (a client retries later; never read as "no deployments").
    const first = await call('GET', '/api/v1/deployments');
    assert.equal(first.status, 503, first.body.toString());
    assert.ok(Number(first.headers['retry-after']) > 0, 'Retry-After on 503');

    // 3. Capabilities: bad requests refused and nothing written; then 201, and 200 when unchanged.
    const before2 = statusHead(dev2Repo);
    const before1 = statusHead(dev1Repo);
    const notJson = await call('PUT', '/api/v1/capabilities/dev2', {
      body: '{"properties":',
      type: 'application/json',
    });
    assert.equal(notJson.status, 400);
    const wrongType = await call('PUT', '/api/v1/capabilities/dev2', {
      body: capabilities('dev2'),
      type: 'text/plain',
    });
    assert.equal(wrongType.status, 415);
    const invalid = await call('PUT', '/api/v1/capabilities/dev2', { body: { properties: { id: 'dev2' } } });
    assert.equal(invalid.status, 422);
    assert.ok(
      ((JSON.parse(invalid.body.toString()) as { errors?: unknown[] }).errors ?? []).length > 0,
      'a 422 lists what is wrong in errors[]',
    );
    const other = await call('PUT', '/api/v1/capabilities/dev1', { body: capabilities('dev1') });
    assert.equal(other.status, 403, "dev2 may not write dev1's capabilities");
    assert.equal(statusHead(dev1Repo), before1, "nothing written on dev1's status branch");
    assert.equal(statusHead(dev2Repo), before2, 'refused writes commit nothing');

    const put = await call('PUT', '/api/v1/capabilities/dev2', { body: capabilities('dev2') });
    assert.equal(put.status, 201, put.body.toString());
    const afterPut = statusHead(dev2Repo);
    assert.ok(afterPut && afterPut !== before2, 'one commit on the status branch');
    const again = await call('PUT', '/api/v1/capabilities/dev2', { body: capabilities('dev2') });
    assert.equal(again.status, 200);
    assert.equal(statusHead(dev2Repo), afterPut, 'unchanged capabilities: no commit');
    assert.deepEqual(
      JSON.parse(gitIn(dev2Repo, 'show', 'status:capabilities.json')),
      capabilities('dev2'),
      'the document as sent, in the Git status layout',
    );
    const msg = gitIn(dev2Repo, 'log', '-1', '--format=%an%n%B', 'status');
    assert.match(msg, /^dev2 \(api\)$/m);
    assert.match(msg, /^Margo-Transport: rest$/m);
    assert.match(msg, /^Margo-Peer: spiffe:\/\/margo-gitops\.internal\/margo\/wfm\/[^/\s]+\/client\/dev2$/m);
    assert.match(msg, /^Margo-Peer-Serial: \S+$/m);

    // 4. The fleet roll-up now matches dev2; its manifest gains hello2 with a greater version.
    await fleet.cli.until(120, 'hello2 matched on dev2', async () => {
      const row = await dev2Row();
      return row && row.state !== 'not-matched' ? row : undefined;
    });
    const full = await fleet.cli.until(120, 'hello2 in the manifest of dev2', async () => {
      const r = await call('GET', '/api/v1/deployments');
      return r.status === 200 && manifestOf(r).deployments.length === 1 ? r : undefined;
    });
    const m1 = manifestOf(full);
    assert.ok(Number.isInteger(m1.manifestVersion) && m1.manifestVersion >= 1);
    assert.equal(full.headers.etag, `"${sha256(full.body)}"`);
    // No change: 304, no body, on the same kept-alive connection.
    const cached = await call('GET', '/api/v1/deployments', {
      headers: { 'if-none-match': String(full.headers.etag) },
    });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.etag, full.headers.etag);

    // 5. The document and the bundle by digest, sha256 over the exact bytes.
    const ref = m1.deployments[0]!;
    const doc = await call('GET', ref.url);
    assert.equal(doc.status, 200);
    assert.equal(sha256(doc.body), ref.digest);
    const deployment = parse(doc.body.toString('utf8')) as {
      metadata: { name: string; deviceId: string };
      spec: { deploymentProfile: { components: { name: string }[] } };
    };
    assert.equal(deployment.metadata.deviceId, 'dev2');
    const bundle = await call('GET', m1.bundle!.url);
    assert.equal(bundle.status, 200);
    assert.equal(bundle.headers['content-type'], BUNDLE_TYPE);
    assert.equal(sha256(bundle.body), m1.bundle!.digest);
    const files = (await readdir(replies.lastBundleDir)).sort();
    assert.deepEqual(
      files,
      [`${ref.deploymentId}.yaml`],
      'the bundle holds exactly the referenced documents',
    );
    assert.equal(
      sha256(await readFile(join(replies.lastBundleDir, files[0]!))),
      ref.digest,
      'the file in the bundle is the document, byte for byte',
    );

    // 6. Status: refused when malformed, for another device's deployment, or mismatched; then
    //    installing (201) and installed (200); the same report again writes nothing.
    const status = (state: string, deploymentId = ref.deploymentId) => ({
      deploymentId,
      deviceId: 'dev2',
      adoptedManifestVersion: m1.manifestVersion,
      status: { state },
      components: deployment.spec.deploymentProfile.components.map((c) => ({ name: c.name, state })),
    });
    const base = statusHead(dev2Repo);
    const url = `/api/v1/deployments/${ref.deploymentId}/status`;
    assert.equal((await call('POST', url, { body: 'not json' })).status, 400);
    const bad = await call('POST', url, { body: status('finished') });
    assert.equal(bad.status, 422);
    assert.ok(((JSON.parse(bad.body.toString()) as { errors?: unknown[] }).errors ?? []).length > 0);
    const mismatch = await call('POST', url, { body: status('installed', 'some-other-id') });
    assert.ok([403, 422].includes(mismatch.status), `path/body mismatch: ${mismatch.status}`);
    // dev1's deployment id, read from its repository (the server would not tell dev2).
    const foreignId = (parse(gitIn(dev1Repo, 'show', 'main:deployments/hello.yaml')) as { id: string }).id;
    assert.ok(foreignId, "dev1's deployment id");
    const foreign = await call('POST', `/api/v1/deployments/${foreignId}/status`, {
      body: status('installed', foreignId),
    });
    assert.equal(foreign.status, 404, "another device's deployment is unknown to dev2");
    assert.equal(problemCode(foreign), 'API_NOT_FOUND');
    assert.equal(statusHead(dev2Repo), base, 'refused reports commit nothing');

    assert.equal((await call('POST', url, { body: status('installing') })).status, 201);
    const installed = await call('POST', url, { body: status('installed') });
    assert.equal(installed.status, 200);
    const head = statusHead(dev2Repo);
    assert.equal((await call('POST', url, { body: status('installed') })).status, 200);
    assert.equal(statusHead(dev2Repo), head, 'the same report again: no commit');
    const written = JSON.parse(gitIn(dev2Repo, 'show', `status:deployments/${ref.deploymentId}.json`)) as {
      status: { state: string };
    };
    assert.equal(written.status.state, 'installed');

    // 7. The fleet roll-up shows the REST report like one over Git: installed, no status problem.
    await fleet.cli.until(120, 'hello2 installed on dev2 in margo status', async () =>
      (await dev2Row())?.state === 'installed' ? true : undefined,
    );
    const fleetStatus = json<{
      devices: { deviceId: string; lastReportAt?: string; statusProblems?: unknown[] }[];
    }>(await margo('status', '-o', 'json'));
    const dev2 = fleetStatus.devices.find((d) => d.deviceId === 'dev2');
    assert.ok(dev2?.lastReportAt, 'dev2 has reported');
    assert.equal(dev2?.statusProblems, undefined, JSON.stringify(dev2?.statusProblems));

    // 8. Capabilities removed: 204, and capabilities.json leaves the status branch.
    const del = await call('DELETE', '/api/v1/capabilities/dev2');
    assert.equal(del.status, 204);
    assert.equal(gitIn(dev2Repo, 'show', 'status:capabilities.json'), '');

    assert.deepEqual(replies.violations, [], 'zero violations of the rc.2 OpenAPI schemas');
    for (const schema of ['UnsignedAppStateManifest', 'appDeploymentManifest', 'ProblemDetail', 'no content'])
      assert.ok((replies.checked.get(schema) ?? 0) > 0, `replies checked as ${schema}`);
  });
});
