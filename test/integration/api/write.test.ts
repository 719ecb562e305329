// The rc.2 write side against a real `margo serve`, by a client on node:https alone holding a
// device SVID from `margo device add --svid-out` (no agent runs): capabilities PUT (then used by
// matching: the deployment reaches the device), status POST shown by `margo status` like a Git
// report, idempotent repeats, DELETE, and every refusal as an rc.2 ProblemDetail. The status
// branch is read with stock git.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deployHelloArgs, json } from '../../e2e/cli/harness.js';
import { expectOpenApiValid } from '../../conformance/openapi.js';
import {
  call,
  capabilities,
  git,
  manifestOf,
  ref,
  startWriteFleet,
  stopWriteFleet,
  type WriteFleet,
} from './write-fleet.js';

interface FleetStatus {
  deployments: {
    name: string;
    counts: Record<string, number>;
    devices: {
      deviceId: string;
      state: string;
      error?: { code: string; message: string; source?: string };
    }[];
  }[];
  devices: { deviceId: string; statusProblems?: { path: string; code: string }[]; upToDate?: boolean }[];
}

/** A problem body: the right status, our code, and valid against rc.2 ProblemDetail. */
function problem(
  r: { status: number; headers: Record<string, unknown>; body: Buffer },
  status: number,
  code: string,
) {
  assert.equal(r.status, status, r.body.toString());
  assert.equal(r.headers['content-type'], 'application/problem+json');
  const doc = JSON.parse(r.body.toString()) as Record<string, unknown>;
  expectOpenApiValid('ProblemDetail', doc);
  assert.equal(doc.code, code);
  return doc;
}

