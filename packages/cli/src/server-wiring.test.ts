import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiBesideListen } from './api-server.js';
import { advertisedApiUrl } from './server-wiring.js';

test('the API URL told to enrolling devices names a host they can dial', () => {
  const bound = { url: 'https://10.1.2.3:8471', wildcard: false, port: 8471 };
  // An explicit bind address is where the API is: told as is.
  assert.equal(advertisedApiUrl(bound, 'http://plant.example:8470'), 'https://10.1.2.3:8471');
  // Every address: the loopback URL would send a remote device to itself; the public host is used.
  const any = { url: 'https://127.0.0.1:9471', wildcard: true, port: 9471 };
  assert.equal(advertisedApiUrl(any, 'http://plant.example:8470'), 'https://plant.example:9471');
  assert.equal(advertisedApiUrl(any, 'http://[fd00::5]:8470'), 'https://[fd00::5]:9471');
  assert.equal(advertisedApiUrl(any, ''), 'https://127.0.0.1:9471');
});

test('an explicit --listen moves the API to its host, on the recorded API port', () => {
  assert.equal(apiBesideListen('0.0.0.0:8470', '127.0.0.1:8471'), '0.0.0.0:8471');
  assert.equal(apiBesideListen('127.0.0.1:9000', '127.0.0.1:0'), '127.0.0.1:0');
  assert.equal(apiBesideListen('[::]:8470', '[::1]:8471'), '[::]:8471');
  assert.equal(apiBesideListen('0.0.0.0:9470', undefined), '0.0.0.0:9471');
  assert.equal(apiBesideListen('0.0.0.0:9470', 'off'), 'off');
});
