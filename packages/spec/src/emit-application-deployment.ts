/** Emits an ApplicationDeployment in the canonical 2024 Git-era shape, byte-stable. */
import { stringify } from 'yaml';
import type { ApplicationDeployment, Component, ParamValue } from './model.js';
import { formatTimeout } from './quantity.js';

export const APPLICATION_DEPLOYMENT_API_VERSION = 'application.margo.org/v1alpha1';

const KNOWN_PROPS = new Set(['repository', 'revision', 'packageLocation', 'keyLocation', 'wait', 'timeout']);

/** Entries sorted by key (code-unit order), for byte-stable output. */
export function sortedEntries<T>(o: Record<string, T>): [string, T][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function componentProperties(c: Component): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = c.helm ?? c.compose;
  if (c.helm) {
    out.repository = c.helm.repository;
    out.revision = c.helm.revision;
  } else if (c.compose) {
    if (c.compose.packageLocation !== undefined) out.packageLocation = c.compose.packageLocation;
    if (c.compose.keyLocation !== undefined) out.keyLocation = c.compose.keyLocation;
    if (c.compose.repository !== undefined) out.repository = c.compose.repository;
    if (c.compose.revision !== undefined) out.revision = c.compose.revision;
  }
  if (props?.timeoutSeconds !== undefined) out.timeout = formatTimeout(props.timeoutSeconds);
  out.wait = props?.wait ?? true;
  // Vendor keys (e.g. x-...-extensions) are kept, sorted, after the Margo ones.
  for (const [k, v] of sortedEntries(c.raw ?? {})) if (!KNOWN_PROPS.has(k) && v !== undefined) out[k] = v;
  return out;
}

function emitValue(v: ParamValue): ParamValue {
  return Array.isArray(v) ? ([...v] as ParamValue) : v;
}

/** `spec.parameters` of an emitted deployment: sorted by name, Compose pointers as `ENV.NAME`. */
export function parametersDocument(model: ApplicationDeployment): Record<string, unknown> {
  const compose = model.profile.type === 'compose';
  const parameters: Record<string, unknown> = {};
  for (const [name, p] of sortedEntries(model.parameters)) {
    parameters[name] = {
      value: emitValue(p.value),
      targets: p.targets.map((t) => ({
        pointer: compose ? `ENV.${t.pointer.replace(/^ENV\./, '')}` : t.pointer,
        components: [...t.components],
      })),
    };
  }
  return parameters;
}

/** YAML with fixed options (two-space indent, no folding, no aliases, final newline). */
export function stableYaml(doc: unknown): string {
  return stringify(doc, { indent: 2, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Builds the plain object of the canonical shape: `apiVersion: application.margo.org/v1alpha1`,
 * `metadata.annotations.{applicationId,id}`, profile type `helm.v3` or `compose`, Compose pointers
 * as `ENV.NAME`, parameters sorted by name, every key in a fixed order.
 */
export function applicationDeploymentDocument(model: ApplicationDeployment): Record<string, unknown> {
  const annotations: Record<string, string> = { applicationId: model.applicationId, id: model.id };
  for (const [k, v] of sortedEntries(model.annotations ?? {}))
    if (k !== 'id' && k !== 'applicationId') annotations[k] = v;
  const metadata: Record<string, unknown> = { annotations };
  if (model.labels && Object.keys(model.labels).length)
    metadata.labels = Object.fromEntries(sortedEntries(model.labels));
  metadata.name = model.name;
  metadata.namespace = model.namespace;
  const parameters = parametersDocument(model);
  return {
    apiVersion: APPLICATION_DEPLOYMENT_API_VERSION,
    kind: 'ApplicationDeployment',
    metadata,
    spec: {
      deploymentProfile: {
        type: model.profile.type,
        components: model.profile.components.map((c) => ({
          name: c.name,
          properties: componentProperties(c),
        })),
      },
      parameters,
    },
  };
}

/**
 * Emits an ApplicationDeployment as YAML in the canonical 2024 Git-era shape. Equal models give
 * byte-identical output (fixed key order, two-space indent, no line folding, final newline).
 *
 * @example
 * const yaml = emitApplicationDeployment(model);
 * parseDocument(yaml).findings; // []
 */
export function emitApplicationDeployment(model: ApplicationDeployment): string {
  return stableYaml(applicationDeploymentDocument(model));
}
