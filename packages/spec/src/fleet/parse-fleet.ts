import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import type { Finding, ParamValue } from '../model.js';
import { normaliseRollout, normaliseSelector, normaliseWindow } from './parse-rollout.js';
import type { MaintenanceWindow, RolloutSpec } from './rollout-types.js';
import { deploymentSchema, deviceSchema, maintenanceWindowSchema } from './schemas.js';
import type { DeploymentIntent, FleetDevice, FleetDeviceRole, SealedSecret } from './types.js';

/** The result of parsing one fleet document: the value when it is usable, and every problem found. */
export interface FleetParseResult<T> {
  value?: T;
  findings: Finding[];
}

/**
 * Results of earlier parseFleet calls, by path and content: pass the same map to every call and
 * unchanged documents are not parsed again (entries of files no longer present are dropped).
 * Cached values are shared between calls: treat them as read-only.
 */
export type FleetParseCache = Map<
  string,
  FleetParseResult<FleetDevice | DeploymentIntent | MaintenanceWindow>
>;

/** Everything read from a fleet repository. */
export interface Fleet {
  devices: Map<string, FleetDevice>;
  deployments: Map<string, DeploymentIntent>;
  /** `windows/*.yaml` by name (always set by parseFleet): when rollouts may change devices (docs/rollout.md). */
  windows?: Map<string, MaintenanceWindow>;
  findings: Finding[];
}

const DEFAULT_EXPECTED_REPORT_SECONDS = 300;
const MAX_FLEET_DOC_BYTES = 1024 * 1024;

let validators:
  | { device: ValidateFunction; deployment: ValidateFunction; window: ValidateFunction }
  | undefined;
function getValidators() {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validators = {
      device: ajv.compile(deviceSchema),
      deployment: ajv.compile(deploymentSchema),
      window: ajv.compile(maintenanceWindowSchema),
    };
  }
  return validators;
}

function pointerToSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function positionOf(doc: Document, lc: LineCounter, pointer: string): { line?: number; column?: number } {
  const segs = pointerToSegments(pointer);
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function ajvMessage(e: ErrorObject): string {
  const where = e.instancePath || '/';
  switch (e.keyword) {
    case 'required':
      return `${where}: missing required field \`${String((e.params as { missingProperty: string }).missingProperty)}\``;
    case 'additionalProperties':
      return `${where}: unknown field \`${String((e.params as { additionalProperty: string }).additionalProperty)}\``;
    case 'enum':
      return `${where}: must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${where}: must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    case 'pattern':
      return `${where}: does not match ${(e.params as { pattern: string }).pattern}`;
    default:
      return `${where}: ${e.message ?? 'is invalid'}`;
  }
}

function parseYaml(
  text: string,
  file: string | undefined,
): { doc?: Document; lc: LineCounter; data?: unknown; findings: Finding[] } {
  const lc = new LineCounter();
  const findings: Finding[] = [];
  if (text.length > MAX_FLEET_DOC_BYTES) {
    findings.push({
      code: 'ORCH_FLEET_YAML_INVALID',
      severity: 'error',
      message: `fleet document is larger than ${MAX_FLEET_DOC_BYTES} bytes`,
      path: '',
      file,
    });
    return { lc, findings };
  }
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  for (const err of doc.errors) {
    const pos = lc.linePos(err.pos[0]);
    findings.push({
      code: 'ORCH_FLEET_YAML_INVALID',
      severity: 'error',
      message: err.message.split('\n')[0] ?? err.message,
      path: '',
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  if (findings.length) return { lc, findings };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    findings.push({
      code: 'ORCH_FLEET_YAML_INVALID',
      severity: 'error',
      message: e instanceof Error ? e.message : String(e),
      path: '',
      file,
    });
    return { lc, findings };
  }
  return { doc, lc, data, findings };
}

function schemaFindings(
  validate: ValidateFunction,
  data: unknown,
  doc: Document,
  lc: LineCounter,
  file: string | undefined,
): Finding[] {
  if (validate(data)) return [];
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const e of validate.errors ?? []) {
    // anyOf branches repeat the same location; keep one message per path.
    if (e.keyword === 'anyOf' || e.keyword === 'type') {
      if (seen.has(e.instancePath)) continue;
    }
    seen.add(e.instancePath);
    const kind = e.instancePath === '/kind' ? 'ORCH_FLEET_KIND' : 'ORCH_FLEET_SCHEMA';
    out.push({
      code: kind,
      severity: 'error',
      message: ajvMessage(e),
      path: e.instancePath,
      file,
      ...positionOf(doc, lc, e.instancePath),
    });
  }
  return out;
}

/**
 * Parses a `devices/<id>.yaml` document.
 *
 * @example
 * const { value, findings } = parseFleetDevice('kind: Device\nid: edge-1\nrole: standalone-device\n', 'devices/edge-1.yaml');
 */
export function parseFleetDevice(text: string, file?: string): FleetParseResult<FleetDevice> {
  const y = parseYaml(text, file);
  if (!y.doc) return { findings: y.findings };
  const findings = schemaFindings(getValidators().device, y.data, y.doc, y.lc, file);
  if (findings.length) return { findings };
  const d = y.data as Record<string, unknown>;
  const value: FleetDevice = {
    kind: 'Device',
    id: d.id as string,
    labels: { ...((d.labels as Record<string, string>) ?? {}) },
    expectedReportSeconds: (d.expectedReportSeconds as number) ?? DEFAULT_EXPECTED_REPORT_SECONDS,
  };
  if (typeof d.description === 'string') value.description = d.description;
  if (d.role) value.role = d.role as FleetDeviceRole;
  if (d.enrolment) value.enrolment = { ...(d.enrolment as object) };
  if (file) findings.push(...nameMatchesFile(file, 'devices/', value.id, '/id', y.doc, y.lc));
  return { value, findings };
}

/**
 * Parses a `deployments/<name>.yaml` deployment intent. Secret values must be sealed
 * (`sealed:v1:...`); a plaintext secret is an error and the value is not returned.
 *
 * @example
 * parseDeploymentIntent('kind: Deployment\nname: web\napplication: {id: hello, version: ^1}\ntargets: {devices: [edge-1]}\n');
 */
export function parseDeploymentIntent(text: string, file?: string): FleetParseResult<DeploymentIntent> {
  const y = parseYaml(text, file);
  if (!y.doc) return { findings: y.findings };
  const findings = schemaFindings(getValidators().deployment, y.data, y.doc, y.lc, file);
  if (findings.length) return { findings };
  const d = y.data as Record<string, any>;
  const secrets: Record<string, SealedSecret> = {};
  for (const [param, s] of Object.entries((d.secrets ?? {}) as Record<string, SealedSecret>)) {
    const sealed: Record<string, string> = {};
    for (const [dev, v] of Object.entries(s.sealed)) {
      if (!v.startsWith('sealed:v1:')) {
        const path = `/secrets/${param}/sealed/${dev}`;
        findings.push({
          code: 'ORCH_FLEET_SECRET_PLAINTEXT',
          severity: 'error',
          message: `secret \`${param}\` for device ${dev} is not sealed (it must start with sealed:v1:)`,
          path,
          file,
          ...positionOf(y.doc, y.lc, path),
        });
      } else sealed[dev] = v;
    }
    secrets[param] = { sealed };
  }
  for (const p of Object.keys(secrets)) {
    if (d.parameters && p in d.parameters) {
      const path = `/parameters/${p}`;
      findings.push({
        code: 'ORCH_FLEET_SCHEMA',
        severity: 'error',
        message: `parameter \`${p}\` is set both in parameters and in secrets`,
        path,
        file,
        ...positionOf(y.doc, y.lc, path),
      });
    }
  }
  const targets = (d.targets ?? {}) as Record<string, any>;
  if (!targets.devices?.length && !targets.selector) {
    findings.push({
      code: 'ORCH_FLEET_SCHEMA',
      severity: 'warning',
      message: 'targets names no device and no selector: nothing is deployed',
      path: '/targets',
      file,
      ...positionOf(y.doc, y.lc, '/targets'),
    });
  }
  let rollout: RolloutSpec | undefined;
  if (d.rollout) {
    const doc = y.doc;
    const r = normaliseRollout(d.rollout, '/rollout', (p) => positionOf(doc, y.lc, p), file);
    findings.push(...r.findings);
    rollout = r.value;
  }
  if (findings.some((f) => f.severity === 'error')) return { findings };
  const profile = d.profile === 'helm' ? 'helm.v3' : d.profile === 'docker-compose' ? 'compose' : d.profile;
  const value: DeploymentIntent = {
    kind: 'Deployment',
    name: d.name,
    application: { id: d.application.id, version: String(d.application.version) },
    targets: { devices: [...(targets.devices ?? [])] },
    parameters: { ...((d.parameters ?? {}) as Record<string, ParamValue>) },
    secrets,
    dependsOn: [...(d.dependsOn ?? [])],
  };
  if (targets.selector) value.targets.selector = normaliseSelector(targets.selector);
  if (typeof d.description === 'string') value.description = d.description;
  if (profile) value.profile = profile;
  if (d.namespace) value.namespace = d.namespace;
  if (rollout) value.rollout = rollout;
  if (file) findings.push(...nameMatchesFile(file, 'deployments/', value.name, '/name', y.doc, y.lc));
  return { value, findings };
}

/**
 * Parses a `windows/<name>.yaml` maintenance window (docs/rollout.md).
 *
 * @example
 * parseMaintenanceWindow('kind: MaintenanceWindow\nname: nights\nselector: {matchLabels: {line: a}}\n' +
 *   'timeZone: Europe/Berlin\nschedule: [{days: [mon], start: "22:00", end: "04:00"}]\n');
 */
