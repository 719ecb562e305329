import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from '@margo-gitops/spec';
import { discoverCapabilities, discoverGpus, interfaceType } from './discover-capabilities.js';

test('discoverCapabilities reports this machine and parses as DeviceCapabilities', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caps-'));
  try {
    const over = join(dir, 'caps.yaml');
    writeFileSync(
      over,
      'vendor: ACME\nserialNumber: SN-1\nlabels:\n  site: north\nresources:\n  peripherals:\n    - type: camera\n',
    );
    const caps = discoverCapabilities({
      deviceId: 'dev-1',
      storagePath: dir,
      runtimes: ['compose'],
      overridesFile: over,
    });
    const p = caps.properties as Record<string, any>;
    // The current (N) shape: no apiVersion/kind/roles/resources; flat properties.
    assert.deepEqual(Object.keys(caps), ['properties', 'labels']);
    assert.deepEqual((caps as any).labels, { site: 'north' });
    assert.equal(p.id, 'dev-1');
    assert.equal(p.vendor, 'ACME');
    assert.equal(p.roles, undefined);
    assert.equal(p.resources, undefined);
    assert.ok(p.cpus[0].cores >= 1);
    assert.match(p.memory, /^\d+Mi$/);
    assert.match(p.storage, /^\d+Mi$/);
    // An overrides file of the older shape (`resources.peripherals`) still applies.
    assert.deepEqual(p.peripherals, [{ type: 'camera' }]);
    assert.equal(p.otelCollector, false);
    assert.deepEqual(p.supportedRuntimes, ['oci']);
    assert.deepEqual(p.supportedDeploymentTypes, ['compose']);
    const parsed = parseDocument(JSON.stringify(caps), { file: 'capabilities.json' });
    assert.equal(parsed.kind, 'DeviceCapabilities');
    assert.deepEqual(
      parsed.findings.filter((f) => f.severity === 'error'),
      [],
    );
    // What the orchestrator reads: the roles follow from the deployment types.
    assert.equal(parsed.model?.kind, 'DeviceCapabilities');
    if (parsed.model?.kind === 'DeviceCapabilities') {
      assert.deepEqual(parsed.model.roles, ['standalone-device']);
      assert.deepEqual(parsed.model.supportedDeploymentTypes, ['compose']);
      assert.ok(parsed.model.cpu!.cores >= 1);
    }
    // Deterministic: same machine, same document.
    assert.deepEqual(
      discoverCapabilities({
        deviceId: 'dev-1',
        storagePath: dir,
        runtimes: ['compose'],
        overridesFile: over,
      }),
      caps,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GPU detection from a fake sysfs/dev tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-'));
  try {
    mkdirSync(join(dir, 'sys/class/drm/card0/device'), { recursive: true });
    writeFileSync(join(dir, 'sys/class/drm/card0/device/vendor'), '0x8086\n');
    writeFileSync(join(dir, 'sys/class/drm/card0/device/device'), '0x9a49\n');
    mkdirSync(join(dir, 'dev'), { recursive: true });
    writeFileSync(join(dir, 'dev/nvidia0'), '');
    assert.deepEqual(discoverGpus(join(dir, 'sys'), join(dir, 'dev')), [
      { type: 'gpu', manufacturer: 'Intel', model: '0x9a49' },
      { type: 'gpu', manufacturer: 'NVIDIA' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('interface types from names', () => {
  assert.equal(interfaceType('eth0'), 'ethernet');
  assert.equal(interfaceType('enp3s0'), 'ethernet');
  assert.equal(interfaceType('wlan0'), 'wifi');
  assert.equal(interfaceType('can0'), 'canbus');
  assert.equal(interfaceType('wwan0'), 'cellular');
});
