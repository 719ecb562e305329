import { validateParameterValues } from '@margo-gitops/spec';
import type {
  ApplicationDescription,
  DeploymentIntent,
  DeploymentProfile,
  Finding,
  ParamValue,
  SchemaRule,
} from '@margo-gitops/spec';

/** One parameter as written into an ApplicationDeployment. */
export interface ResolvedParameter {
  value: ParamValue;
  /** Targets restricted to the chosen profile's components (`pointer` normalised, `rawPointer` as written). */
  targets: { pointer: string; rawPointer: string; components: string[] }[];
}

/** Validates concrete values against the app's configuration (spec's validateParameterValues). */
export type ParameterValidator = (
  app: ApplicationDescription,
  values: Record<string, ParamValue>,
  opts: { previous?: Record<string, ParamValue> },
) => Finding[];

export type ParameterResolution =
  | { ok: true; parameters: Record<string, ResolvedParameter> }
  | {
      ok: false;
      code:
        | 'ORCH_PARAMETER_UNKNOWN'
        | 'ORCH_PARAMETER_INVALID'
        | 'ORCH_PARAMETER_IMMUTABLE'
        | 'ORCH_SECRET_NOT_SEALED';
      reason: string;
    };

export interface ResolveParametersInput {
  app: ApplicationDescription;
  profile: DeploymentProfile;
  intent: Pick<DeploymentIntent, 'parameters' | 'secrets'>;
  deviceId: string;
  /** Values currently deployed on this device (from its current ApplicationDeployment), for immutable settings. */
  previous?: Record<string, ParamValue>;
  validate?: ParameterValidator;
}

