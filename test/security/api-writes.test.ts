// Attacks on the write side of the Workload Management API of a real `margo serve`: another
// device's SVID posting status for this device's deployment or writing its capabilities, and a
// stolen device Git token used to push API witness entries onto another device's status branch.
// The client is node:https alone; the branches are read and the attack pushed with stock git.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenStore } from '../../packages/git/src/index.js';
import { deployHelloArgs, json } from '../e2e/cli/harness.js';
import { expectOpenApiValid } from '../conformance/openapi.js';
import {
  call,
  capabilities,
  git,
  manifestOf,
  ref,
  startWriteFleet,
  stopWriteFleet,
  type WriteFleet,
} from '../integration/api/write-fleet.js';

interface FleetStatus {
  devices: { deviceId: string; statusProblems?: { path: string; code: string }[] }[];
}

describe('API writes: one device cannot write another device’s status', { timeout: 420_000 }, () => {
  const f: Partial<WriteFleet> = {};
  let deploymentId = '';
  let fleet: WriteFleet;
  before(async () => {
    fleet = await startWriteFleet('margo-sec-api-writes-', f);
    for (const id of ['dev2', 'dev3'] as const) {
      const r = await call(fleet, id, 'PUT', `/api/v1/capabilities/${id}`, capabilities(id, `s-${id}`));
      assert.equal(r.status, 201, r.body.toString());
    }
    json(
      await fleet.cli.run(...deployHelloArgs({ device: 'dev2', greeting: 'x', hostPort: fleet.hostPort })),
    );
    const m = await manifestOf(fleet, 'dev2', (x) => x.deployments.length === 1);
    deploymentId = m.deployments[0]!.deploymentId;
    const r = await call(fleet, 'dev2', 'POST', `/api/v1/deployments/${deploymentId}/status`, {
      deploymentId,
      adoptedManifestVersion: m.manifestVersion,
      status: { state: 'installed' },
      components: [{ name: 'web', state: 'installed' }],
    });
    assert.equal(r.status, 201, r.body.toString());
  });
  after(async () => stopWriteFleet(f));

  const refs = () => ({ dev2: ref(fleet, 'dev2'), dev3: ref(fleet, 'dev3') });
  const body = (r: { body: Buffer }) => {
    const doc = JSON.parse(r.body.toString()) as Record<string, unknown>;
    expectOpenApiValid('ProblemDetail', doc);
    return doc;
  };

  test("dev3's SVID posting status for dev2's deployment: 404 like any unknown id, nothing written", async () => {
    const before = refs();
    const report = (id: string) => ({
      deploymentId: id,
      adoptedManifestVersion: 1,
      status: { state: 'failed' },
      components: [{ name: 'web', state: 'failed' }],
    });
    const theirs = await call(
      fleet,
      'dev3',
      'POST',
      `/api/v1/deployments/${deploymentId}/status`,
      report(deploymentId),
    );
    assert.equal(theirs.status, 404, theirs.body.toString());
    const unknown = '00000000-0000-4000-8000-000000000001';
    const none = await call(fleet, 'dev3', 'POST', `/api/v1/deployments/${unknown}/status`, report(unknown));
    assert.equal(none.status, 404);
    // Nothing disclosed: the two answers differ only in the path they name.
    const a = body(theirs);
    const b = body(none);
    assert.deepEqual({ ...a, instance: '' }, { ...b, instance: '' });
    assert.equal(a.code, 'API_NOT_FOUND');
    // Naming dev2 in the body does not help either.
    const named = await call(fleet, 'dev3', 'POST', `/api/v1/deployments/${deploymentId}/status`, {
      ...report(deploymentId),
      deviceId: 'dev2',
    });
    assert.equal(named.status, 403);
    assert.equal(body(named).code, 'API_FORBIDDEN');
    assert.deepEqual(refs(), before, 'neither status branch moved');
  });

  test("dev3's SVID writing or deleting dev2's capabilities: 403, nothing written", async () => {
    const before = refs();
    for (const [method, doc] of [
      ['PUT', capabilities('dev2', 'evil')],
      ['PUT', capabilities('dev3', 'evil')],
      ['DELETE', undefined],
    ] as const) {
      const r = await call(fleet, 'dev3', method, '/api/v1/capabilities/dev2', doc);
      assert.equal(r.status, 403, `${method}: ${r.body.toString()}`);
      assert.equal(body(r).code, 'API_FORBIDDEN');
    }
    assert.deepEqual(refs(), before, 'neither status branch moved');
    assert.match(git(fleet, 'dev2', 'show', 'status:capabilities.json'), /"serialNumber":"s-dev2"/);
  });

  test("a stolen Git token pushing dev2's witness-signed status onto dev3's branch: refused by the orchestrator", async () => {
    // The device token enrolment would have issued dev3 (the server re-reads the token file within 1 s).
    const token = TokenStore.open(join(fleet.dir, 'margo-data', 'auth', 'tokens.json')).issueToken('device', {
      deviceId: 'dev3',
      name: 'device dev3',
    }).token;
    await new Promise((r) => setTimeout(r, 1200));
    // Stock git, the token in the environment (never on a command line).
    const env = {
      ...process.env,
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}`,
      GIT_TERMINAL_PROMPT: '0',
    };
    const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
    const wt = await mkdtemp(join(fleet.dir, 'attack-'));
    const url = `http://127.0.0.1:${fleet.port}/git/devices/dev3.git`;
    sh(fleet.dir, 'clone', '-q', '-b', 'status', url, wt);
    // dev2's files (a leaked copy of its status branch): every one carries an API witness entry.
    for (const p of [
      'capabilities.json',
      `deployments/${deploymentId}.json`,
      'observed.json',
      'signatures.json',
    ]) {
      execFileSync('mkdir', ['-p', join(wt, p, '..')]);
      await writeFile(join(wt, p), git(fleet, 'dev2', 'show', `status:${p}`));
    }
    const sigs = JSON.parse(git(fleet, 'dev2', 'show', 'status:signatures.json')) as Record<
      string,
      { witness: string }
    >;
    assert.ok(sigs['observed.json']?.witness, 'dev2 status is witness-signed');
    sh(wt, 'add', '-A');
    sh(wt, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'status');
    sh(wt, 'push', '-q', 'origin', 'status');
    const pushed = ref(fleet, 'dev3');
    assert.equal(
      git(fleet, 'dev3', 'show', `${pushed}:observed.json`),
      git(fleet, 'dev2', 'show', 'status:observed.json'),
    );

    // The orchestrator reads the push and ignores every copied file: the witness binds dev2.
    const problems = await fleet.cli.until(60, "dev3's copied status flagged", async () => {
      const s = json<FleetStatus>(await fleet.cli.run('status', '-o', 'json'));
      const p = s.devices.find((d) => d.deviceId === 'dev3')?.statusProblems ?? [];
      return p.length ? p : undefined;
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.code]));
    assert.deepEqual(byPath, {
      'capabilities.json': 'TRUST_WITNESS_FORGED',
      [`deployments/${deploymentId}.json`]: 'TRUST_WITNESS_FORGED',
      'observed.json': 'TRUST_WITNESS_FORGED',
    });
    await rm(wt, { recursive: true, force: true });
  });
});