export function parseMaintenanceWindow(text: string, file?: string): FleetParseResult<MaintenanceWindow> {
  const y = parseYaml(text, file);
  if (!y.doc) return { findings: y.findings };
  const findings = schemaFindings(getValidators().window, y.data, y.doc, y.lc, file);
  if (findings.length) return { findings };
  const doc = y.doc;
  const r = normaliseWindow(y.data as Record<string, unknown>, (p) => positionOf(doc, y.lc, p), file);
  if (!r.value) return r;
  if (file) r.findings.push(...nameMatchesFile(file, 'windows/', r.value.name, '/name', doc, y.lc));
  return r;
}

function nameMatchesFile(
  file: string,
  folder: string,
  id: string,
  path: string,
  doc: Document,
  lc: LineCounter,
): Finding[] {
  const base = file.slice(file.lastIndexOf(folder) + folder.length).replace(/\.ya?ml$/, '');
  if (base === id) return [];
  return [
    {
      code: 'ORCH_FLEET_NAME_MISMATCH',
      severity: 'error',
      message: `${file} declares \`${id}\`; the file must be named ${folder}${id}.yaml`,
      path,
      file,
      ...positionOf(doc, lc, path),
    },
  ];
}

/**
 * Parses a whole fleet repository tree (`devices/*.yaml`, `deployments/*.yaml`; other files are
 * ignored) and checks it across documents: duplicates, file names, `dependsOn` names.
 * Documents with errors are left out of the result; their findings say why.
 *
 * @example
 * const cache: FleetParseCache = new Map();
 * const fleet = parseFleet(new Map([['devices/edge-1.yaml', 'kind: Device\nid: edge-1\n']]), cache);
 */
export function parseFleet(files: Map<string, Buffer | string>, cache?: FleetParseCache): Fleet {
  const fleet: Fleet = { devices: new Map(), deployments: new Map(), windows: new Map(), findings: [] };
  const windows = fleet.windows!;
  const paths = [...files.keys()].sort();
  const used = new Set<string>();
  const cached = <T extends FleetDevice | DeploymentIntent | MaintenanceWindow>(
    key: string,
    parse: () => FleetParseResult<T>,
  ): FleetParseResult<T> => {
    if (!cache) return parse();
    used.add(key);
    let r = cache.get(key) as FleetParseResult<T> | undefined;
    if (!r) cache.set(key, (r = parse()));
    return r;
  };
  for (const path of paths) {
    const m = /^(devices|deployments|windows)\/([^/]+)\.ya?ml$/.exec(path);
    if (!m) continue;
    const raw = files.get(path)!;
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    const key = `${path}\0${text}`;
    if (m[1] === 'devices') {
      const r = cached(key, () => parseFleetDevice(text, path));
      fleet.findings.push(...r.findings);
      if (!r.value || r.findings.some((f) => f.severity === 'error')) continue;
      if (fleet.devices.has(r.value.id)) {
        fleet.findings.push({
          code: 'ORCH_FLEET_DUPLICATE',
          severity: 'error',
          message: `device ${r.value.id} is declared twice`,
          path: '/id',
          file: path,
        });
        continue;
      }
      fleet.devices.set(r.value.id, r.value);
    } else if (m[1] === 'windows') {
      const r = cached(key, () => parseMaintenanceWindow(text, path));
      fleet.findings.push(...r.findings);
      if (!r.value || r.findings.some((f) => f.severity === 'error')) continue;
      if (windows.has(r.value.name)) {
        fleet.findings.push({
          code: 'ORCH_FLEET_DUPLICATE',
          severity: 'error',
          message: `maintenance window ${r.value.name} is declared twice`,
          path: '/name',
          file: path,
        });
        continue;
      }
      windows.set(r.value.name, r.value);
    } else {
      const r = cached(key, () => parseDeploymentIntent(text, path));
      fleet.findings.push(...r.findings);
      if (!r.value || r.findings.some((f) => f.severity === 'error')) continue;
      if (fleet.deployments.has(r.value.name)) {
        fleet.findings.push({
          code: 'ORCH_FLEET_DUPLICATE',
          severity: 'error',
          message: `deployment ${r.value.name} is declared twice`,
          path: '/name',
          file: path,
        });
        continue;
      }
      fleet.deployments.set(r.value.name, r.value);
    }
  }
  if (cache) for (const k of cache.keys()) if (!used.has(k)) cache.delete(k);
  for (const [name, dep] of fleet.deployments) {
    for (const dn of dep.dependsOn) {
      if (!fleet.deployments.has(dn)) {
        fleet.findings.push({
          code: 'ORCH_FLEET_UNKNOWN_DEPENDENCY',
          severity: 'warning',
          message: `deployment ${name} depends on ${dn}, which does not exist`,
          path: '/dependsOn',
          file: `deployments/${name}.yaml`,
        });
      }
    }
  }
  return fleet;
}
