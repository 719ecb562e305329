/** JSON Schemas (draft-07, ajv) of the fleet documents. The source of truth for their shape. */
import { DEVICE_ID_PATTERN_SOURCE } from '../device-id.js';

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' } as const;
const deviceId = { type: 'string', pattern: DEVICE_ID_PATTERN_SOURCE } as const;
const labelKey = '^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const labels = {
  type: 'object',
  propertyNames: { pattern: labelKey },
  additionalProperties: { type: 'string', maxLength: 63 },
} as const;
const scalar = { type: ['string', 'number', 'boolean'] } as const;

export const deviceSchema = {
  $id: 'https://margo-gitops.io/schemas/fleet/device.json',
  type: 'object',
  required: ['kind', 'id'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'fleet.margo-gitops.io/v1alpha1' },
    kind: { const: 'Device' },
    id: deviceId,
    description: { type: 'string' },
    labels,
    role: { enum: ['standalone-device', 'standalone-cluster', 'cluster-leader'] },
    expectedReportSeconds: { type: 'integer', minimum: 1, maximum: 31536000 },
    enrolment: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enrolledAt: { type: 'string' },
        approvedBy: { type: 'string' },
        certificateFingerprint: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
        serialNumber: { type: 'string' },
        vendor: { type: 'string' },
        modelNumber: { type: 'string' },
      },
    },
  },
} as const;

export const deploymentSchema = {
  $id: 'https://margo-gitops.io/schemas/fleet/deployment.json',
  type: 'object',
  required: ['kind', 'name', 'application', 'targets'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'fleet.margo-gitops.io/v1alpha1' },
    kind: { const: 'Deployment' },
    name,
    description: { type: 'string' },
    application: {
      type: 'object',
      required: ['id', 'version'],
      additionalProperties: false,
      properties: {
        id: { type: 'string', pattern: '^[a-z0-9-]{1,200}$' },
        version: { type: ['string', 'number'], minLength: 1 },
      },
    },
    targets: {
      type: 'object',
      additionalProperties: false,
      properties: {
        devices: { type: 'array', items: deviceId, uniqueItems: true },
        selector: {
          type: 'object',
          additionalProperties: false,
          properties: {
            matchLabels: labels,
            matchExpressions: {
              type: 'array',
              items: {
                type: 'object',
                required: ['key', 'operator'],
                additionalProperties: false,
                properties: {
                  key: { type: 'string', minLength: 1 },
                  operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] },
                  values: { type: 'array', items: { type: ['string', 'number'] } },
                },
              },
            },
          },
        },
      },
    },
    profile: { enum: ['helm.v3', 'helm', 'compose', 'docker-compose'] },
    namespace: name,
    parameters: {
      type: 'object',
      additionalProperties: { anyOf: [scalar, { type: 'array', items: scalar }] },
    },
    secrets: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['sealed'],
        additionalProperties: false,
        properties: {
          sealed: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
    dependsOn: { type: 'array', items: name, uniqueItems: true },
  },
} as const;
