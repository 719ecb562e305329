import { parseDeploymentState } from './deployment-state.js';
import type { ComponentStatus, DeploymentStatus, DesiredStateManifest, StatusError } from './model.js';
import { arr, isRecord, num, rec, str } from './read.js';
import type { SourceText } from './normalise-profile.js';

function statusError(raw: unknown): StatusError | undefined {
  if (!isRecord(raw)) return undefined;
  const code = str(raw.code) ?? '';
  // G24's example has a key "message " with a trailing space.
  const message = str(raw.message) ?? str(raw['message ']) ?? '';
  if (code === '' && message === '') return undefined;
  const source = str(raw.source);
  return { code, message, ...(source ? { source } : {}) };
}

/**
 * A manifest version as written: numbers keep the digits of the source (they may exceed 2^53),
 * strings are taken as they are. Undefined when absent.
 */
export function manifestVersionText(
  d: Record<string, unknown>,
  key: string,
  sourceText?: SourceText,
): string | undefined {
  const v = d[key];
  if (typeof v === 'number') return sourceText?.(`/${key}`) ?? String(v);
  return typeof v === 'string' ? v : undefined;
}

/** Normalises a DeploymentStatus of any era; states become lower-case (unknown ones `pending`). */
export function normaliseDeploymentStatus(data: unknown, sourceText?: SourceText): DeploymentStatus {
  const d = rec(data);
  const status = rec(d.status);
  const components: ComponentStatus[] = arr(d.components).map((x) => {
    const c = rec(x);
    const error = statusError(c.error);
    const progress = str(c.progress);
    return {
      name: str(c.name) ?? '',
      state: parseDeploymentState(str(c.state) ?? '') ?? 'pending',
      ...(error ? { error } : {}),
      ...(progress !== undefined ? { progress } : {}),
    };
  });
  const error = statusError(status.error);
  const deviceId = str(d.deviceId);
  const adopted = manifestVersionText(d, 'adoptedManifestVersion', sourceText);
  return {
    kind: 'DeploymentStatus',
    apiVersion: str(d.apiVersion) ?? '',
    deploymentId: str(d.deploymentId) ?? '',
    ...(deviceId !== undefined ? { deviceId } : {}),
    ...(adopted !== undefined ? { adoptedManifestVersion: adopted } : {}),
    state: parseDeploymentState(str(status.state) ?? '') ?? 'pending',
    ...(error ? { error } : {}),
    components,
    original: data,
  };
}

/** Normalises a state manifest; `manifestVersion` is kept as written (it may exceed 2^53). */
export function normaliseDesiredStateManifest(data: unknown, sourceText?: SourceText): DesiredStateManifest {
  const d = rec(data);
  const version = manifestVersionText(d, 'manifestVersion', sourceText) ?? '';
  const b = isRecord(d.bundle) ? d.bundle : undefined;
  const sizeOf = (r: Record<string, unknown>) =>
    num(r.sizeBytes) !== undefined ? { sizeBytes: num(r.sizeBytes)! } : {};
  return {
    kind: 'DesiredStateManifest',
    manifestVersion: version,
    bundle: b
      ? {
          mediaType: str(b.mediaType) ?? '',
          digest: str(b.digest) ?? '',
          url: str(b.url) ?? '',
          ...sizeOf(b),
        }
      : null,
    deployments: arr(d.deployments).map((x) => {
      const r = rec(x);
      return {
        deploymentId: str(r.deploymentId) ?? '',
        digest: str(r.digest) ?? '',
        url: str(r.url) ?? '',
        ...sizeOf(r),
      };
    }),
    original: data,
  };
}
