/**
 * Checks concrete parameter values against an application's configuration schema rules.
 *
 * Decisions (see README):
 * - `allowEmpty: true` means an empty value is accepted (the examples use it so; the spec text says
 *   the opposite). Absent means false: the value is required.
 * - Quoted numbers and booleans are accepted (`"4"` for an integer, `"true"` for a boolean), as the
 *   Margo examples quote them; numbers are accepted for text settings.
 * - A schema rule with `options` is a select; with `multiselect: true` the value is a list.
 * - `regexMatch` is a search (anchor with ^...$), run on RE2.
 */
import { finding } from './finding.js';
import { childPointer } from './json-pointer.js';
import type { ApplicationDescription, Finding, SchemaRule, Setting } from './model.js';
import { compileSafeRegex } from './safe-regex.js';

type Scalar = string | number | boolean;
type Coerced = { ok: true; value: Scalar } | { ok: false };

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/** Base type of a dataType (`array[integer]` -> `integer`). */
export function baseType(dataType: string): string {
  const m = /^array\[(\w+)\]$/.exec(dataType);
  return m ? m[1]! : dataType;
}

/** Coerces one scalar to the base type, accepting quoted numbers and booleans. */
export function coerceScalar(v: unknown, base: string): Coerced {
  switch (base) {
    case 'string':
      if (typeof v === 'string') return { ok: true, value: v };
      if (typeof v === 'number' || typeof v === 'boolean') return { ok: true, value: String(v) };
      return { ok: false };
    case 'integer': {
      const n =
        typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
      return Number.isSafeInteger(n) ? { ok: true, value: n } : { ok: false };
    }
    case 'double': {
      const n =
        typeof v === 'number'
          ? v
          : typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)
            ? Number(v)
            : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false };
    }
    case 'boolean':
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (v === 'true' || v === 'false') return { ok: true, value: v === 'true' };
      return { ok: false };
    default:
      return { ok: false };
  }
}

