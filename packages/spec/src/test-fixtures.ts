/** Shared test fixtures (not exported from index.ts). */
import { stringify } from 'yaml';

/** A valid application description (DM-B shape) with both profile types and every schema rule kind. */
export function baseApp(): Record<string, any> {
  return {
    apiVersion: 'margo.org/v1-alpha1',
    kind: 'ApplicationDescription',
    id: 'com-example-hello',
    metadata: {
      name: 'Hello',
      description: 'Says hello',
      version: '1.2.0',
      catalog: {
        application: {
          icon: './resources/icon.png',
          descriptionFile: './resources/description.md',
          tags: ['demo'],
        },
        author: [{ name: 'A. Person', email: 'a@example.com' }],
        organization: [{ name: 'Example', site: 'http://example.com' }],
      },
    },
    deploymentProfiles: [
      {
        type: 'helm.v3',
        id: 'hello-helm',
        components: [
          {
            name: 'hello',
            properties: {
              repository: 'oci://registry.local/charts/hello',
              revision: '1.0.0',
              wait: true,
              timeout: '5m0s',
            },
          },
        ],
      },
      {
        type: 'compose',
        id: 'hello-compose',
        components: [
          { name: 'hello-compose', properties: { packageLocation: 'https://example.com/hello.tar.gz' } },
        ],
      },
    ],
    parameters: {
      greeting: {
        value: 'Hello',
        targets: [
          { pointer: 'config.greeting', components: ['hello'] },
          { pointer: 'ENV.GREETING', components: ['hello-compose'] },
        ],
      },
      replicas: { value: 2, targets: [{ pointer: 'replicaCount', components: ['hello'] }] },
      ratio: { value: 0.5, targets: [{ pointer: 'ratio', components: ['hello'] }] },
      debug: { value: false, targets: [{ pointer: 'DEBUG', components: ['hello-compose'] }] },
      colour: { value: 'red', targets: [{ pointer: 'ui.colour', components: ['hello'] }] },
      site: { targets: [{ pointer: 'site.id', components: ['hello'] }] },
    },
    configuration: {
      sections: [
        {
          name: 'General',
          settings: [
            { parameter: 'greeting', name: 'Greeting', schema: 'text', immutable: true },
            { parameter: 'replicas', name: 'Replicas', schema: 'count' },
            { parameter: 'ratio', name: 'Ratio', schema: 'fraction' },
            { parameter: 'debug', name: 'Debug', schema: 'flag' },
            { parameter: 'colour', name: 'Colour', schema: 'colours' },
            { parameter: 'site', name: 'Site', schema: 'optional' },
          ],
        },
      ],
      schema: [
        {
          name: 'text',
          dataType: 'string',
          minLength: 2,
          maxLength: 20,
          regexMatch: '^[A-Za-z ]+$',
          allowEmpty: false,
        },
        { name: 'count', dataType: 'integer', minValue: 1, maxValue: 10 },
        { name: 'fraction', dataType: 'double', minValue: 0, maxValue: 1, maxPrecision: 2 },
        { name: 'flag', dataType: 'boolean' },
        { name: 'colours', dataType: 'string', options: ['red', 'green', 'blue'] },
        { name: 'optional', dataType: 'string', allowEmpty: true, minLength: 3 },
      ],
    },
  };
}

/** A valid ApplicationDeployment (2024 shape). */
export function baseDeployment(): Record<string, any> {
  return {
    apiVersion: 'application.margo.org/v1alpha1',
    kind: 'ApplicationDeployment',
    metadata: {
      annotations: { applicationId: 'com-example-hello', id: 'a3e2f5dc-912e-494f-8395-52cf3769bc06' },
      name: 'hello-deployment',
      namespace: 'margo',
    },
    spec: {
      deploymentProfile: {
        type: 'compose',
        components: [
          {
            name: 'hello-compose',
            properties: { packageLocation: 'https://example.com/hello.tar.gz', wait: true },
          },
        ],
      },
      parameters: {
        greeting: { value: 'Hi', targets: [{ pointer: 'ENV.GREETING', components: ['hello-compose'] }] },
      },
    },
  };
}

export function clone<T>(x: T): T {
  return structuredClone(x);
}

export function yaml(doc: unknown): string {
  return stringify(doc);
}

/** A valid DeploymentStatus (R1 shape). */
export function baseStatus(): Record<string, any> {
  return {
    apiVersion: 'deployment.margo.org/v1alpha1',
    kind: 'DeploymentStatusManifest',
    deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
    status: { state: 'installing' },
    components: [
      { name: 'db', state: 'installed' },
      { name: 'web', state: 'installing' },
    ],
  };
}

/** Valid DeviceCapabilities (DM shape). */
export function baseCapabilities(): Record<string, any> {
  return {
    apiVersion: 'device.margo.org/v1alpha1',
    kind: 'DeviceCapabilitiesManifest',
    properties: {
      id: 'edge-1',
      vendor: 'V',
      modelNumber: 'M',
      serialNumber: 'S',
      roles: ['Standalone Device'],
      resources: {
        cpu: { cores: 2, architecture: 'amd64' },
        memory: '1 Gi',
        storage: '10 Gi',
        peripherals: [{ type: 'gpu' }],
        interfaces: [{ type: 'ethernet' }],
      },
    },
  };
}

/** A valid state manifest (R1). */
export function baseManifest(): Record<string, any> {
  const digest = 'sha256:' + '0'.repeat(64);
  return {
    manifestVersion: 3,
    bundle: {
      mediaType: 'application/vnd.margo.bundle.v1+tar+gzip',
      digest,
      url: `/api/v1/bundles/${digest}`,
    },
    deployments: [
      {
        deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
        digest,
        url: `/api/v1/deployments/x/${digest}`,
      },
    ],
  };
}
