import YAML from 'yaml';
import { DEVICE_ID_RULE, isValidDeviceId, MargoError } from '@margo-gitops/spec';
import type { RolloutDoc } from './rollout-flags.js';

/** apiVersion of fleet documents (packages/spec/src/fleet). */
export const FLEET_API_VERSION = 'fleet.margo-gitops.io/v1alpha1';

export type ParamValue = string | number | boolean | string[] | number[] | boolean[];

export interface DeviceDoc {
  apiVersion?: string;
  kind: 'Device';
  id: string;
  description?: string;
  labels: Record<string, string>;
  role?: 'standalone-device' | 'standalone-cluster' | 'cluster-leader';
  expectedReportSeconds?: number;
  enrolment?: Record<string, unknown>;
}

export interface DeploymentDoc {
  apiVersion?: string;
  kind: 'Deployment';
  name: string;
  description?: string;
  application: { id: string; version: string };
  targets: { devices: string[]; selector?: { matchLabels?: Record<string, string> } };
  profile?: 'helm.v3' | 'compose';
  namespace?: string;
  parameters: Record<string, ParamValue>;
  secrets: Record<string, { sealed: Record<string, string> }>;
  dependsOn: string[];
  /** Progressive rollout (docs/rollout.md). */
  rollout?: RolloutDoc;
}

export const DEVICE_ROLES = ['standalone-device', 'standalone-cluster', 'cluster-leader'] as const;
const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkDeviceId(id: string): void {
  if (!isValidDeviceId(id)) {
    throw new MargoError('USAGE_ERROR', `"${id}" is not a valid device id`, {
      hint: DEVICE_ID_RULE.charAt(0).toUpperCase() + DEVICE_ID_RULE.slice(1) + '.',
    });
  }
}

export function checkDeploymentName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new MargoError('USAGE_ERROR', `"${name}" is not a valid deployment name (from --name)`, {
      hint: 'Use lower-case letters, digits and -, at most 63 characters, starting and ending with a letter or digit.',
    });
  }
}

export function deviceDoc(
  id: string,
  opts: { role?: string; labels?: Record<string, string> } = {},
): DeviceDoc {
  checkDeviceId(id);
  if (opts.role && !(DEVICE_ROLES as readonly string[]).includes(opts.role)) {
    throw new MargoError('USAGE_ERROR', `unknown role "${opts.role}" (from --role)`, {
      hint: `Use one of: ${DEVICE_ROLES.join(', ')}.`,
    });
  }
  return {
    apiVersion: FLEET_API_VERSION,
    kind: 'Device',
    id,
    labels: opts.labels ?? {},
    ...(opts.role ? { role: opts.role as DeviceDoc['role'] } : {}),
    expectedReportSeconds: 300,
  };
}

/** YAML text of a fleet document, stable key order, newline-terminated. */
export function toYaml(doc: object): string {
  return YAML.stringify(doc, { lineWidth: 0 });
}

export function fromYaml<T>(text: string, file: string): T {
  try {
    return YAML.parse(text) as T;
  } catch (e) {
    throw new MargoError('IO_ERROR', `${file} is not valid YAML: ${(e as Error).message}`, { cause: e });
  }
}

export const devicePath = (id: string) => `devices/${id}.yaml`;
export const deploymentPath = (name: string) => `deployments/${name}.yaml`;
