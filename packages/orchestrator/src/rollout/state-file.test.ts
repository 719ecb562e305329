import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MargoError } from '@margo-gitops/spec';
import { checkRolloutFile, formatRolloutState, readRolloutState, rolloutNameOf } from './state-file.js';
import { createRollout, pauseRollout, promoteWave } from './state.js';

const gate = { healthySeconds: 60, manual: true };
const T = Date.parse('2026-03-02T08:00:00Z');
const state = () =>
  createRollout({
    deployment: 'web',
    from: 'aaaa',
    to: 'bbbb',
    spec: {
      waves: [
        { name: 'canary', devices: ['edge-2'], gate },
        { name: 'all', percent: 100, gate: { healthySeconds: 0, manual: false } },
      ],
      onFailure: 'pause',
      failureThreshold: { count: 1 },
    },
    targets: ['edge-3', 'edge-1', 'edge-2'].map((deviceId) => ({ deviceId, labels: {} })),
    now: T,
  }).state;

describe('rollout state file', () => {
  it('writes the same bytes whatever order the keys were set in, and reads them back', () => {
    const s = promoteWave(pauseRollout(state(), T + 1, 'alice'), T + 2, 'alice', 'canary');
    const text = formatRolloutState(s);
    assert.ok(text.endsWith('}\n'));
    assert.match(
      text,
      /^\{\n {2}"schema": "margo-gitops\.rollout\/v1",\n {2}"deployment": "web",\n {2}"from"/,
    );
    // pause was added last to the object, yet it is written in its place, before startedAt.
    assert.ok(text.indexOf('"pause"') < text.indexOf('"startedAt"'));
    const shuffled = Object.fromEntries(Object.entries(s).reverse()) as typeof s;
    assert.equal(formatRolloutState(shuffled), text);
    assert.deepEqual(Object.keys(JSON.parse(text).devices), ['edge-1', 'edge-2', 'edge-3']);
    assert.deepEqual(readRolloutState(text, 'rollouts/web.json'), JSON.parse(text));
  });

  it('names the file a rollout lives in', () => {
    assert.equal(rolloutNameOf('rollouts/web.json'), 'web');
    assert.equal(rolloutNameOf('deployments/web.yaml'), undefined);
  });

  it('reports broken JSON at its line and column, a bad state at 1:1, a wrong name at the deployment key', () => {
    const good = formatRolloutState(state());
    const broken = good.replace('"to": "bbbb",', '"to": "bbbb"');
    const [syntax] = checkRolloutFile('rollouts/web.json', broken);
    assert.equal(syntax?.code, 'ROLLOUT_STATE_INVALID');
    assert.equal(syntax?.file, 'rollouts/web.json');
    assert.equal(syntax?.line, 6, JSON.stringify(syntax)); // the token after the missing comma
    assert.match(syntax!.message, /not JSON/);

    const [shape] = checkRolloutFile('rollouts/web.json', good.replace('"progressing"', '"sideways"'));
    assert.deepEqual(
      [shape?.code, shape?.line, shape?.column],
      ['ROLLOUT_STATE_INVALID', 1, 1],
      JSON.stringify(shape),
    );
    assert.match(shape!.message, /unknown phase "sideways"/);

    const [name] = checkRolloutFile('rollouts/api.json', good);
    assert.deepEqual([name?.code, name?.line, name?.column], ['ORCH_FLEET_NAME_MISMATCH', 3, 3]);
    assert.match(name!.message, /rollouts\/web\.json/);

    assert.deepEqual(checkRolloutFile('rollouts/web.json', good), []);
    assert.throws(
      () => readRolloutState('{}', 'rollouts/web.json'),
      (e: unknown) => e instanceof MargoError && e.code === 'ROLLOUT_STATE_INVALID',
    );
  });
});
