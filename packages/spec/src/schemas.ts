/**
 * The JSON Schemas of the Margo documents (files under `schemas/`, the source of truth), compiled
 * once with ajv on first use. Each schema node may carry `x-code`, the stable finding code its
 * violations report (otherwise the code follows the failed keyword).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import applicationDeploymentSchema from './schemas/application-deployment.schema.json' with { type: 'json' };
import applicationDescriptionSchema from './schemas/application-description.schema.json' with { type: 'json' };
import commonSchema from './schemas/common.schema.json' with { type: 'json' };
import deploymentStatusSchema from './schemas/deployment-status.schema.json' with { type: 'json' };
import desiredStateManifestSchema from './schemas/desired-state-manifest.schema.json' with { type: 'json' };
import deviceCapabilitiesSchema from './schemas/device-capabilities.schema.json' with { type: 'json' };
import problemDetailSchema from './schemas/problem-detail.schema.json' with { type: 'json' };
import type { Code } from './codes/index.js';
import { codeInfo } from './codes/index.js';
import type { DocumentKind, Finding } from './model.js';

/** The JSON Schema of each document kind (plain objects; do not mutate). */
export const schemas: Readonly<Record<DocumentKind, object>> & { common: object } = {
  common: commonSchema,
  ApplicationDescription: applicationDescriptionSchema,
  ApplicationDeployment: applicationDeploymentSchema,
  DeploymentStatus: deploymentStatusSchema,
  DeviceCapabilities: deviceCapabilitiesSchema,
  DesiredStateManifest: desiredStateManifestSchema,
  ProblemDetail: problemDetailSchema,
};

let ajv: Ajv | undefined;
const compiled = new Map<DocumentKind, ValidateFunction>();

/** The validator of one kind, compiled on first use (one shared ajv instance, `allErrors`). */
function validatorFor(kind: DocumentKind): ValidateFunction {
  let v = compiled.get(kind);
  if (v) return v;
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true });
    ajv.addVocabulary(['x-code']);
    ajv.addSchema(commonSchema);
  }
  v = ajv.compile(schemas[kind]);
  compiled.set(kind, v);
  return v;
}

/**
 * Compiles the validator of `kind` now instead of at its first use. A daemon calls it at start, so
 * that the first document it meets is not slowed by the compilation (about 100 ms on a device).
 */
export function precompileSchema(kind: DocumentKind): void {
  validatorFor(kind);
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function typeName(t: unknown): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    integer: 'an integer',
    boolean: 'true or false',
    null: 'null',
  };
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => names[String(x)] ?? String(x)).join(' or ');
}

