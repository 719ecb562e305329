/** Deployment profiles and parameters: shared by application descriptions and deployments. */
import { childPointer } from './json-pointer.js';
import type {
  Component,
  DeploymentProfile,
  LabelMatchExpression,
  Parameter,
  ParameterTarget,
  ParamValue,
  ProfileType,
  ResourceRequirements,
} from './model.js';
import { normaliseArchitecture, parseQuantity, parseTimeout } from './quantity.js';
import { arr, bool, isRecord, num, rec, str, type Rec } from './read.js';

/** The component-level vendor key margo-gitops writes (`{digest}`: the pinned OCI manifest). */
export const MARGO_GITOPS_EXTENSIONS = 'x-margo-gitops-extensions';

/** Reads a scalar as written in the source (used to keep `1.0` as "1.0"). */
export type SourceText = (pointer: string) => string | undefined;

/** `helm.v3`/`helm` -> `helm.v3`; `docker-compose`/`compose` -> `compose`; otherwise undefined. */
export function normaliseProfileType(type: unknown): ProfileType | undefined {
  if (type === 'helm.v3' || type === 'helm') return 'helm.v3';
  if (type === 'compose' || type === 'docker-compose') return 'compose';
  return undefined;
}

/** A string field, taking numbers as written in the source (`revision: 1.10` stays "1.10"). */
export function textAt(
  value: unknown,
  pointer: string | (() => string),
  sourceText?: SourceText,
): string | undefined {
  if (typeof value === 'number') {
    return sourceText?.(typeof pointer === 'string' ? pointer : pointer()) ?? String(value);
  }
  return str(value);
}

function normaliseComponent(
  raw: unknown,
  type: ProfileType | undefined,
  pointer: string,
  sourceText?: SourceText,
): Component {
  const r = rec(raw);
  const props = rec(r.properties);
  const wait = bool(props.wait) ?? true;
  const timeout = str(props.timeout);
  const timeoutSeconds = timeout !== undefined ? parseTimeout(timeout) : undefined;
  const component: Component = { name: str(r.name) ?? '', raw: props };
  const extensions = Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('x-')));
  if (Object.keys(extensions).length) component.extensions = extensions;
  const digest = str(rec(r[MARGO_GITOPS_EXTENSIONS]).digest);
  if (digest !== undefined) component.ociDigest = digest;
  if (type === 'helm.v3') {
    component.helm = {
      repository: str(props.repository) ?? '',
      revision:
        textAt(props.revision, () => childPointer(pointer, 'properties', 'revision'), sourceText) ?? '',
      wait,
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    };
  } else if (type === 'compose') {
    const revision = textAt(
      props.revision,
      () => childPointer(pointer, 'properties', 'revision'),
      sourceText,
    );
    component.compose = {
      ...(str(props.packageLocation) !== undefined ? { packageLocation: str(props.packageLocation)! } : {}),
      ...(str(props.keyLocation) !== undefined ? { keyLocation: str(props.keyLocation)! } : {}),
      ...(str(props.repository) !== undefined ? { repository: str(props.repository)! } : {}),
      ...(revision !== undefined ? { revision } : {}),
      wait,
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    };
  }
  return component;
}

function normaliseRequirements(raw: unknown): ResourceRequirements | undefined {
  if (!isRecord(raw)) return undefined;
  const out: ResourceRequirements = {};
  const cpu = rec(raw.cpu);
  const cores = num(cpu.cores);
  if (cores !== undefined) out.cpuCores = cores;
  if (Array.isArray(cpu.architectures)) {
    out.architectures = [...new Set(cpu.architectures.map((a) => normaliseArchitecture(String(a))))];
  }
  const memory = str(raw.memory) !== undefined ? parseQuantity(str(raw.memory)!) : undefined;
  if (memory !== undefined) out.memoryBytes = memory;
  const storage = str(raw.storage) !== undefined ? parseQuantity(str(raw.storage)!) : undefined;
  if (storage !== undefined) out.storageBytes = storage;
  if (Array.isArray(raw.peripherals)) {
    out.peripherals = raw.peripherals.map((x) => {
      const p = rec(x);
      return {
        type: str(p.type) ?? '',
        ...(str(p.manufacturer) !== undefined ? { manufacturer: str(p.manufacturer)! } : {}),
        ...(str(p.model) !== undefined ? { model: str(p.model)! } : {}),
      };
    });
  }
  if (Array.isArray(raw.interfaces))
    out.interfaces = raw.interfaces.map((x) => ({ type: str(rec(x).type) ?? '' }));
  return out;
}