describe('Workload Management API: status and capabilities writes over mTLS', { timeout: 420_000 }, () => {
  const f: Partial<WriteFleet> = {};
  before(async () => {
    await startWriteFleet('margo-api-write-', f);
  });
  after(async () => stopWriteFleet(f));

  test('capabilities PUT, matching, status POST, margo status, idempotency, DELETE, refusals', async () => {
    const fleet = f as WriteFleet;
    const margo = (...a: string[]) => fleet.cli.run(...a);
    const status = async () => json<FleetStatus>(await margo('status', '-o', 'json'));

    // 1. Capabilities: one commit on dev2's status branch, provenance in the commit.
    assert.equal(ref(fleet, 'dev2'), '', 'no status yet');
    let r = await call(fleet, 'dev2', 'PUT', '/api/v1/capabilities/dev2', capabilities('dev2'));
    assert.equal(r.status, 201, r.body.toString());
    const c1 = ref(fleet, 'dev2');
    assert.match(c1, /^[0-9a-f]{40}$/);
    assert.equal(git(fleet, 'dev2', 'log', '-1', '--format=%an', 'status').trim(), 'dev2 (api)');
    const trailers = git(fleet, 'dev2', 'log', '-1', '--format=%(trailers:only,unfold)', 'status');
    assert.match(trailers, /^Margo-Transport: rest$/m);
    assert.match(
      trailers,
      /^Margo-Peer: spiffe:\/\/margo-gitops\.internal\/margo\/wfm\/[0-9a-f]{16}\/client\/dev2$/m,
    );
    assert.match(trailers, /^Margo-Peer-Serial: [0-9a-f]+$/m);
    assert.deepEqual(git(fleet, 'dev2', 'ls-tree', '-r', '--name-only', 'status').trim().split('\n'), [
      'capabilities.json',
      'observed.json',
      'signatures.json',
    ]);
    const sigs = JSON.parse(git(fleet, 'dev2', 'show', 'status:signatures.json')) as Record<
      string,
      { witness: string; peer: string }
    >;
    assert.deepEqual(Object.keys(sigs), ['capabilities.json', 'observed.json']);
    assert.match(sigs['capabilities.json']!.witness, /^[A-Za-z0-9+/=]+;[A-Za-z0-9+/=]+$/);
    assert.match(sigs['capabilities.json']!.peer, /\/client\/dev2$/);
    const obs1 = JSON.parse(git(fleet, 'dev2', 'show', 'status:observed.json')) as { seq: string };

    // The same document again: 200 and nothing written.
    r = await call(fleet, 'dev2', 'PUT', '/api/v1/capabilities/dev2', capabilities('dev2'));
    assert.equal(r.status, 200);
    assert.equal(ref(fleet, 'dev2'), c1, 'unchanged content makes no commit');

    // 2. The orchestrator matches on them: the deployment reaches dev2 (no capabilities: not matched).
    json(await margo(...deployHelloArgs({ device: 'dev2', greeting: 'rest', hostPort: fleet.hostPort })));
    const m = await manifestOf(fleet, 'dev2', (x) => x.deployments.length === 1);
    const deploymentId = m.deployments[0]!.deploymentId;
    const main = ref(fleet, 'dev2', 'main');

    // 3. Status: a failed component first, shown per component by the roll-up like a Git report.
    const report = (state: string, extra: Record<string, unknown> = {}) => ({
      deploymentId,
      deviceId: 'dev2',
      adoptedManifestVersion: m.manifestVersion,
      status: { state },
      components: [{ name: 'web', state, ...extra }],
    });
    const failed = report('failed', {
      error: { code: 'IMAGE_PULL', message: 'no such image', source: 'web' },
    });
    (failed.status as Record<string, unknown>).error = {
      code: 'IMAGE_PULL',
      message: 'no such image',
      source: 'web',
    };
    r = await call(fleet, 'dev2', 'POST', `/api/v1/deployments/${deploymentId}/status`, failed);
    assert.equal(r.status, 201, r.body.toString());
    const c2 = ref(fleet, 'dev2');
    assert.notEqual(c2, c1);
    const obs2 = JSON.parse(git(fleet, 'dev2', 'show', 'status:observed.json')) as {
      commit: string;
      seq: string;
      files: Record<string, string>;
    };
    assert.equal(obs2.commit, main, 'observed.json names the desired commit of adoptedManifestVersion');
    assert.ok(BigInt(obs2.seq) > BigInt(obs1.seq), 'seq strictly increases');
    assert.deepEqual(Object.keys(obs2.files).sort(), [
      'capabilities.json',
      `deployments/${deploymentId}.json`,
    ]);
    let row = await fleet.cli.until(60, 'hello failed on dev2 in margo status', async () => {
      const s = await status();
      const d = s.deployments.find((x) => x.name === 'hello')?.devices.find((x) => x.deviceId === 'dev2');
      return d?.state === 'failed' ? { s, d } : undefined;
    });
    assert.deepEqual(row.d.error, { code: 'IMAGE_PULL', message: 'no such image', source: 'web' });

    // Then installed: 200 (the file existed), shown installed and up to date, nothing ignored.
    r = await call(fleet, 'dev2', 'POST', `/api/v1/deployments/${deploymentId}/status`, report('installed'));
    assert.equal(r.status, 200, r.body.toString());
    const c3 = ref(fleet, 'dev2');
    assert.notEqual(c3, c2);
    row = await fleet.cli.until(60, 'hello installed on dev2 in margo status', async () => {
      const s = await status();
      const d = s.deployments.find((x) => x.name === 'hello')?.devices.find((x) => x.deviceId === 'dev2');
      return d?.state === 'installed' ? { s, d } : undefined;
    });
    assert.equal(row.s.deployments.find((x) => x.name === 'hello')!.counts.installed, 1);
    const dev = row.s.devices.find((x) => x.deviceId === 'dev2')!;
    assert.deepEqual(dev.statusProblems ?? [], [], 'every file verified (API witness)');
    assert.equal(dev.upToDate, true);

    // The same report again: nothing written.
    r = await call(fleet, 'dev2', 'POST', `/api/v1/deployments/${deploymentId}/status`, report('installed'));
    assert.equal(r.status, 200);
    assert.equal(ref(fleet, 'dev2'), c3);

    // 4. Refusals, each an rc.2 ProblemDetail, none of them writing anything.
    const post = (body: unknown, headers?: Record<string, string>, id = deploymentId) =>
      call(fleet, 'dev2', 'POST', `/api/v1/deployments/${id}/status`, body, headers);
    problem(
      await post(report('installed'), { 'content-type': 'text/plain' }),
      415,
      'API_UNSUPPORTED_MEDIA_TYPE',
    );
    problem(await post('{"deploymentId": '), 400, 'API_BODY_INVALID');
    problem(await post('[1,2]'), 400, 'API_BODY_INVALID');
    problem(await post(Buffer.alloc(1024 * 1024 + 10, 0x20)), 413, 'API_BODY_TOO_LARGE');
    const bad = problem(
      await post({ deploymentId, adoptedManifestVersion: 1, status: { state: 'bogus' }, components: 'x' }),
      422,
      'API_DOCUMENT_INVALID',
    );
    assert.equal(bad.type, 'https://docs.margo.org/specification/problem-types#invalid-request');
    const fields = (bad.errors as { field: string; message: string }[]).map((e) => e.field).sort();
    assert.deepEqual(fields, ['/components', '/status/state']);
    const other = '00000000-0000-4000-8000-000000000000';
    const mismatch = problem(
      await post({ ...report('installed'), deploymentId: other }),
      422,
      'API_DOCUMENT_INVALID',
    );
    assert.ok((mismatch.errors as { field: string }[]).some((e) => e.field === '/deploymentId'));
    problem(await post({ ...report('installed'), deviceId: 'dev3' }), 403, 'API_FORBIDDEN');
    problem(
      await post({ ...report('installed'), deploymentId: other }, undefined, other),
      404,
      'API_NOT_FOUND',
    );
    problem(
      await call(fleet, 'dev2', 'PUT', '/api/v1/capabilities/dev2', capabilities('dev3')),
      422,
      'API_DOCUMENT_INVALID',
    );
    problem(
      await call(fleet, 'dev2', 'PUT', '/api/v1/capabilities/dev2', { properties: { id: 'dev2' } }),
      422,
      'API_DOCUMENT_INVALID',
    );
    assert.equal(ref(fleet, 'dev2'), c3, 'no refusal wrote anything');

    // 5. DELETE: capabilities.json goes (one commit); again: 204, nothing written.
    r = await call(fleet, 'dev2', 'DELETE', '/api/v1/capabilities/dev2');
    assert.equal(r.status, 204);
    const c4 = ref(fleet, 'dev2');
    assert.notEqual(c4, c3);
    assert.deepEqual(git(fleet, 'dev2', 'ls-tree', '-r', '--name-only', 'status').trim().split('\n'), [
      `deployments/${deploymentId}.json`,
      'observed.json',
      'signatures.json',
    ]);
    r = await call(fleet, 'dev2', 'DELETE', '/api/v1/capabilities/dev2');
    assert.equal(r.status, 204);
    assert.equal(ref(fleet, 'dev2'), c4);
  });
});
