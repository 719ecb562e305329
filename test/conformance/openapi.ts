/**
 * The upstream Workload Management API OpenAPI file (../shared/margo-spec/openapi/
 * workload-management-api-1.0.0-rc.2.yaml, unchanged) as ajv validators, one per component
 * schema, so that conformance tests check what margo-gitops produces against the specification's
 * own schemas rather than against ours.
 *
 * OpenAPI 3.0 -> JSON Schema (draft-07, what ajv speaks), done on a copy:
 * - `nullable: true` -> the type also allows `null` (the file also writes 3.1-style
 *   `type: [object, 'null']`, which ajv takes as is).
 * - `$ref: '#/components/schemas/X'` resolves inside the loaded document (it is added to ajv whole,
 *   under an $id).
 * - `UnsignedAppStateManifest` lists `required: [..., bundle.mediaType, bundle.digest, bundle.url]`:
 *   JSON Schema would read those as member names containing dots, which no document has, so every
 *   manifest would fail. They are read as meant: when `bundle` is an object it requires
 *   `mediaType`, `digest` and `url` (a null bundle, required when there are no deployments, stays
 *   valid). Any other dotted `required` entry is treated the same way.
 * - `format: uri-reference` is checked loosely (a string without spaces or control characters);
 *   `example`, `description`, `x-go-type` are annotations and ignored.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** Where the OpenAPI file is: `../shared/...` beside the repository (as in CI). */
export const OPENAPI_FILE = resolve(
  repoRoot,
  '../shared/margo-spec/openapi/workload-management-api-1.0.0-rc.2.yaml',
);

export const openApiPresent = existsSync(OPENAPI_FILE);

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** OpenAPI 3.0 schema -> JSON Schema, recursively (see the file comment). */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!isNode(schema)) return schema;
  const out: Node = {};
  for (const [k, v] of Object.entries(schema)) {
    // `properties`, `patternProperties`: keys are names, values schemas.
    if ((k === 'properties' || k === 'patternProperties') && isNode(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([n, s]) => [n, toJsonSchema(s)]));
    else if (k === 'nullable' || k === 'example' || k === 'x-go-type') continue;
    else out[k] = toJsonSchema(v);
  }
  if (schema.nullable === true && out.type !== undefined) {
    const types = Array.isArray(out.type) ? out.type : [out.type];
    out.type = [...new Set([...types, 'null'])];
  }
  if (Array.isArray(out.required) && out.required.some((r) => String(r).includes('.'))) {
    const nested = new Map<string, string[]>();
    out.required = out.required.filter((r) => {
      const [parent, ...rest] = String(r).split('.');
      if (!rest.length) return true;
      nested.set(parent!, [...(nested.get(parent!) ?? []), rest.join('.')]);
      return false;
    });
    const props = (isNode(out.properties) ? out.properties : {}) as Node;
    for (const [parent, req] of nested) {
      props[parent] = { allOf: [props[parent] ?? {}, { if: { type: 'object' }, then: { required: req } }] };
    }
    out.properties = props;
  }
  return out;
}

const ID = 'urn:margo-gitops:upstream-openapi';
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): Ajv {
  if (ajv) return ajv;
  const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Node;
  const schemas = (doc.components as Node).schemas as Node;
  ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  ajv.addFormat('uri-reference', (s: string) => !/[\s\u0000-\u001f]/.test(s));
  ajv.addSchema({ $id: ID, components: { schemas: toJsonSchema(schemas) } });
  return ajv;
}

/** The component schema names of the OpenAPI file (e.g. `DeviceCapabilitiesManifest`). */
export function openApiSchemaNames(): string[] {
  load();
  const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Node;
  return Object.keys((doc.components as Node).schemas as Node);
}

/**
 * The ajv validator of one component schema.
 *
 * @example
 * const v = openApiValidator('DeploymentStatusManifest'); v(doc) || console.log(v.errors);
 */
export function openApiValidator(schemaName: string): ValidateFunction {
  let v = validators.get(schemaName);
  if (v) return v;
  v = load().getSchema(`${ID}#/components/schemas/${schemaName}`);
  if (!v) throw new Error(`no schema ${schemaName} in ${OPENAPI_FILE}`);
  validators.set(schemaName, v);
  return v;
}

/** Violations of `doc` against `schemaName`, one line each (`/path keyword: message`). */
export function openApiViolations(schemaName: string, doc: unknown): string[] {
  const v = openApiValidator(schemaName);
  if (v(doc)) return [];
  return (v.errors ?? []).map(
    (e: ErrorObject) =>
      `${e.instancePath || '/'} ${e.keyword}: ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/**
 * Asserts that `doc` (a parsed document: plain JSON data, e.g. `JSON.parse` or YAML `parse` of
 * the exact bytes written) has zero violations against the OpenAPI component `schemaName`.
 *
 * @example
 * expectOpenApiValid('appDeploymentManifest', parse(renderedYaml));
 */
export function expectOpenApiValid(schemaName: string, doc: unknown): void {
  assert.deepEqual(openApiViolations(schemaName, doc), [], `${schemaName}: violations`);
}
