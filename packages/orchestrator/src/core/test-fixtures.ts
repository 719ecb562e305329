// Shared fixtures of the core unit tests (not exported from the package).
import type { ApplicationDescription, DeviceCapabilities } from '@margo-gitops/spec';
import { parse } from 'yaml';
import { normaliseApplication } from '../spec-adapter.js';

export const HELLO_YAML = `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: hello
  name: Hello
  version: 1.2.0
  catalog:
    organization: [{name: Acme}]
deploymentProfiles:
  - type: helm.v3
    id: hello-helm
    components:
      - name: hello-chart
        properties:
          repository: oci://127.0.0.1:5000/charts/hello
          revision: 0.1.0
          wait: true
          timeout: 5m0s
  - type: compose
    id: hello-compose
    requiredResources:
      cpu: {cores: 2, architectures: [amd64, arm64]}
      memory: 4Gi
      storage: 10Gi
      peripherals: [{type: gpu}]
    components:
      - name: hello-compose
        properties:
          packageLocation: resources/hello.tar.gz
parameters:
  greeting:
    value: hello
    targets:
      - pointer: greeting
        components: [hello-chart]
      - pointer: ENV.GREETING
        components: [hello-compose]
  port:
    value: 8080
    targets:
      - pointer: service.port
        components: [hello-chart]
      - pointer: ENV.PORT
        components: [hello-compose]
  password:
    targets:
      - pointer: ENV.PASSWORD
        components: [hello-compose]
configuration:
  sections:
    - name: General
      settings:
        - {parameter: greeting, name: Greeting, schema: text}
        - {parameter: port, name: Port, schema: port, immutable: true}
  schema:
    - {name: text, dataType: string, maxLength: 20, allowEmpty: false}
    - {name: port, dataType: integer, minValue: 1, maxValue: 65535}
`;

export function helloApp(version = '1.2.0'): ApplicationDescription {
  return normaliseApplication(parse(HELLO_YAML.replace('version: 1.2.0', `version: ${version}`)));
}

export function caps(over: Partial<DeviceCapabilities> = {}): DeviceCapabilities {
  return {
    kind: 'DeviceCapabilities',
    apiVersion: 'device.margo/v1',
    id: 'd',
    roles: ['standalone-device'],
    cpu: { cores: 4, architecture: 'amd64' },
    memoryBytes: 8 * 2 ** 30,
    storageBytes: 100 * 2 ** 30,
    peripherals: [{ type: 'gpu' }],
    interfaces: [{ type: 'ethernet' }],
    original: {},
    ...over,
  };
}
