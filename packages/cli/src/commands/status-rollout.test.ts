import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderStatus, toRows, waitingText } from './status.js';

// A fleet answer with the rollout roll-up fields (docs/rollout.md): a deployment in a rollout,
// devices waiting for a window, the cap, their wave or an on-site hold, and a held device.
const fleet = {
  deployments: [
    {
      name: 'press',
      applicationId: 'press-control',
      version: '1.1.0',
      counts: { installed: 2, pending: 3 },
      rollout: { phase: 'running', wave: 'line-a', done: 2, total: 6 },
      devices: [
        { deviceId: 'p1', state: 'installed', rollout: { side: 'to', status: 'healthy' } },
        { deviceId: 'p2', state: 'installed', rollout: { side: 'to', status: 'healthy' } },
        {
          deviceId: 'p3',
          state: 'pending',
          rollout: { side: 'from', status: 'waiting' },
          waiting: { reason: 'window', until: '2026-12-03T22:00:00.000Z' },
        },
        {
          deviceId: 'p4',
          state: 'installed',
          rollout: { side: 'from', status: 'waiting' },
          waiting: { reason: 'cap' },
        },
        {
          deviceId: 'p5',
          state: 'installed',
          rollout: { side: 'from', status: 'untouched' },
          waiting: { reason: 'wave' },
        },
        {
          deviceId: 'p6',
          state: 'pending',
          rollout: { side: 'to', status: 'changing' },
          waiting: { reason: 'hold', hold: 'batch 7' },
          error: { code: 'AGENT_ON_SITE_HOLD', message: 'upgrade held on site: batch 7' },
        },
      ],
    },
    { name: 'plain', applicationId: 'x', devices: [{ deviceId: 'p1', state: 'installed' }] },
  ],
  devices: [
    { deviceId: 'p1' },
    { deviceId: 'p6', hold: { reason: 'batch 7', since: '2026-12-03T04:00:00.000Z' } },
  ],
};

describe('margo status: rollouts and holds', () => {
  it('reads the roll-up fields, and tolerates their absence', () => {
    const [press, plain] = toRows(fleet);
    assert.deepEqual(press!.rollout, { phase: 'running', wave: 'line-a', done: 2, total: 6 });
    assert.deepEqual(press!.devices[2]!.waiting, { reason: 'window', until: '2026-12-03T22:00:00.000Z' });
    assert.deepEqual(press!.devices[0]!.rollout, { side: 'to', status: 'healthy' });
    assert.equal(plain!.rollout, undefined);
    assert.equal(plain!.devices[0]!.waiting, undefined);
  });

  it('fleet view: a rollout line with the waiting devices, and the held devices with their reasons', () => {
    const out = renderStatus(fleet, undefined, false);
    assert.match(
      out,
      /\nrollouts\n {2}press {2}rollout: running, wave line-a, 2\/6 devices done; 1 waiting for window \(opens 2026-12-03T22:00:00\.000Z\), 1 waiting for cap, 1 waiting for wave, 1 held on site\n/,
    );
    assert.doesNotMatch(out, /plain {2}rollout/);
    assert.match(out, /\nheld on site .*\n {2}p6 {2}held: batch 7 \(since 2026-12-03T04:00:00\.000Z\)\n/);
  });

  it('deployment view: the rollout line, each device its side and why it waits', () => {
    const out = renderStatus({ deployment: fleet.deployments[0] }, 'press', false);
    assert.match(
      out,
      /^deployment press {2}application press-control@1\.1\.0\nrollout: running, wave line-a, 2\/6 devices done\n/,
    );
    assert.match(
      out,
      /\np3\s+pending\s+from waiting\s+waiting for window \(opens 2026-12-03T22:00:00\.000Z\)\n/,
    );
    assert.match(out, /\np4\s+installed\s+from waiting\s+waiting for cap\n/);
    assert.match(out, /\np5\s+installed\s+from untouched\s+waiting for wave\n/);
    // The agent's error already says it is held: not said twice.
    assert.match(out, /\np6\s+pending\s+to changing\s+AGENT_ON_SITE_HOLD: upgrade held on site: batch 7\n/);
    assert.equal(waitingText({ reason: 'hold', hold: 'x' }), 'held: x');
  });

  it('without roll-up fields the output is as before (no rollout column or sections)', () => {
    const plain = { deployments: [fleet.deployments[1]], devices: [{ deviceId: 'p1' }] };
    const out = renderStatus(plain, undefined, false);
    assert.doesNotMatch(out, /rollouts|held on site/);
    assert.doesNotMatch(renderStatus({ deployment: fleet.deployments[1] }, 'plain', false), /ROLLOUT/);
  });
});
