/**
 * The capabilities of an agent with an OpenTelemetry collector configured (otelCollector) against
 * the upstream rc.2 DeviceCapabilitiesManifest: `properties.otelCollector` is the schema's boolean,
 * the endpoint rides in `x-margo-gitops-extensions` (allowed by the schema's patternProperties),
 * and the API's own capabilities validation (the one `PUT /api/v1/capabilities` runs) takes it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoverCapabilities } from '@margo-gitops/agent';
import { validateDocument } from '@margo-gitops/spec';
import { statusFileContent } from '../../packages/agent/src/status/build-status.js';
import { expectOpenApiValid, openApiPresent, openApiViolations, OPENAPI_FILE } from './openapi.js';

const skip = openApiPresent ? false : `OpenAPI file not found at ${OPENAPI_FILE}`;
if (!openApiPresent && process.env.MARGO_REQUIRE_TESTBED === '1')
  test('the OpenAPI file is present', () => assert.fail(`missing ${OPENAPI_FILE}`));

test('capabilities with otelCollector set are a valid rc.2 DeviceCapabilitiesManifest', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'caps-otel-'));
  try {
    const otelCollector = { endpoint: 'http://172.17.0.1:4318', protocol: 'http/protobuf' };
    const caps = discoverCapabilities({
      deviceId: 'edge-1',
      storagePath: dir,
      runtimes: ['compose'],
      otelCollector,
    });
    const doc = JSON.parse(statusFileContent(caps));
    expectOpenApiValid('DeviceCapabilitiesManifest', doc);
    assert.equal(doc.properties.otelCollector, true);
    assert.deepEqual(doc['x-margo-gitops-extensions'], { otelCollector });
    const off = JSON.parse(
      statusFileContent(
        discoverCapabilities({ deviceId: 'edge-1', storagePath: dir, runtimes: ['compose'] }),
      ),
    );
    expectOpenApiValid('DeviceCapabilitiesManifest', off);
    assert.equal(off.properties.otelCollector, false);
    assert.equal(off['x-margo-gitops-extensions'], undefined);
    // Counter-example: the endpoint in `properties` itself is outside the schema's boolean.
    const wrong = { ...doc, properties: { ...doc.properties, otelCollector } };
    assert.ok(openApiViolations('DeviceCapabilitiesManifest', wrong).length > 0);
    // Our own validation (server side) accepts the document as well.
    const r = validateDocument(statusFileContent(caps), { kind: 'DeviceCapabilities' });
    assert.equal(r.valid, true, JSON.stringify(r.findings));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
