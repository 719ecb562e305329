import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Plan } from '../plan/plan-actions.js';
import { holdError, holdTransition, splitHeld } from './held-plan.js';
import { parseHoldArgs, runHold } from './hold-command.js';
import { holdPath, placeHold, readHold, releaseHold } from './hold-file.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'hold-'));

describe('hold file', () => {
  it('place, re-word (keeps since), read, release', () => {
    const dir = tmp();
    try {
      assert.equal(readHold(dir), undefined);
      const t0 = new Date('2026-12-03T04:00:00Z');
      assert.deepEqual(placeHold(dir, 'line 3\nbatch 7', t0), {
        hold: { reason: 'line 3 batch 7', since: t0.toISOString() },
        already: false,
      });
      const r = placeHold(dir, 'until 18:00', new Date('2026-12-03T05:00:00Z'));
      assert.deepEqual(r, { hold: { reason: 'until 18:00', since: t0.toISOString() }, already: true });
      assert.deepEqual(readHold(dir), { reason: 'until 18:00', since: t0.toISOString() });
      assert.deepEqual(releaseHold(dir), { reason: 'until 18:00', since: t0.toISOString() });
      assert.equal(readHold(dir), undefined);
      assert.equal(releaseHold(dir), undefined);
      assert.throws(() => placeHold(dir, ' \n '), /needs a reason/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('any file holds: plain text is the reason, an empty file says no reason, since from its time', () => {
    const dir = tmp();
    try {
      writeFileSync(holdPath(dir), 'press maintenance\n');
      const h = readHold(dir)!;
      assert.equal(h.reason, 'press maintenance');
      assert.match(h.since!, /^\d{4}-\d\d-\d\dT/);
      writeFileSync(holdPath(dir), '');
      assert.equal(readHold(dir)!.reason, '(no reason given)');
      writeFileSync(holdPath(dir), '{"reason": 5}');
      assert.equal(readHold(dir)!.reason, '{"reason": 5}');
      if (process.getuid?.() !== 0) {
        chmodSync(holdPath(dir), 0);
        assert.match(readHold(dir)!.reason, /unreadable/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hold command', () => {
  it('parses its arguments', () => {
    assert.deepEqual(parseHoldArgs('hold', ['--state', 's', '--reason', 'r t']), {
      verb: 'hold',
      state: 's',
      reason: 'r t',
    });
    assert.deepEqual(parseHoldArgs('hold', ['--state=s', '--status', '--json']), {
      verb: 'hold',
      state: 's',
      status: true,
      json: true,
    });
    assert.deepEqual(parseHoldArgs('release', ['--state', 's']), { verb: 'release', state: 's' });
    for (const [verb, args] of [
      ['hold', ['--state', 's']],
      ['hold', ['--reason', 'r']],
      ['hold', ['--state', 's', '--reason']],
      ['hold', ['--state', 's', '--status', '--reason', 'r']],
      ['release', ['--state', 's', '--reason', 'r']],
      ['release', ['--state', 's', 'x']],
    ] as const)
      assert.ok('error' in parseHoldArgs(verb, [...args]), `${verb} ${args.join(' ')}`);
  });

  it('holds, shows, releases; refuses a missing folder and a reason too long', () => {
    const dir = tmp();
    const out: string[] = [];
    const io = {
      out: (t: string) => void out.push(t),
      cwd: dir,
      now: () => new Date('2026-12-03T04:00:00Z'),
    };
    try {
      assert.equal(runHold({ verb: 'hold', state: '.', reason: 'batch 7' }, io), 0);
      assert.match(
        out.pop()!,
        /^held: batch 7 \(since 2026-12-03T04:00:00\.000Z\)\nthe agent applies no change/,
      );
      runHold({ verb: 'hold', state: '.', status: true, json: true }, io);
      assert.deepEqual(JSON.parse(out.pop()!), {
        held: true,
        reason: 'batch 7',
        since: '2026-12-03T04:00:00.000Z',
      });
      runHold({ verb: 'release', state: '.' }, io);
      assert.match(out.pop()!, /^hold released \(was: batch 7/);
      runHold({ verb: 'hold', state: '.', status: true }, io);
      assert.equal(out.pop(), 'not held\n');
      runHold({ verb: 'release', state: '.' }, io);
      assert.equal(out.pop(), 'not held; nothing to release\n');
      assert.throws(() => runHold({ verb: 'hold', state: 'nope', reason: 'x' }, io), {
        code: 'CLI_AGENT_STATE_INVALID',
      });
      assert.throws(() => runHold({ verb: 'hold', state: '.', reason: 'x'.repeat(201) }, io), {
        code: 'USAGE_ERROR',
      });
      assert.equal(readHold(dir), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loop decisions while held', () => {
  const plan: Plan = {
    actions: [
      { kind: 'remove', deploymentId: 'r', name: 'old', waitFor: [] },
      { kind: 'install', deploymentId: 'i', name: 'new', waitFor: [] },
      { kind: 'noop', deploymentId: 'n', name: 'same', waitFor: [] },
      { kind: 'upgrade', deploymentId: 'u', name: 'up', waitFor: [] },
      { kind: 'reconfigure', deploymentId: 'c', name: 'conf', waitFor: [] },
    ],
    problems: [],
  };
  it('holds every change and runs only the status confirmations', () => {
    const s = splitHeld(plan, { reason: 'r' });
    assert.deepEqual(
      s.run.actions.map((a) => a.name),
      ['same'],
    );
    assert.deepEqual(
      s.held.map((a) => a.kind),
      ['remove', 'install', 'upgrade', 'reconfigure'],
    );
    assert.deepEqual(splitHeld(plan, undefined), { run: plan, held: [] });
  });
  it('names the transition and the error', () => {
    const a = { reason: 'a', since: 's' };
    assert.equal(holdTransition(undefined, undefined), 'none');
    assert.equal(holdTransition(undefined, a), 'placed');
    assert.equal(holdTransition(a, { ...a }), 'none');
    assert.equal(holdTransition(a, { reason: 'b', since: 's' }), 'reworded');
    assert.equal(holdTransition(a, undefined), 'released');
    assert.deepEqual(holdError({ reason: 'batch 7', since: 'T' }, 'remove'), {
      code: 'AGENT_ON_SITE_HOLD',
      message: 'removal held on site since T: batch 7',
    });
    assert.equal(holdError({ reason: 'x' }, 'upgrade').message, 'upgrade held on site: x');
  });
});

describe('margo-agent hold|release', () => {
  it('dispatches the verbs before the agent flags; usage errors exit 2', async () => {
    const { runDeviceMain } = await import('../device-main.js');
    const dir = tmp();
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      env: {},
      cwd: dir,
      untilStopped: () => new Promise<string>(() => {}),
    };
    try {
      assert.equal(await runDeviceMain(['hold', '--state', '.', '--reason', 'batch 7'], io), 0);
      assert.match(out.join(''), /^held: batch 7/);
      assert.equal(readHold(dir)?.reason, 'batch 7');
      assert.equal(await runDeviceMain(['hold', '--state', '.'], io), 2);
      assert.match(err.join(''), /error USAGE_ERROR: hold needs --reason/);
      assert.equal(await runDeviceMain(['release', '--help'], io), 0);
      assert.equal(await runDeviceMain(['release', '--state', '.'], io), 0);
      assert.equal(readHold(dir), undefined);
      assert.equal(await runDeviceMain(['release', '--state', 'nope'], io), 2);
      assert.match(err.join(''), /CLI_AGENT_STATE_INVALID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
