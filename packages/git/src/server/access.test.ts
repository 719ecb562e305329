import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canPush, canRead, canUpdateRef, type RepoRef } from './access.js';
import type { Role, TokenInfo } from './token-store.js';

const tok = (role: Role, deviceId?: string): TokenInfo => ({
  id: 'x',
  name: role,
  role,
  createdAt: '',
  ...(deviceId ? { deviceId } : {}),
});
const repos: Record<string, RepoRef> = {
  catalog: { kind: 'catalog', name: 'catalog.git' },
  fleet: { kind: 'fleet', name: 'fleet.git' },
  own: { kind: 'device', deviceId: 'd1', name: 'devices/d1.git' },
  other: { kind: 'device', deviceId: 'd2', name: 'devices/d2.git' },
};
// role -> repo -> [read, push main, push status]
const table: Record<Role, Record<string, [boolean, boolean, boolean]>> = {
  admin: {
    catalog: [true, true, true],
    fleet: [true, true, true],
    own: [true, true, true],
    other: [true, true, true],
  },
  publisher: {
    catalog: [true, true, true],
    fleet: [false, false, false],
    own: [false, false, false],
    other: [false, false, false],
  },
  operator: {
    catalog: [true, false, false],
    fleet: [true, true, true],
    own: [true, false, false],
    other: [true, false, false],
  },
  viewer: {
    catalog: [true, false, false],
    fleet: [true, false, false],
    own: [false, false, false],
    other: [false, false, false],
  },
  device: {
    catalog: [false, false, false],
    fleet: [false, false, false],
    own: [true, false, true],
    other: [false, false, false],
  },
};

for (const [role, row] of Object.entries(table) as [Role, (typeof table)[Role]][]) {
  for (const [repo, [read, main, status]] of Object.entries(row)) {
    test(`access: ${role} on ${repo}: read=${read} main=${main} status=${status}`, () => {
      const t = tok(role, role === 'device' ? 'd1' : undefined);
      const r = repos[repo]!;
      assert.equal(canRead(t, r).allow, read);
      assert.equal(canUpdateRef(t, r, 'refs/heads/main').allow, main);
      assert.equal(canUpdateRef(t, r, 'refs/heads/status').allow, status);
      assert.equal(canPush(t, r).allow, main || status);
      const d = canUpdateRef(t, r, 'refs/heads/main');
      if (!d.allow) assert.match(d.reason, /may/);
    });
  }
}

test('access: a device token without the matching id reads nothing', () => {
  assert.equal(canRead(tok('device', 'd2'), repos.own!).allow, false);
  assert.equal(canUpdateRef(tok('device', 'd1'), repos.own!, 'refs/heads/status2').allow, false);
  assert.equal(canUpdateRef(tok('device', 'd1'), repos.own!, 'refs/tags/status').allow, false);
});
