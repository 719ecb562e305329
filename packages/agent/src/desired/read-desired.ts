import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MargoError, parseDocument } from '@margo-gitops/spec';
import type { ApplicationDeployment, ParamValue } from '@margo-gitops/spec';
import type { RegistryCredentials } from '../drivers/driver.js';
import { componentValues } from '../plan/fingerprint.js';

export const DEPLOYMENTS_DIR = 'deployments/';

export interface DesiredDeployment {
  file: string;
  model: ApplicationDeployment;
}

/** A deployment file that cannot be applied; its last good state keeps running. */
export interface RejectedDeployment {
  file: string;
  /** Name from the file name (`deployments/<name>.yaml`). */
  name: string;
  /** Deployment id when it could still be read from the document. */
  id?: string;
  code: 'AGENT_INVALID_DOCUMENT';
  message: string;
}

function rawId(text: string): string | undefined {
  try {
    const d = parseYaml(text) as Record<string, any> | null;
    const id = d?.metadata?.annotations?.id ?? d?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `deployments/*.yaml` of a desired-state commit: valid ApplicationDeployments and the files
 * that were rejected (with the first error findings as message). Pure.
 */
export function readDesired(files: Map<string, Buffer>): {
  desired: DesiredDeployment[];
  rejected: RejectedDeployment[];
} {
  const desired: DesiredDeployment[] = [];
  const rejected: RejectedDeployment[] = [];
  const seenIds = new Map<string, string>();
  for (const [file, bytes] of [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (
      !file.startsWith(DEPLOYMENTS_DIR) ||
      !/\.ya?ml$/.test(file) ||
      file.slice(DEPLOYMENTS_DIR.length).includes('/')
    )
      continue;
    const name = posix.basename(file).replace(/\.ya?ml$/, '');
    const res = parseDocument(bytes, { file, kind: 'ApplicationDeployment' });
    const errors = res.findings.filter((f) => f.severity === 'error');
    if (!res.model || errors.length) {
      const id = rawId(bytes.toString('utf8'));
      const msg = errors
        .slice(0, 3)
        .map((f) => `${f.path || '/'}: ${f.message}`)
        .join('; ');
      rejected.push({
        file,
        name,
        ...(id ? { id } : {}),
        code: 'AGENT_INVALID_DOCUMENT',
        message: `${file}: ${msg || 'not an ApplicationDeployment'}`,
      });
      continue;
    }
    const model = res.model as ApplicationDeployment;
    const dup = seenIds.get(model.id);
    if (dup) {
      rejected.push({
        file,
        name,
        id: model.id,
        code: 'AGENT_INVALID_DOCUMENT',
        message: `${file}: deployment id ${model.id} is also used by ${dup}`,
      });
      continue;
    }
    seenIds.set(model.id, file);
    desired.push({ file, model });
  }
  return { desired, rejected };
}

/** Pointers the agent consumes itself (registry login) instead of passing them to the workload. */
export const REGISTRY_POINTERS = {
  server: 'MARGO_REGISTRY_SERVER',
  username: 'MARGO_REGISTRY_USERNAME',
  password: 'MARGO_REGISTRY_PASSWORD',
} as const;

const SEALED = /^sealed:v1:/;

function unsealValue(
  v: ParamValue,
  unseal: ((s: string) => string) | undefined,
  pointer: string,
): ParamValue {
  const one = (s: unknown) => {
    if (typeof s !== 'string' || !SEALED.test(s)) return s;
    if (!unseal)
      throw new MargoError(
        'AGENT_UNSEAL_FAILED',
        `parameter for ${pointer} is sealed but this agent has no unseal key configured`,
      );
    try {
      return unseal(s);
    } catch (e) {
      throw new MargoError(
        'AGENT_UNSEAL_FAILED',
        `parameter for ${pointer} could not be unsealed: ${(e as Error).message}`,
        { cause: e },
      );
    }
  };
  return (Array.isArray(v) ? v.map(one) : one(v)) as ParamValue;
}

/**
 * The values for one component: unsealed, with the reserved registry pointers taken out as
 * credentials. Throws AGENT_UNSEAL_FAILED / AGENT_INVALID_DOCUMENT.
 */
export function valuesForComponent(
  d: ApplicationDeployment,
  component: string,
  unseal?: (s: string) => string,
): { values: [string, ParamValue][]; registry?: RegistryCredentials } {
  const values: [string, ParamValue][] = [];
  const reg: Partial<RegistryCredentials> = {};
  for (const [pointer, value] of componentValues(d, component)) {
    const v = unsealValue(value as ParamValue, unseal, pointer);
    const bare = pointer.replace(/^ENV\./, '');
    if (bare === REGISTRY_POINTERS.server) reg.server = String(v);
    else if (bare === REGISTRY_POINTERS.username) reg.username = String(v);
    else if (bare === REGISTRY_POINTERS.password) reg.password = String(v);
    else values.push([pointer, v]);
  }
  const n = Object.keys(reg).length;
  if (n === 0) return { values };
  if (n !== 3) {
    throw new MargoError(
      'AGENT_INVALID_DOCUMENT',
      `component ${component}: registry credentials need all of ${Object.values(REGISTRY_POINTERS).join(', ')}`,
    );
  }
  return { values, registry: reg as RegistryCredentials };
}