/** Decimal places of a number as written ("1.50" -> 2, 1.5 -> 1, 2 -> 0). */
export function decimalPlaces(v: unknown): number {
  const s = typeof v === 'string' ? v.trim() : String(v);
  const m = /^[-+]?\d*(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(s);
  if (!m) return 0;
  return Math.max(0, (m[1]?.length ?? 0) - Number(m[2] ?? 0));
}

function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = typeof v === 'bigint' ? `${v}` : Object.prototype.toString.call(v);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Checks one value against one schema rule. `label` names the value in messages, `path` is the
 * JSON path of the finding.
 */
export function checkValueAgainstRule(
  value: unknown,
  rule: SchemaRule,
  label: string,
  path: string,
): Finding[] {
  const out: Finding[] = [];
  if (isEmpty(value)) {
    if (rule.allowEmpty !== true)
      out.push(
        finding(
          'SPEC_VALUE_REQUIRED',
          `${label} is required (schema "${rule.name}" does not allow an empty value)`,
          path,
        ),
      );
    return out;
  }
  const base = baseType(rule.dataType);
  const isArrayType = rule.dataType.startsWith('array[') || rule.multiselect === true;
  let items: unknown[];
  if (isArrayType) {
    if (!Array.isArray(value)) {
      out.push(
        finding(
          'SPEC_VALUE_TYPE',
          `${label} must be a list of ${base} values (schema "${rule.name}"), not ${show(value)}`,
          path,
        ),
      );
      return out;
    }
    items = value;
  } else {
    if (Array.isArray(value)) {
      out.push(
        finding(
          'SPEC_VALUE_TYPE',
          `${label} must be a single ${base} value (schema "${rule.name}"), not a list`,
          path,
        ),
      );
      return out;
    }
    items = [value];
  }
  items.forEach((raw, i) => {
    const p = isArrayType ? childPointer(path, i) : path;
    const what = isArrayType ? `${label}[${i}]` : label;
    const c = coerceScalar(raw, base);
    if (!c.ok) {
      out.push(
        finding(
          'SPEC_VALUE_TYPE',
          `${what} must be ${base === 'integer' ? 'an integer' : base === 'double' ? 'a number' : base === 'boolean' ? 'true or false' : 'text'} (schema "${rule.name}"), not ${show(raw)}`,
          p,
        ),
      );
      return;
    }
    const v = c.value;
    if (rule.options) {
      const options = rule.options
        .map((o) => coerceScalar(o, base))
        .filter((o): o is { ok: true; value: Scalar } => o.ok)
        .map((o) => o.value);
      if (!options.some((o) => o === v))
        out.push(
          finding(
            'SPEC_VALUE_NOT_AN_OPTION',
            `${what} is ${show(raw)}; choose one of ${options.map(show).join(', ')}`,
            p,
          ),
        );
    }
    if (typeof v === 'string') {
      const length = [...v].length;
      if (rule.minLength !== undefined && length < rule.minLength)
        out.push(
          finding(
            'SPEC_VALUE_TOO_SHORT',
            `${what} has ${length} characters, fewer than the minimum ${rule.minLength}`,
            p,
          ),
        );
      if (rule.maxLength !== undefined && length > rule.maxLength)
        out.push(
          finding(
            'SPEC_VALUE_TOO_LONG',
            `${what} has ${length} characters, more than the maximum ${rule.maxLength}`,
            p,
          ),
        );
      if (rule.regexMatch !== undefined) {
        const re = compileSafeRegex(rule.regexMatch);
        if (!re.ok)
          out.push(
            finding('SPEC_REGEX_INVALID', `schema "${rule.name}" has an unusable regexMatch: ${re.error}`, p),
          );
        else if (!re.test(v))
          out.push(
            finding('SPEC_VALUE_REGEX_MISMATCH', `${what} ${show(v)} does not match ${rule.regexMatch}`, p),
          );
      }
    }
    if (typeof v === 'number') {
      if (rule.minValue !== undefined && v < rule.minValue)
        out.push(
          finding('SPEC_VALUE_OUT_OF_RANGE', `${what} is ${v}, below the minimum ${rule.minValue}`, p),
        );
      if (rule.maxValue !== undefined && v > rule.maxValue)
        out.push(
          finding('SPEC_VALUE_OUT_OF_RANGE', `${what} is ${v}, above the maximum ${rule.maxValue}`, p),
        );
      if (base === 'double') {
        const places = decimalPlaces(raw);
        if (rule.maxPrecision !== undefined && places > rule.maxPrecision)
          out.push(
            finding(
              'SPEC_VALUE_PRECISION',
              `${what} has ${places} decimal places, more than ${rule.maxPrecision}`,
              p,
            ),
          );
        if (rule.minPrecision !== undefined && places < rule.minPrecision)
          out.push(
            finding(
              'SPEC_VALUE_PRECISION',
              `${what} has ${places} decimal places, fewer than ${rule.minPrecision}`,
              p,
            ),
          );
      }
    }
  });
  return out;
}

/** Canonical form for immutability comparison (`"4"` equals `4` for an integer setting). */
function canonical(value: unknown, rule: SchemaRule | undefined): string {
  if (!rule) return JSON.stringify(value ?? null);
  const base = baseType(rule.dataType);
  const one = (v: unknown) => {
    const c = coerceScalar(v, base);
    return c.ok ? c.value : v;
  };
  return JSON.stringify(Array.isArray(value) ? value.map(one) : isEmpty(value) ? null : one(value));
}

export interface ParameterValueOptions {
  /** Values of the previous install; immutable settings must keep them. */
  previous?: Record<string, unknown>;
  /** Check only the keys present in `values` (no required-value check for the others). Default false. */
  partial?: boolean;
}

/** Setting and schema rule of each configurable parameter. */
export function settingsByParameter(
  app: ApplicationDescription,
): Map<string, { setting: Setting; rule?: SchemaRule }> {
  const rules = new Map((app.configuration?.schema ?? []).map((r) => [r.name, r]));
  const out = new Map<string, { setting: Setting; rule?: SchemaRule }>();
  for (const section of app.configuration?.sections ?? []) {
    for (const setting of section.settings) {
      if (!out.has(setting.parameter)) {
        const rule = rules.get(setting.schema);
        out.set(setting.parameter, rule ? { setting, rule } : { setting });
      }
    }
  }
  return out;
}

/**
 * Validates concrete parameter values (user values over the package defaults) against the
 * application's configuration. Paths are `/<parameter name>`. Checks every configurable parameter
 * (so required values that are missing are reported) unless `opts.partial`.
 *
 * @example
 * validateParameterValues(app, { pollFrequency: '500' });
 * // [{ code: 'SPEC_VALUE_OUT_OF_RANGE', path: '/pollFrequency', message: 'pollFrequency is 500, above the maximum 360', ... }]
 */
export function validateParameterValues(
  app: ApplicationDescription,
  values: Record<string, unknown>,
  opts: ParameterValueOptions = {},
): Finding[] {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    return [finding('SPEC_VALUE_TYPE', 'parameter values must be a mapping of parameter name to value')];
  }
  const out: Finding[] = [];
  const settings = settingsByParameter(app);
  for (const name of Object.keys(values)) {
    if (!Object.hasOwn(app.parameters, name)) {
      out.push(
        finding(
          'SPEC_UNKNOWN_PARAMETER',
          `application ${app.id} has no parameter "${name}"`,
          childPointer('', name),
        ),
      );
    } else if (!settings.has(name)) {
      out.push(
        finding(
          'SPEC_VALUE_NOT_CONFIGURABLE',
          `parameter "${name}" is not exposed by any configuration setting; its value is used as given`,
          childPointer('', name),
          'warning',
        ),
      );
    }
  }
  for (const [name, { setting, rule }] of settings) {
    if (!Object.hasOwn(app.parameters, name)) continue;
    if (opts.partial && !Object.hasOwn(values, name)) continue;
    const effective = Object.hasOwn(values, name) ? values[name] : app.parameters[name]!.value;
    const path = childPointer('', name);
    if (rule) out.push(...checkValueAgainstRule(effective, rule, name, path));
    if (setting.immutable && opts.previous && Object.hasOwn(opts.previous, name)) {
      if (canonical(opts.previous[name], rule) !== canonical(effective, rule)) {
        out.push(
          finding(
            'SPEC_VALUE_IMMUTABLE',
            `"${setting.name}" (${name}) is immutable: it was ${show(opts.previous[name])} at install and cannot change to ${show(effective)}`,
            path,
          ),
        );
      }
    }
  }
  return out;
}