function toFinding(err: ErrorObject): Finding {
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const xcode =
    typeof parent['x-code'] === 'string' && codeInfo(parent['x-code'])
      ? (parent['x-code'] as Code)
      : undefined;
  const field = err.instancePath.split('/').pop() || 'document';
  switch (err.keyword) {
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      return {
        code: 'SPEC_REQUIRED_FIELD',
        severity: 'error',
        message: `missing required field "${missing}" in ${field === 'document' ? 'the document' : `"${field}"`}`,
        path: `${err.instancePath}/${missing}`,
      };
    }
    case 'type':
      return {
        code: xcode ?? 'SPEC_WRONG_TYPE',
        severity: 'error',
        message: `"${field}" must be ${typeName(err.schema)}, not ${describe(err.data)}`,
        path: err.instancePath,
      };
    case 'enum':
      return {
        code: xcode ?? 'SPEC_VALUE_NOT_ALLOWED',
        severity: 'error',
        message: `"${field}" is ${describe(err.data)}; allowed: ${(err.schema as unknown[]).map((v) => String(v)).join(', ')}`,
        path: err.instancePath,
      };
    case 'const':
      return {
        code: xcode ?? 'SPEC_VALUE_NOT_ALLOWED',
        severity: 'error',
        message: `"${field}" must be ${describe(err.schema)}, not ${describe(err.data)}`,
        path: err.instancePath,
      };
    case 'pattern':
      return {
        code: xcode ?? 'SPEC_PATTERN_MISMATCH',
        severity: 'error',
        message: `"${field}" ${describe(err.data)} does not match ${String(err.schema)}${xcode ? `: ${codeInfo(xcode)!.summary}` : ''}`,
        path: err.instancePath,
      };
    case 'additionalProperties': {
      const extra = (err.params as { additionalProperty: string }).additionalProperty;
      return {
        code: 'SPEC_UNKNOWN_FIELD',
        severity: 'warning',
        message: `unknown field "${extra}" in ${field === 'document' ? 'the document' : `"${field}"`} is ignored (a typo? vendor fields start with x-)`,
        path: `${err.instancePath}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      };
    }
    case 'minItems':
      return {
        code: xcode ?? 'SPEC_REQUIRED_FIELD',
        severity: 'error',
        message: `"${field}" must list at least ${String(err.schema)} item(s)`,
        path: err.instancePath,
      };
    case 'minLength':
      return {
        code: xcode ?? 'SPEC_REQUIRED_FIELD',
        severity: 'error',
        message: `"${field}" must not be empty`,
        path: err.instancePath,
      };
    default:
      return {
        code: xcode ?? 'SPEC_SCHEMA_VIOLATION',
        severity: 'error',
        message: `"${field}" ${err.message ?? 'is invalid'}`,
        path: err.instancePath,
      };
  }
}

/**
 * Validates plain data against the schema of `kind`. Findings carry JSON paths, no positions.
 *
 * @example
 * validateAgainstSchema('DeploymentStatus', { deploymentId: 'x' }); // [{ code: 'SPEC_REQUIRED_FIELD', ... }, ...]
 */
export function validateAgainstSchema(kind: DocumentKind, data: unknown): Finding[] {
  const validate = validatorFor(kind);
  if (validate(data)) return [];
  const out: Finding[] = [];
  for (const err of pruneBranches(validate.errors ?? [])) {
    // anyOf/if wrappers repeat what their branches already said.
    if (err.keyword === 'anyOf' || err.keyword === 'if' || err.keyword === 'oneOf') continue;
    out.push(toFinding(err));
  }
  return out;
}

/**
 * Keeps, for each failed anyOf/oneOf, only the errors of the branch the value was meant for: the
 * first branch whose `type` fits the value (fewest errors first). Without this, `bundle: {...}`
 * with a bad media type first reports "bundle must be null" from the null branch, which is noise.
 * When no branch's type fits, the branches' type errors become one ("must be a or b").
 */
export function pruneBranches(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  const extra: ErrorObject[] = [];
  for (const wrapper of errors) {
    if (wrapper.keyword !== 'anyOf' && wrapper.keyword !== 'oneOf') continue;
    const base = `${wrapper.schemaPath}/`;
    // Every branch, also those whose errors ajv reports under a $ref'd path (none here).
    const count = Array.isArray(wrapper.schema) ? wrapper.schema.length : 0;
    const branches = new Map<string, ErrorObject[]>(
      Array.from({ length: count }, (_, i) => [String(i), [] as ErrorObject[]]),
    );
    for (const e of errors) {
      if (!e.schemaPath.startsWith(base) || !e.instancePath.startsWith(wrapper.instancePath)) continue;
      const branch = e.schemaPath.slice(base.length).split('/')[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const typeMiss = (branch: string, list: ErrorObject[]) =>
      list.some(
        (e) =>
          e.keyword === 'type' &&
          e.instancePath === wrapper.instancePath &&
          e.schemaPath === `${base}${branch}/type`,
      );
    const fitting = [...branches].filter(([b, list]) => !typeMiss(b, list));
    fitting.sort(([, a], [, b]) => a.length - b.length);
    const keep = fitting[0]?.[0];
    for (const [b, list] of branches) if (b !== keep) for (const e of list) drop.add(e);
    if (keep === undefined) {
      const typeErrors = [...branches.values()].flatMap((list) =>
        list.filter((e) => e.keyword === 'type' && e.instancePath === wrapper.instancePath),
      );
      const types = [...new Set(typeErrors.flatMap((e) => e.schema as unknown))];
      if (typeErrors[0]) extra.push({ ...typeErrors[0], schema: types, parentSchema: wrapper.parentSchema });
    }
  }
  return [...errors.filter((e) => !drop.has(e)), ...extra];
}
