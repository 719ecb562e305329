import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concerns, parseFleetEvent } from './live.js';

const ev = (devices: string[], deployments: string[] = []) => ({ devices, deployments });

test('a page refetches only for events about what it shows', () => {
  assert.equal(concerns({ route: { page: 'overview' } }, ev([])), true);
  assert.equal(concerns({ route: { page: 'device', id: 'd1' } }, ev(['d1'])), true);
  assert.equal(concerns({ route: { page: 'device', id: 'd1' } }, ev(['d2'], ['hello'])), false);
  const dep = { route: { page: 'deployment' as const, name: 'hello' }, deviceIds: new Set(['d1', 'd2']) };
  assert.equal(concerns(dep, ev([], ['hello'])), true);
  assert.equal(concerns(dep, ev(['d2'])), true);
  assert.equal(concerns(dep, ev(['d9'], ['other'])), false);
  assert.equal(concerns({ route: { page: 'catalog' } }, ev(['d1'], ['hello'])), false);
});

test('devices list: shown devices, a filter or search, or room for a new device', () => {
  const all = { page: 'devices' as const, filter: 'all' as const, q: '', offset: 0 };
  const full = { route: all, deviceIds: new Set(['d1']), pageFull: true };
  assert.equal(concerns(full, ev(['d1'])), true);
  assert.equal(concerns(full, ev(['d7'])), false);
  assert.equal(concerns(full, ev([], ['hello'])), false);
  assert.equal(concerns({ ...full, pageFull: false }, ev(['d7'])), true);
  assert.equal(concerns({ ...full, route: { ...all, filter: 'stale' } }, ev(['d7'])), true);
  assert.equal(concerns({ ...full, route: { ...all, q: 'd' } }, ev(['d7'])), true);
});

test('parseFleetEvent keeps strings only and refuses malformed data', () => {
  assert.deepEqual(parseFleetEvent('{"fleetCommit":"abc","devices":["d1",2],"deployments":["x"]}'), {
    generatedAt: undefined,
    fleetCommit: 'abc',
    devices: ['d1'],
    deployments: ['x'],
  });
  assert.deepEqual(parseFleetEvent('{}'), {
    generatedAt: undefined,
    fleetCommit: null,
    devices: [],
    deployments: [],
  });
  assert.equal(parseFleetEvent('not json'), undefined);
  assert.equal(parseFleetEvent('null'), undefined);
});
