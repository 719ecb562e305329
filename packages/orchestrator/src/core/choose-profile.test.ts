import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceCapabilities, ProfileType } from '@margo-gitops/spec';
import { chooseProfile, type DeviceFacts } from './choose-profile.js';
import { formatBytes, unmetRequirements } from './match-capabilities.js';
import { caps, helloApp } from './test-fixtures.js';

const app = helloApp();
const GiB = 2 ** 30;

const cases: {
  name: string;
  device: DeviceFacts;
  pref?: ProfileType;
  want: string | { reason: RegExp; hold?: boolean };
}[] = [
  {
    name: 'standalone device gets compose',
    device: { id: 'd', labels: {}, role: 'standalone-device', capabilities: caps() },
    want: 'hello-compose',
  },
  {
    name: 'cluster gets helm',
    device: { id: 'd', labels: {}, role: 'standalone-cluster', capabilities: caps() },
    want: 'hello-helm',
  },
  {
    name: 'cluster leader gets helm',
    device: { id: 'd', labels: {}, role: 'cluster-leader', capabilities: caps() },
    want: 'hello-helm',
  },
  {
    name: 'preference honoured only when compatible',
    device: { id: 'd', labels: {}, role: 'standalone-cluster', capabilities: caps() },
    pref: 'compose',
    want: 'hello-helm',
  },
  {
    name: 'role from capabilities when fleet has none',
    device: { id: 'd', labels: {}, capabilities: caps({ roles: ['standalone-cluster'] }) },
    want: 'hello-helm',
  },
  {
    name: 'fleet role wins over reported',
    device: {
      id: 'd',
      labels: {},
      role: 'standalone-device',
      capabilities: caps({ roles: ['standalone-cluster'] }),
    },
    want: 'hello-compose',
  },
  {
    name: 'no capabilities: held',
    device: { id: 'd', labels: {}, role: 'standalone-device' },
    want: { reason: /no capabilities reported/, hold: true },
  },
  {
    name: 'memory too small',
    device: { id: 'd', labels: {}, role: 'standalone-device', capabilities: caps({ memoryBytes: 2 * GiB }) },
    want: { reason: /^needs 4Gi memory, device reports 2Gi$/ },
  },
  {
    name: 'too few cores',
    device: {
      id: 'd',
      labels: {},
      role: 'standalone-device',
      capabilities: caps({ cpu: { cores: 1, architecture: 'amd64' } }),
    },
    want: { reason: /needs 2 CPU cores, device reports 1/ },
  },
  {
    name: 'wrong arch',
    device: {
      id: 'd',
      labels: {},
      role: 'standalone-device',
      capabilities: caps({ cpu: { cores: 4, architecture: 'riscv64' } }),
    },
    want: { reason: /architecture amd64 or arm64, device reports riscv64/ },
  },
  {
    name: 'no gpu',
    device: { id: 'd', labels: {}, role: 'standalone-device', capabilities: caps({ peripherals: [] }) },
    want: { reason: /needs peripheral gpu, device reports none/ },
  },
  {
    name: 'storage',
    device: {
      id: 'd',
      labels: {},
      role: 'standalone-device',
      capabilities: caps({ storageBytes: 512 * 2 ** 20 }),
    },
    want: { reason: /needs 10Gi storage, device reports 512Mi/ },
  },
  {
    name: 'role without workloads',
    device: { id: 'd', labels: {}, capabilities: caps({ roles: ['gateway'] }) },
    want: { reason: /runs no Margo workloads/ },
  },
];
for (const c of cases) {
  test(`chooseProfile: ${c.name}`, () => {
    const r = chooseProfile(app, c.device, c.pref);
    if (typeof c.want === 'string') {
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.profile.id, c.want);
    } else {
      assert.ok(!r.ok);
      assert.match(r.reason, c.want.reason);
      assert.equal(r.hold, c.want.hold ?? false);
    }
  });
}

test('an app without a profile for the role is not sent', () => {
  const helmOnly = { ...app, profiles: app.profiles.filter((p) => p.type === 'helm.v3') };
  const r = chooseProfile(helmOnly, { id: 'd', labels: {}, role: 'standalone-device', capabilities: caps() });
  assert.ok(!r.ok);
  assert.match(r.reason, /has no compose profile for device role standalone-device/);
});

test('several unmet requirements are all reported', () => {
  const c: DeviceCapabilities = caps({ memoryBytes: GiB, peripherals: [], interfaces: [] });
  const r = unmetRequirements(
    {
      memoryBytes: 4 * GiB,
      peripherals: [{ type: 'GPU', manufacturer: 'NVIDIA' }],
      interfaces: [{ type: 'canbus' }],
    },
    c,
  );
  assert.deepEqual(r, [
    'needs 4Gi memory, device reports 1Gi',
    'needs peripheral GPU (NVIDIA), device reports none',
    'needs interface canbus, device reports none',
  ]);
});

test('formatBytes', () => {
  assert.equal(formatBytes(4 * GiB), '4Gi');
  assert.equal(formatBytes(1.5 * GiB), '1.5Gi');
  assert.equal(formatBytes(300), '300B');
});
