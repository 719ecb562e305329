import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryAccess, registryHost, registrySettings } from './registry-access.js';
import { driverRegistrySettings } from './registry-config.js';

const server = { url: 'https://margo.example.org:8443', token: 'device-token-1' };
const deployment = { server: 'https://reg.example.org/', username: 'u', password: 'p' };

test('the device token goes to its own server only, with that URL’s scheme', () => {
  const s = registrySettings({ server });
  const own = registryAccess('margo.example.org:8443', s, deployment);
  assert.equal(own.baseUrl, 'https://margo.example.org:8443');
  assert.equal(own.source, 'device-token');
  assert.equal(own.credentials?.password, 'device-token-1');
  const plain = registryAccess(
    '127.0.0.1:8080',
    registrySettings({ server: { url: 'http://127.0.0.1:8080', token: 't' } }),
  );
  assert.equal(plain.baseUrl, 'http://127.0.0.1:8080');
  // Same host name on another port is another server: no token.
  const other = registryAccess('margo.example.org', s);
  assert.equal(other.source, 'anonymous');
  assert.equal(other.credentials, undefined);
  // A default port written or not is the same host.
  const dflt = registryAccess(
    'margo.example.org:443',
    registrySettings({ server: { url: 'https://margo.example.org', token: 't' } }),
  );
  assert.equal(dflt.source, 'device-token');
});

test('deployment credentials reach only the registry they name; https unless listed as plain http', () => {
  const s = registrySettings({ server, plainHttpHosts: ['127.0.0.1:5001'] });
  const reg = registryAccess('reg.example.org', s, deployment);
  assert.equal(reg.baseUrl, 'https://reg.example.org');
  assert.equal(reg.source, 'deployment');
  assert.deepEqual(reg.credentials, { username: 'u', password: 'p' });
  const elsewhere = registryAccess('evil.example.org', s, deployment);
  assert.equal(elsewhere.credentials, undefined);
  const local = registryAccess('127.0.0.1:5001', s, {
    server: '127.0.0.1:5001',
    username: 'a',
    password: 'b',
  });
  assert.equal(local.baseUrl, 'http://127.0.0.1:5001');
  assert.equal(local.source, 'deployment');
  assert.equal(registryAccess('127.0.0.1:5000', s).baseUrl, 'https://127.0.0.1:5000');
  assert.equal(registryAccess('x.org', registrySettings({ plainHttpHosts: ['*'] })).baseUrl, 'http://x.org');
  assert.equal(registryHost('HTTPS://Reg.Example.org:5000/ns/x'), 'reg.example.org:5000');
});

test('agent configuration -> driver settings (deprecated booleans mean every host)', () => {
  const base = {
    repoUrl: 'http://127.0.0.1:8080/git/devices/d1.git',
    token: 'tok',
    ociPlainHttp: false,
    helmPlainHttp: true,
    ociPlainHttpHosts: ['127.0.0.1:5000'],
    maxArtifactBytes: 1000,
  };
  const r = driverRegistrySettings(base);
  assert.deepEqual(r.compose, {
    server: { url: 'http://127.0.0.1:8080', token: 'tok' },
    plainHttpHosts: ['127.0.0.1:5000'],
    maxArtifactBytes: 1000,
  });
  assert.deepEqual(r.helm.plainHttpHosts, ['*']);
  assert.equal(driverRegistrySettings({ ...base, repoUrl: 'file:///srv/d1.git' }).compose.server, undefined);
});
