import type { ApplicationDeployment, ParamValue, Parameter, ProfileType } from './model.js';
import { normaliseParameters, normaliseProfile, type SourceText } from './normalise-profile.js';
import { rec, str, stringMap } from './read.js';

/**
 * Normalises an ApplicationDeployment of any era: id from top-level `id` (DM-B+) or
 * `metadata.annotations.id` (2024/DM-A); applicationId from `spec.applicationId` (rc.3) or
 * `metadata.annotations.applicationId`; `metadata.deviceId` (rc.3/gateway).
 */
export function normaliseApplicationDeployment(
  data: unknown,
  sourceText?: SourceText,
): ApplicationDeployment {
  const d = rec(data);
  const metadata = rec(d.metadata);
  const annotations = stringMap(metadata.annotations);
  const spec = rec(d.spec);
  const profile = normaliseProfile(spec.deploymentProfile, 0, '/spec/deploymentProfile', sourceText);
  const types = new Map<string, ProfileType>(profile.components.map((c) => [c.name, profile.type]));
  const params = normaliseParameters(spec.parameters, types);
  const parameters: Record<string, Parameter & { value: ParamValue }> = {};
  for (const [name, p] of Object.entries(params)) parameters[name] = { ...p, value: p.value ?? '' };
  const topId = str(d.id);
  const deployment: ApplicationDeployment = {
    kind: 'ApplicationDeployment',
    apiVersion: str(d.apiVersion) ?? '',
    id: topId ?? annotations?.id ?? '',
    idPlacement: topId !== undefined ? 'top-level' : 'annotations',
    name: str(metadata.name) ?? '',
    namespace: str(metadata.namespace) ?? '',
    applicationId: str(spec.applicationId) ?? annotations?.applicationId ?? '',
    profile,
    parameters,
    original: data,
  };
  const deviceId = str(metadata.deviceId);
  if (deviceId !== undefined) deployment.deviceId = deviceId;
  const labels = stringMap(metadata.labels);
  if (labels) deployment.labels = labels;
  if (annotations) deployment.annotations = annotations;
  return deployment;
}