function sameValue(a: ParamValue | undefined, b: ParamValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Resolves one deployment's parameters for one device: package defaults, overridden by the
 * intent's values and the device's sealed secrets; validated against the configuration schema;
 * immutable settings refuse a change after the first deployment; each value is mapped to its
 * targets among the chosen profile's components (parameters with no target there are dropped).
 *
 * @example
 * const r = resolveParameters({ app, profile, intent, deviceId: 'edge-1', previous: { port: 8080 } });
 * if (!r.ok) console.log(r.code, r.reason);
 */
export function resolveParameters(input: ResolveParametersInput): ParameterResolution {
  const { app, profile, intent, deviceId } = input;
  const values: Record<string, ParamValue> = {};
  for (const [name, p] of Object.entries(app.parameters)) if (p.value !== undefined) values[name] = p.value;
  for (const [name, v] of Object.entries(intent.parameters)) {
    if (!app.parameters[name]) {
      return {
        ok: false,
        code: 'ORCH_PARAMETER_UNKNOWN',
        reason: `parameter ${name} is not declared by application ${app.id} ${app.version}`,
      };
    }
    values[name] = v;
  }
  const validated = { ...values };
  const secretNames = Object.keys(intent.secrets).sort();
  for (const name of secretNames) {
    if (!app.parameters[name]) {
      return {
        ok: false,
        code: 'ORCH_PARAMETER_UNKNOWN',
        reason: `secret parameter ${name} is not declared by application ${app.id} ${app.version}`,
      };
    }
    const sealed = intent.secrets[name]!.sealed[deviceId];
    if (!sealed)
      return {
        ok: false,
        code: 'ORCH_SECRET_NOT_SEALED',
        reason: `secret parameter ${name} is not sealed for device ${deviceId}`,
      };
    values[name] = sealed;
    delete validated[name];
  }
  const previous = input.previous;
  for (const section of app.configuration?.sections ?? []) {
    for (const s of section.settings) {
      if (!s.immutable || !previous || !(s.parameter in previous) || secretNames.includes(s.parameter))
        continue;
      if (!sameValue(previous[s.parameter], values[s.parameter])) {
        return {
          ok: false,
          code: 'ORCH_PARAMETER_IMMUTABLE',
          reason: `setting ${s.name} (parameter ${s.parameter}) is immutable: deployed value ${JSON.stringify(previous[s.parameter])}, requested ${JSON.stringify(values[s.parameter])}`,
        };
      }
    }
  }
  const validate = input.validate ?? validateParameterValuesWithSpec;
  // Secrets are sealed: they cannot be checked here (the CLI checks them before sealing).
  const prevForValidator = previous
    ? Object.fromEntries(Object.entries(previous).filter(([k]) => !secretNames.includes(k)))
    : undefined;
  const secretPaths = new Set(secretNames.flatMap((n) => [`/${n}`, `/parameters/${n}`]));
  const errors = validate(app, validated, prevForValidator ? { previous: prevForValidator } : {}).filter(
    (f) => f.severity === 'error' && !secretPaths.has(f.path),
  );
  if (errors.length) {
    return {
      ok: false,
      code: 'ORCH_PARAMETER_INVALID',
      reason: errors.map((f) => `${f.path ? `${f.path}: ` : ''}${f.message}`).join('; '),
    };
  }
  const inProfile = new Set(profile.components.map((c) => c.name));
  const parameters: Record<string, ResolvedParameter> = {};
  for (const name of Object.keys(values).sort()) {
    const targets = app.parameters[name]!.targets.map((t) => ({
      pointer: t.pointer,
      rawPointer: t.rawPointer || t.pointer,
      components: t.components.filter((c) => inProfile.has(c)),
    })).filter((t) => t.components.length > 0);
    if (targets.length) parameters[name] = { value: values[name]!, targets };
  }
  return { ok: true, parameters };
}

/**
 * A small built-in check used when no validator is injected: each configured setting's value
 * must fit its schema rule's data type, range, length and options.
 */
export function basicParameterValidator(
  app: ApplicationDescription,
  values: Record<string, ParamValue>,
): Finding[] {
  const out: Finding[] = [];
  const rules = new Map<string, SchemaRule>((app.configuration?.schema ?? []).map((r) => [r.name, r]));
  for (const section of app.configuration?.sections ?? []) {
    for (const s of section.settings) {
      const rule = rules.get(s.schema);
      const v = values[s.parameter];
      if (!rule) continue;
      const path = `/parameters/${s.parameter}`;
      const bad = (message: string) =>
        out.push({
          code: 'ORCH_PARAMETER_INVALID',
          severity: 'error',
          message: `${s.parameter}: ${message}`,
          path,
        });
      if (v === undefined || v === '') {
        if (rule.allowEmpty === false) bad('a value is required');
        continue;
      }
      const items = Array.isArray(v) ? (v as unknown[]) : [v];
      const base = rule.dataType.replace(/^array\[(.*)\]$/, '$1');
      for (const item of items) {
        if (base === 'string' && typeof item !== 'string')
          bad(`must be a string, got ${JSON.stringify(item)}`);
        if (base === 'boolean' && typeof item !== 'boolean')
          bad(`must be true or false, got ${JSON.stringify(item)}`);
        if ((base === 'integer' || base === 'double') && typeof item !== 'number')
          bad(`must be a number, got ${JSON.stringify(item)}`);
        if (base === 'integer' && typeof item === 'number' && !Number.isInteger(item))
          bad(`must be an integer, got ${item}`);
        if (typeof item === 'number') {
          if (rule.minValue !== undefined && item < rule.minValue)
            bad(`must be at least ${rule.minValue}, got ${item}`);
          if (rule.maxValue !== undefined && item > rule.maxValue)
            bad(`must be at most ${rule.maxValue}, got ${item}`);
        }
        if (typeof item === 'string') {
          if (rule.minLength !== undefined && item.length < rule.minLength)
            bad(`must be at least ${rule.minLength} characters long`);
          if (rule.maxLength !== undefined && item.length > rule.maxLength)
            bad(`must be at most ${rule.maxLength} characters long`);
        }
        if (rule.options && !rule.options.some((o) => o === item))
          bad(`must be one of ${rule.options.map((o) => JSON.stringify(o)).join(', ')}`);
      }
    }
  }
  return out;
}

/** spec's validateParameterValues as the default validator (the one the CLI and server use too). */
export const validateParameterValuesWithSpec: ParameterValidator = (app, values, opts) =>
  validateParameterValues(app, values, opts);
