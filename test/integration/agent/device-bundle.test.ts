// The shipped device agent (packages/agent/dist/bundle/, written by `npm run build`): what a running
// device loads, and that the launcher runs it. Its end-to-end behaviour (enrol, verify, install on
// Docker) is covered by test/e2e/cli/cli.test.ts, which runs the device through this launcher.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import { formatEnrolmentString, initPki, newEnrolmentSecret } from '@margo-gitops/trust';
import { writeDeviceIdentity } from '../../fixtures/device-identity.js';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const bundleDir = join(root, 'packages/agent/dist/bundle');
const launcher = join(root, 'packages/agent/bin/margo-agent');

interface Meta {
  outputs: Record<
    string,
    { entryPoint?: string; imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }
  >;
}

/** Every input (source file) in the outputs a running device loads: the entry and its static imports. */
function eagerInputs(meta: Meta): string[] {
  const entry = Object.keys(meta.outputs).find((o) => meta.outputs[o]!.entryPoint);
  assert.ok(entry, 'no entry in the bundle metadata');
  const seen = new Set<string>();
  const visit = (o: string) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const i of meta.outputs[o]!.imports)
      if (i.kind === 'import-statement' && meta.outputs[i.path]) visit(i.path);
  };
  visit(entry);
  return [...seen].flatMap((o) => Object.keys(meta.outputs[o]!.inputs));
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('margo-agent bundle', () => {
  it('is built', () => {
    assert.ok(existsSync(join(bundleDir, 'margo-agent.mjs')), 'run npm run build');
  });

  it('loads at start only what every device needs; the rest stays in lazy chunks', () => {
    const meta = JSON.parse(readFileSync(join(bundleDir, 'meta.json'), 'utf8')) as Meta;
    const eager = eagerInputs(meta);
    const has = (pkg: string) => eager.some((i) => i.includes(`node_modules/${pkg}/`));
    // Sanity: the reader sees what must be there.
    for (const pkg of ['isomorphic-git', 'yaml', 'pino'])
      assert.ok(has(pkg), `${pkg} missing from the start`);
    assert.ok(eager.some((i) => i.includes('packages/trust/dist/manifest.js')));
    // Issuing certificates (enrolment), Kubernetes, OpenPGP and tar are loaded when used.
    for (const pkg of ['node-forge', '@kubernetes/client-node', 'openpgp', 'tar'])
      assert.ok(!has(pkg), `${pkg} is loaded at start`);
    const all = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
    for (const pkg of ['node-forge', '@kubernetes/client-node', 'openpgp', 'tar'])
      assert.ok(
        all.some((i) => i.includes(`node_modules/${pkg}/`)),
        `${pkg} is not in the bundle at all`,
      );
  });

  it('never builds isomorphic-git objects through the web CompressionStream (it would load fetch)', () => {
    const src = readFileSync(join(bundleDir, 'margo-agent.mjs'), 'utf8');
    assert.doesNotMatch(src, /new CompressionStream\(/);
  });

  it('isomorphic-git deflates and inflates whole objects with node:zlib, interchangeably with pako', async () => {
    const meta = JSON.parse(readFileSync(join(bundleDir, 'meta.json'), 'utf8')) as {
      inputs: Record<string, { imports: { path: string; original?: string }[] }>;
    };
    const gitIndex = Object.keys(meta.inputs).find((i) =>
      i.endsWith('node_modules/isomorphic-git/index.cjs'),
    );
    assert.ok(gitIndex, 'isomorphic-git is not in the bundle');
    const pakoImport = meta.inputs[gitIndex]!.imports.find((i) => i.original === 'pako');
    assert.equal(pakoImport?.path, 'scripts/agent-bundle/pako-native.cjs');
    const shim = createRequire(import.meta.url)(join(root, 'scripts/agent-bundle/pako-native.cjs')) as {
      deflate(b: Uint8Array): Uint8Array;
      inflate(b: Uint8Array): Uint8Array;
      Inflate: unknown;
    };
    // pako (isomorphic-git's own dependency) ships no types.
    const pako = ((await import('pako' as string)) as { default: typeof shim }).default;
    const object = Buffer.from(`blob 4096\0${'margo '.repeat(700)}`);
    assert.deepEqual(Buffer.from(pako.inflate(shim.deflate(object))), object);
    assert.deepEqual(Buffer.from(shim.inflate(pako.deflate(object))), object);
    assert.equal(shim.Inflate, pako.Inflate, 'the streaming inflater (packfiles) stays pako');
    // Corrupt data throws a string, as pako does, which isomorphic-git turns into DecompressionError.
    assert.throws(
      () => shim.inflate(Buffer.from('not zlib data')),
      (e: unknown) => typeof e === 'string' && e.length > 0,
    );
  });

  it('the launcher prints usage, and refuses a missing --state with a stable code and exit 2', () => {
    const help = spawnSync(launcher, ['--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stderr, /^usage: margo-agent --state <dir>/);
    const bad = spawnSync(launcher, ['--server', 'http://127.0.0.1:1'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error USAGE_ERROR: --state is required/);
  });

  it('an unenrolled state folder without --server and --token is refused, not enrolled', () => {
    const dir = mkdtempSync(join(tmpdir(), 'margo-bundle-'));
    dirs.push(dir);
    const r = spawnSync(launcher, ['--state', join(dir, 'state')], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /error CLI_AGENT_STATE_INVALID: .* holds no enrolment/);
    // No warning from V8 about the launcher's flags.
    assert.doesNotMatch(r.stderr, /Warning/);
  });

  it("the launcher's own variables choose node and its flags, and do not reach the agent's strict config", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'margo-bundle-'));
    dirs.push(dir);
    const pki = await initPki(join(dir, 'pki'), { commonName: 'test CA', bits: 2048 });
    const state = join(dir, 'state');
    // Enrolled, so that the agent gets as far as its configuration; the repository is never reached.
    writeDeviceIdentity(state, { pki, deviceId: 'dev1', repoUrl: 'http://127.0.0.1:9/dev1.git', token: 't' });
    const typo = spawnSync(launcher, ['--state', state], {
      encoding: 'utf8',
      env: { ...process.env, MARGO_AGENT_NODE_FLAG: '--max-semi-space-size=2' },
    });
    assert.equal(typo.status, 2, typo.stderr);
    assert.match(
      typo.stderr,
      /error USAGE_ERROR: .*MARGO_AGENT_NODE_FLAG: unknown MARGO_AGENT_ environment variable/,
    );
    const child = spawn(launcher, ['--state', state], {
      env: {
        ...process.env,
        MARGO_AGENT_NODE: process.execPath,
        MARGO_AGENT_NODE_FLAGS: '--max-semi-space-size=2',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const deadline = Date.now() + 30_000;
    while (!/agent for device dev1 running/.test(err) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(err, /agent for device dev1 running/);
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(0, 2), [process.execPath, '--max-semi-space-size=2']);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  });

  it('an unreachable server at enrolment is reported with its code and exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'margo-bundle-'));
    dirs.push(dir);
    const r = spawnSync(
      launcher,
      ['--state', join(dir, 'state'), '--server', 'http://127.0.0.1:9', '--token-file', '-'],
      {
        encoding: 'utf8',
        timeout: 60_000,
        input: formatEnrolmentString({
          deviceId: 'dev1',
          ...newEnrolmentSecret(),
          caFingerprint: 'ab'.repeat(32),
        }),
      },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /error TRUST_ENROL_SERVER_ERROR: cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