function matchExpressions(raw: unknown): LabelMatchExpression[] | undefined {
  if (!isRecord(raw)) return undefined;
  return arr(raw.matchExpressions).map((x) => {
    const e = rec(x);
    return {
      key: str(e.key) ?? '',
      operator: (str(e.operator) ?? 'In') as LabelMatchExpression['operator'],
      ...(Array.isArray(e.values) ? { values: e.values.map((v) => String(v)) } : {}),
      ...(isRecord(e.itemSelector) ? { itemSelector: matchExpressions(e.itemSelector) ?? [] } : {}),
    };
  });
}

/** Normalises one deployment profile; `index` synthesises an id when the document has none. */
export function normaliseProfile(
  raw: unknown,
  index: number,
  pointer: string,
  sourceText?: SourceText,
): DeploymentProfile {
  const r = rec(raw);
  const rawType = str(r.type) ?? '';
  const type = normaliseProfileType(rawType);
  const constraints = rec(r.deviceConstraints);
  const requirements = normaliseRequirements(r.requiredResources ?? constraints.capacityRequirements);
  const profile: DeploymentProfile = {
    id: str(r.id) ?? `${type ?? (rawType || 'profile')}-${index}`,
    type: type ?? ('' as ProfileType),
    rawType,
    components: arr(r.components).map((c, i) =>
      normaliseComponent(c, type, childPointer(pointer, 'components', i), sourceText),
    ),
  };
  const description = str(r.description);
  if (description !== undefined) profile.description = description;
  if (requirements) profile.requirements = requirements;
  if (Array.isArray(constraints.eligibilityRules)) {
    profile.eligibility = constraints.eligibilityRules.map((x) => {
      const rule = rec(x);
      const propertySelector = matchExpressions(rule.propertySelector);
      const labelSelector = matchExpressions(rule.labelSelector);
      return {
        ...(propertySelector ? { propertySelector } : {}),
        ...(labelSelector ? { labelSelector } : {}),
      };
    });
  }
  return profile;
}

/** A parameter value as Margo allows it, or undefined (objects, nulls and mixed arrays are dropped). */
export function paramValue(v: unknown): ParamValue | undefined {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (
    Array.isArray(v) &&
    v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')
  )
    return v as ParamValue;
  return undefined;
}

/** Strips an optional `ENV.` prefix from a Compose pointer. */
export function composePointer(pointer: string): string {
  return pointer.startsWith('ENV.') ? pointer.slice(4) : pointer;
}

/**
 * Normalises the `parameters` map. `componentTypes` maps component name -> profile type; a target
 * whose components all belong to Compose profiles gets its `ENV.` prefix removed.
 */
export function normaliseParameters(
  raw: unknown,
  componentTypes: Map<string, ProfileType>,
): Record<string, Parameter> {
  const out: Record<string, Parameter> = {};
  for (const [name, x] of Object.entries(rec(raw))) {
    const p: Rec = rec(x);
    const targets: ParameterTarget[] = arr(p.targets).map((t) => {
      const target = rec(t);
      const rawPointer = str(target.pointer) ?? '';
      const components = arr(target.components).map((c) => String(c));
      const compose = components.length > 0 && components.every((c) => componentTypes.get(c) === 'compose');
      return { pointer: compose ? composePointer(rawPointer) : rawPointer, rawPointer, components };
    });
    const value = paramValue(p.value);
    out[name] = { name, targets, ...(value !== undefined ? { value } : {}) };
  }
  return out;
}
