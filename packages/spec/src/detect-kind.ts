/** Tells which Margo document a parsed object is: by `kind`, then `apiVersion`, then shape. */
import type { DocumentKind } from './model.js';
import { isRecord, rec } from './read.js';

const BY_KIND: Record<string, DocumentKind> = {
  application: 'ApplicationDescription',
  ApplicationDescription: 'ApplicationDescription',
  ApplicationDeployment: 'ApplicationDeployment',
  DeploymentStatus: 'DeploymentStatus',
  DeploymentStatusManifest: 'DeploymentStatus',
  DeviceCapabilities: 'DeviceCapabilities',
  DeviceCapability: 'DeviceCapabilities',
  DeviceCapabilitiesManifest: 'DeviceCapabilities',
  DesiredStateManifest: 'DesiredStateManifest',
  UnsignedAppStateManifest: 'DesiredStateManifest',
};

export interface KindGuess {
  /** The kind the document will be validated as; undefined when nothing fits. */
  kind?: DocumentKind;
  /** The `kind` field as written, when present and a string. */
  declared?: string;
  /** True when `declared` is not a kind we know (the kind was guessed from the shape). */
  unknownDeclared: boolean;
}

/** Guesses the kind from the fields present, ignoring `kind`. */
export function kindByShape(data: unknown): DocumentKind | undefined {
  if (!isRecord(data)) return undefined;
  const api = typeof data.apiVersion === 'string' ? data.apiVersion : '';
  if ('deploymentProfiles' in data) return 'ApplicationDescription';
  if (isRecord(data.spec) && 'deploymentProfile' in data.spec) return 'ApplicationDeployment';
  if ('deploymentId' in data && ('status' in data || 'components' in data)) return 'DeploymentStatus';
  if ('manifestVersion' in data && 'deployments' in data) return 'DesiredStateManifest';
  const props = rec(data.properties);
  if (
    'properties' in data &&
    ['vendor', 'resources', 'roles', 'serialNumber', 'cpus', 'supportedDeploymentTypes'].some(
      (k) => k in props,
    )
  )
    return 'DeviceCapabilities';
  // RFC 9457: `type` (a URI) and `title` at the root; no Margo document has both.
  if (typeof data.type === 'string' && 'title' in data && !('apiVersion' in data)) return 'ProblemDetail';
  if (api.startsWith('application.margo.org')) return 'ApplicationDeployment';
  if (api.startsWith('margo.org')) return 'ApplicationDescription';
  if (api.startsWith('deployment.margo')) return 'DeploymentStatus';
  if (api.startsWith('device.margo')) return 'DeviceCapabilities';
  return undefined;
}

/**
 * Detects the document kind.
 *
 * @example
 * detectKind({ kind: 'DeploymentStatusManifest' }); // { kind: 'DeploymentStatus', declared: 'DeploymentStatusManifest', unknownDeclared: false }
 */
export function detectKind(data: unknown): KindGuess {
  const declared = isRecord(data) && typeof data.kind === 'string' ? data.kind : undefined;
  if (declared !== undefined && BY_KIND[declared])
    return { kind: BY_KIND[declared], declared, unknownDeclared: false };
  const shape = kindByShape(data);
  return {
    ...(shape ? { kind: shape } : {}),
    ...(declared !== undefined ? { declared } : {}),
    unknownDeclared: declared !== undefined,
  };
}
