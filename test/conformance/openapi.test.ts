/**
 * Conformance against the upstream OpenAPI (rc.2): documents margo-gitops produces — the agent's
 * capabilities and status files, and deployments rendered with spec's current-shape emitter —
 * validate against the specification's own component schemas with ajv, with zero violations.
 * Counter-examples show the validators are not vacuous. The orchestrator's real render output is
 * checked with `expectOpenApiValid` where it is produced (see openapi.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'yaml';
import { buildDeploymentStatus, discoverCapabilities } from '@margo-gitops/agent';
import { statusFileContent } from '../../packages/agent/src/status/build-status.js';
import {
  emitCurrentApplicationDeployment,
  parseDocument,
  type ApplicationDeployment,
} from '@margo-gitops/spec';
import { expectOpenApiValid, openApiPresent, openApiViolations, OPENAPI_FILE } from './openapi.js';

const skip = openApiPresent ? false : `OpenAPI file not found at ${OPENAPI_FILE}`;
if (!openApiPresent) {
  if (process.env.MARGO_REQUIRE_TESTBED === '1')
    test('the OpenAPI file is present', () => assert.fail(`missing ${OPENAPI_FILE}`));
  else console.warn(`SKIPPING OpenAPI conformance: ${OPENAPI_FILE} is missing`);
}

const upstream = fileURLToPath(new URL('./upstream/', import.meta.url));
const DIGEST = 'sha256:' + '3f'.repeat(32);

test(
  'the validators are not vacuous: upstream ProblemDetail examples pass and fail as labelled',
  { skip },
  () => {
    const ok = parse(readFileSync(join(upstream, 'model/examples/valid/ProblemDetail-001.yaml'), 'utf8'));
    const bad = parse(readFileSync(join(upstream, 'model/examples/invalid/ProblemDetail-001.yaml'), 'utf8'));
    expectOpenApiValid('ProblemDetail', ok);
    assert.match(openApiViolations('ProblemDetail', bad).join('\n'), /required.*status/);
  },
);

test('UnsignedAppStateManifest: the dotted required entries apply to a bundle object only', { skip }, () => {
  const digest = 'sha256:' + '0'.repeat(64);
  const empty = { manifestVersion: 1, bundle: null, deployments: [] };
  expectOpenApiValid('UnsignedAppStateManifest', empty);
  const noDigest = {
    manifestVersion: 2,
    bundle: { mediaType: 'application/vnd.margo.bundle.v1+tar+gzip', url: `/api/v1/bundles/${digest}` },
    deployments: [],
  };
  assert.match(openApiViolations('UnsignedAppStateManifest', noDigest).join('\n'), /digest/);
});

test("the agent's capabilities document is a valid DeviceCapabilitiesManifest", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'caps-openapi-'));
  try {
    for (const runtimes of [['compose'], ['helm'], ['helm', 'compose']] as ('compose' | 'helm')[][]) {
      const caps = discoverCapabilities({ deviceId: 'edge-1', storagePath: dir, runtimes });
      // The exact bytes the agent writes, read back.
      const doc = JSON.parse(statusFileContent(caps));
      expectOpenApiValid('DeviceCapabilitiesManifest', doc);
      assert.deepEqual(
        doc.properties.supportedDeploymentTypes,
        ['helm', 'compose'].filter((t) => (runtimes as string[]).includes(t)),
      );
    }
    // Counter-example: the older shape with a root apiVersion/kind is refused by this schema.
    const old = { apiVersion: 'device.margo.org/v1alpha1', kind: 'DeviceCapabilities', properties: {} };
    assert.ok(openApiViolations('DeviceCapabilitiesManifest', old).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the agent's status documents are valid DeploymentStatusManifests", { skip }, () => {
  const base = { deploymentId: 'ad9b614e-8912-45f4-a523-372358765def', name: 'shop', deviceId: 'edge-1' };
  const cases = [
    { ...base, adoptedManifestVersion: '7', components: [{ name: 'web', state: 'installed' as const }] },
    {
      ...base,
      adoptedManifestVersion: '18446744073709551615',
      commit: 'abc',
      components: [
        { name: 'db', state: 'installed' as const, progress: 'deployed' },
        {
          name: 'web',
          state: 'failed' as const,
          error: { code: 'AGENT_ARTIFACT_NOT_FOUND', message: 'no tag' },
        },
      ],
    },
    {
      ...base,
      adoptedManifestVersion: '3',
      components: [],
      state: 'failed' as const,
      error: { code: 'AGENT_INVALID_DOCUMENT', message: 'bad yaml' },
    },
  ];
  for (const report of cases) {
    const doc = JSON.parse(statusFileContent(buildDeploymentStatus(report)));
    expectOpenApiValid('DeploymentStatusManifest', doc);
  }
  // Counter-example: without adoptedManifestVersion rc.2 refuses it.
  const { adoptedManifestVersion: _a, ...missing } = cases[0]!;
  const doc = JSON.parse(statusFileContent(buildDeploymentStatus(missing)));
  assert.match(openApiViolations('DeploymentStatusManifest', doc).join('\n'), /adoptedManifestVersion/);
});

/** A deployment model as the orchestrator builds it (here: read from an rc.3 document). */
function deployment(type: 'helm' | 'compose'): ApplicationDeployment {
  const component = type === 'helm' ? 'chart' : 'web';
  const pointer = type === 'helm' ? 'greeting.text' : 'ENV.GREETING';
  const r = parseDocument(`id: 0f4fa9b4-6a43-4b6b-9b2a-3b7f4b8a1c11
metadata:
  name: hello-${type}
  namespace: margo
  deviceId: edge-1
  annotations: {}
spec:
  applicationId: hello-world
  deploymentProfile:
    type: ${type}
    components:
      - name: ${component}
        properties:
          repository: oci://127.0.0.1:8443/hello-world/${component}
          revision: 1.0.0_build.7
          timeout: 5m0s
        x-margo-gitops-extensions:
          digest: ${DIGEST}
  parameters:
    GREETING:
      value: hi
      targets:
        - pointer: ${pointer}
          components: [${component}]
`);
  assert.deepEqual(r.findings, []);
  return r.model as ApplicationDeployment;
}

test(
  'deployments rendered with emitCurrentApplicationDeployment are valid appDeploymentManifests',
  { skip },
  () => {
    for (const type of ['helm', 'compose'] as const) {
      const model = deployment(type);
      const yaml = emitCurrentApplicationDeployment(model);
      expectOpenApiValid('appDeploymentManifest', parse(yaml));
      // Unpinned (no digest) too.
      model.profile.components[0]!.ociDigest = undefined;
      delete model.profile.components[0]!.extensions;
      expectOpenApiValid('appDeploymentManifest', parse(emitCurrentApplicationDeployment(model)));
    }
    // Counter-example: the 2024 shape (type helm.v3, no deviceId) is not an rc.2 deployment.
    const old = parse(emitCurrentApplicationDeployment(deployment('helm')));
    old.spec.deploymentProfile.type = 'helm.v3';
    delete old.metadata.deviceId;
    const v = openApiViolations('appDeploymentManifest', old).join('\n');
    assert.match(v, /deviceId/);
    assert.match(v, /allowedValues/);
  },
);
