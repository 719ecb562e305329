import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MargoError } from '@margo-gitops/spec';
import { memoryIo } from './io.js';
import { main } from './main.js';
import type { Runners } from './program.js';
import type { Services } from './services.js';

/** Runs main with every runner stubbed to record its options (parsing only, no I/O). */
async function parse(args: string[], runners: Partial<Runners> = {}) {
  const io = memoryIo();
  const calls: { name: string; opts: Record<string, unknown> }[] = [];
  const stub = (name: keyof Runners) => async (o: Record<string, unknown>) => {
    calls.push({ name, opts: o });
    return 0;
  };
  const all = Object.fromEntries(
    [
      'init',
      'serve',
      'agent',
      'appPublish',
      'appList',
      'appShow',
      'deviceAdd',
      'deviceList',
      'deviceShow',
      'deviceLabel',
      'deviceRevoke',
      'deploy',
      'undeploy',
      'rollback',
      'status',
      'quickstart',
      'completion',
    ].map((n) => [n, stub(n as keyof Runners)]),
  ) as unknown as Runners;
  all.validate = async (paths, opts) => {
    calls.push({ name: 'validate', opts: { paths, ...opts } });
    return 0;
  };
  const code = await main(['node', 'margo', ...args], {
    io,
    env: { MARGO_CONFIG: '/nonexistent/config.json' },
    cwd: '/work',
    services: {} as Services,
    runners: { ...all, ...runners },
  });
  return { code, calls, out: io.stdout(), err: io.stderr() };
}

describe('argument parsing', () => {
  it('deploy collects repeatable flags and the app reference', async () => {
    const r = await parse([
      'deploy',
      'hello-world@1.0.0',
      '--name',
      'hello',
      '--device',
      'a',
      '--device',
      'b',
      '--set',
      'X=1',
      '--set',
      'Y=two',
      '--selector',
      'site=x',
      '--secret',
      'P=s',
      '--secret-file',
      'Q=q.txt',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.calls[0]?.name, 'deploy');
    assert.deepEqual(r.calls[0]?.opts, {
      app: 'hello-world@1.0.0',
      name: 'hello',
      device: ['a', 'b'],
      selector: ['site=x'],
      set: ['X=1', 'Y=two'],
      setString: [],
      secret: ['P=s'],
      secretFile: ['Q=q.txt'],
      profile: undefined,
      namespace: undefined,
      dependsOn: [],
      reuseValues: false,
      rollout: {
        canary: [],
        waves: undefined,
        maxConcurrent: undefined,
        healthSeconds: undefined,
        manualGate: false,
        failureThreshold: undefined,
        onFailure: undefined,
      },
      force: false,
      output: 'json',
    });
  });

  it('device add, label and app commands reach their runners', async () => {
    let r = await parse([
      'device',
      'add',
      'dev1',
      '--role',
      'standalone-device',
      '--label',
      'a=b',
      '--label',
      'c=d',
    ]);
    assert.deepEqual(r.calls[0], {
      name: 'deviceAdd',
      opts: { id: 'dev1', role: 'standalone-device', label: ['a=b', 'c=d'], output: 'table' },
    });
    r = await parse(['device', 'label', 'dev1', 'x=y', 'z-', '-o', 'yaml']);
    assert.deepEqual(r.calls[0], {
      name: 'deviceLabel',
      opts: { id: 'dev1', labels: ['x=y', 'z-'], output: 'yaml' },
    });
    r = await parse(['app', 'publish', 'examples/hello-world']);
    assert.deepEqual(r.calls[0], {
      name: 'appPublish',
      opts: { dir: 'examples/hello-world', output: 'table' },
    });
    r = await parse(['rollback', 'hello', '--to', 'HEAD~2']);
    assert.deepEqual(r.calls[0], {
      name: 'rollback',
      opts: { name: 'hello', to: 'HEAD~2', force: false, output: 'table' },
    });
    r = await parse(['undeploy', 'hello', '--force']);
    assert.deepEqual(r.calls[0], { name: 'undeploy', opts: { name: 'hello', force: true, output: 'table' } });
    r = await parse([
      'deploy',
      'a',
      '--name',
      'b',
      '--device',
      'd',
      '--canary',
      'd',
      '--canary',
      'e',
      '--waves',
      '10,100',
      '--on-failure',
      'rollback',
      '--manual-gate',
      '--force',
    ]);
    assert.deepEqual(r.calls[0]!.opts.rollout, {
      canary: ['d', 'e'],
      waves: '10,100',
      maxConcurrent: undefined,
      healthSeconds: undefined,
      manualGate: true,
      failureThreshold: undefined,
      onFailure: 'rollback',
    });
    assert.equal(r.calls[0]!.opts.force, true);
    assert.equal((await parse(['deploy', 'a', '--name', 'b', '--on-failure', 'explode'])).code, 2);
    r = await parse(['status', 'hello', '--watch', '-o', 'json']);
    assert.deepEqual(r.calls[0], {
      name: 'status',
      opts: { name: 'hello', output: 'json', watch: true, interval: 2 },
    });
    r = await parse(['validate', 'a.yaml', 'dir/', '-o', 'json']);
    assert.deepEqual(r.calls[0], { name: 'validate', opts: { paths: ['a.yaml', 'dir/'], output: 'json' } });
    r = await parse(['quickstart', '--once']);
    assert.deepEqual(r.calls[0], {
      name: 'quickstart',
      opts: { data: '/work/margo-data', listen: undefined, exitWhenInstalled: true, timeoutSeconds: 300 },
    });
  });

  it('usage errors exit 2 with a hint and run nothing', async () => {
    for (const args of [
      ['deploy', 'x'],
      ['frobnicate'],
      ['status', '-o', 'xml'],
      ['device', 'add'],
      ['agent'],
    ]) {
      const r = await parse(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.calls.length, 0);
      assert.match(r.err, /^error USAGE_ERROR: .+\nhint: /);
    }
  });

  it('--help exits 0 on stdout; no arguments prints help and exits 2', async () => {
    let r = await parse(['deploy', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: margo deploy/);
    r = await parse([]);
    assert.equal(r.code, 2);
    assert.match(r.out, /Commands:/);
  });

  it('an error thrown by a runner is mapped to its exit code', async () => {
    const r = await parse(['device', 'show', 'nope'], {
      deviceShow: async () => {
        throw new MargoError('CLI_DEVICE_NOT_FOUND', 'no device "nope" in the fleet repository');
      },
    });
    assert.equal(r.code, 3);
    assert.match(r.err, /error CLI_DEVICE_NOT_FOUND: no device "nope"/);
    assert.match(r.err, /hint: List devices with `margo device list`/);
  });

  it('a non-Margo error is reported as a bug with exit 10', async () => {
    const r = await parse(['app', 'list'], {
      appList: async () => {
        throw new TypeError('x is undefined');
      },
    });
    assert.equal(r.code, 10);
    assert.match(r.err, /error INTERNAL_ERROR: x is undefined/);
    assert.match(r.err, /this is a bug in margo-gitops/);
  });

  it('commands that need a server say how to configure one (exit 2)', async () => {
    const io = memoryIo();
    const code = await main(['node', 'margo', 'app', 'list'], {
      io,
      env: { MARGO_CONFIG: '/nonexistent/margo-config.json' },
      cwd: '/tmp',
      services: {} as Services,
    });
    assert.equal(code, 2);
    assert.match(io.stderr(), /error CLI_NO_SERVER: .*\nhint: Run `margo init`/);
  });
});
