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

const selector = {
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
} as const;

/**
 * `rollout:` of a deployment (docs/rollout.md). "Exactly one of" rules (a wave's way of choosing
 * devices, the threshold's count or percent) are checked in parse-rollout.ts, with clearer messages
 * than a schema `oneOf` gives.
 */
const rollout = {
  type: 'object',
  required: ['waves'],
  additionalProperties: false,
  properties: {
    maxConcurrent: { type: 'integer', minimum: 1, maximum: 1000000 },
    waves: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name,
          selector,
          devices: { type: 'array', items: deviceId, uniqueItems: true, minItems: 1 },
          percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
          gate: {
            type: 'object',
            additionalProperties: false,
            properties: {
              healthySeconds: { type: 'integer', minimum: 0, maximum: 2592000 },
              manual: { type: 'boolean' },
            },
          },
        },
      },
    },
    failureThreshold: {
      type: 'object',
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 1 },
        percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
      },
    },
    onFailure: { enum: ['pause', 'rollback'] },
  },
} as const;

/** `windows/<name>.yaml`: a maintenance window (docs/rollout.md). */
export const maintenanceWindowSchema = {
  $id: 'https://margo-gitops.io/schemas/fleet/maintenance-window.json',
  type: 'object',
  required: ['kind', 'name', 'selector', 'timeZone', 'schedule'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'fleet.margo-gitops.io/v1alpha1' },
    kind: { const: 'MaintenanceWindow' },
    name,
    description: { type: 'string' },
    selector,
    timeZone: { type: 'string', minLength: 1, maxLength: 64 },
    schedule: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        required: ['days', 'start', 'end'],
        additionalProperties: false,
        properties: {
          days: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { enum: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] },
          },
          start: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
          end: { type: 'string', pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' },
        },
      },
    },
  },
} as const;

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
        selector,
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
    rollout,
  },
} as const;
