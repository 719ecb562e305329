/** Rules for application descriptions that a JSON Schema cannot express. */
import { finding } from './finding.js';
import { childPointer } from './json-pointer.js';
import type { ApplicationDescription, Finding, SchemaRule } from './model.js';
import { baseType, checkValueAgainstRule, coerceScalar, settingsByParameter } from './parameter-values.js';
import { rec } from './read.js';
import { checkParameterTargets, checkProfile, componentTypeMap } from './rules-profile.js';
import { compileSafeRegex } from './safe-regex.js';

const TEXT_RULES = ['minLength', 'maxLength', 'regexMatch'] as const;
const NUMBER_RULES = ['minValue', 'maxValue'] as const;
const PRECISION_RULES = ['minPrecision', 'maxPrecision'] as const;

/** Rules of one configuration schema entry at `pointer`. */
export function checkSchemaRule(rule: SchemaRule, pointer: string): Finding[] {
  const out: Finding[] = [];
  const base = baseType(rule.dataType);
  const known = ['string', 'integer', 'double', 'boolean'].includes(base);
  if (!known) return out; // the schema reports the unknown dataType
  const misfit = (key: string, why: string) =>
    out.push(
      finding(
        'SPEC_RULE_DATATYPE_MISMATCH',
        `schema "${rule.name}" has ${key}, which does not apply to dataType ${rule.dataType}: ${why}`,
        childPointer(pointer, key),
      ),
    );
  for (const key of TEXT_RULES)
    if (rule[key] !== undefined && base !== 'string') misfit(key, 'text rules need dataType string');
  for (const key of NUMBER_RULES) {
    if (rule[key] === undefined) continue;
    if (base !== 'integer' && base !== 'double') misfit(key, 'value ranges need dataType integer or double');
    else if (base === 'integer' && !Number.isInteger(rule[key]))
      misfit(key, 'an integer range needs integer bounds');
  }
  for (const key of PRECISION_RULES)
    if (rule[key] !== undefined && base !== 'double') misfit(key, 'precision needs dataType double');
  const inverted = (
    lo: 'minLength' | 'minValue' | 'minPrecision',
    hi: 'maxLength' | 'maxValue' | 'maxPrecision',
  ) => {
    if (rule[lo] !== undefined && rule[hi] !== undefined && rule[lo]! > rule[hi]!) {
      out.push(
        finding(
          'SPEC_RULE_RANGE_INVERTED',
          `schema "${rule.name}" has ${lo} ${rule[lo]} greater than ${hi} ${rule[hi]}`,
          childPointer(pointer, lo),
        ),
      );
    }
  };
  inverted('minLength', 'maxLength');
  inverted('minValue', 'maxValue');
  inverted('minPrecision', 'maxPrecision');
  if (rule.regexMatch !== undefined) {
    const re = compileSafeRegex(rule.regexMatch);
    if (!re.ok)
      out.push(
        finding(
          'SPEC_REGEX_INVALID',
          `schema "${rule.name}" has a regexMatch the safe RE2 engine cannot use: ${re.error}`,
          childPointer(pointer, 'regexMatch'),
        ),
      );
  }
  rule.options?.forEach((o, i) => {
    if (!coerceScalar(o, base).ok)
      out.push(
        finding(
          'SPEC_SELECT_OPTION_TYPE',
          `option ${JSON.stringify(o)} of schema "${rule.name}" is not a ${base} value`,
          childPointer(pointer, 'options', i),
        ),
      );
  });
  if (rule.multiselect !== undefined && !rule.options) {
    out.push(
      finding(
        'SPEC_RULE_DATATYPE_MISMATCH',
        `schema "${rule.name}" has multiselect but no options; multiselect only applies to select schemas`,
        childPointer(pointer, 'multiselect'),
        'warning',
      ),
    );
  }
  return out;
}

/**
 * All rules beyond the schema for an application description: id placement, version type,
 * components, targets, pointers, configuration references, schema rules and default values.
 * `versionWasNumber` is true when YAML read `metadata.version` as a number.
 */
export function checkApplicationDescription(
  app: ApplicationDescription,
  versionWasNumber = false,
): Finding[] {
  const out: Finding[] = [];
  const d = rec(app.original);
  const metadata = rec(d.metadata);
  if (d.id === undefined && metadata.id === undefined) {
    out.push(
      finding(
        'SPEC_ID_MISSING',
        'the application has no id: set top-level id (or metadata.id in the 2024 shape)',
        '/id',
      ),
    );
  } else if (d.id !== undefined && metadata.id !== undefined && d.id !== metadata.id) {
    out.push(
      finding(
        'SPEC_ID_CONFLICT',
        `top-level id ${JSON.stringify(d.id)} differs from metadata.id ${JSON.stringify(metadata.id)}`,
        '/metadata/id',
      ),
    );
  }
  if (versionWasNumber) {
    out.push(
      finding(
        'SPEC_VERSION_NOT_STRING',
        `version was written as a YAML number; it is read as the string "${app.version}" (quote it to be sure)`,
        '/metadata/version',
        'warning',
      ),
    );
  }
  const profileIds = new Map<string, number>();
  const rawProfiles = Array.isArray(d.deploymentProfiles) ? d.deploymentProfiles : [];
  app.profiles.forEach((p, i) => {
    const pp = childPointer('/deploymentProfiles', i);
    if (rec(rawProfiles[i]).id !== undefined) {
      if (profileIds.has(p.id))
        out.push(
          finding(
            'SPEC_DUPLICATE_PROFILE_ID',
            `profile id "${p.id}" is used twice (also at index ${profileIds.get(p.id)})`,
            childPointer(pp, 'id'),
          ),
        );
      else profileIds.set(p.id, i);
    }
    out.push(...checkProfile(p, pp));
  });
  out.push(...checkParameterTargets(app.parameters, componentTypeMap(app.profiles), '/parameters'));

  const config = app.configuration;
  if (!config) return out;
  const ruleIndex = new Map<string, number>();
  config.schema.forEach((rule, i) => {
    const rp = childPointer('/configuration/schema', i);
    if (rule.name) {
      if (ruleIndex.has(rule.name))
        out.push(
          finding(
            'SPEC_DUPLICATE_SCHEMA_RULE',
            `schema rule name "${rule.name}" is used twice (also at index ${ruleIndex.get(rule.name)})`,
            childPointer(rp, 'name'),
          ),
        );
      else ruleIndex.set(rule.name, i);
    }
    out.push(...checkSchemaRule(rule, rp));
  });
  const configured = new Map<string, string>();
  config.sections.forEach((section, s) => {
    section.settings.forEach((setting, t) => {
      const sp = childPointer('/configuration/sections', s, 'settings', t);
      if (setting.parameter && !Object.hasOwn(app.parameters, setting.parameter)) {
        out.push(
          finding(
            'SPEC_UNKNOWN_SETTING_PARAMETER',
            `setting "${setting.name}" configures parameter "${setting.parameter}", which is not declared under parameters`,
            childPointer(sp, 'parameter'),
          ),
        );
      } else if (setting.parameter && configured.has(setting.parameter)) {
        out.push(
          finding(
            'SPEC_DUPLICATE_SETTING',
            `parameter "${setting.parameter}" is already configured by setting "${configured.get(setting.parameter)}"`,
            childPointer(sp, 'parameter'),
            'warning',
          ),
        );
      } else configured.set(setting.parameter, setting.name);
      if (setting.schema && !ruleIndex.has(setting.schema)) {
        const names = [...ruleIndex.keys()];
        out.push(
          finding(
            'SPEC_UNKNOWN_SETTING_SCHEMA',
            `setting "${setting.name}" uses schema "${setting.schema}", which is not defined under configuration.schema${names.length ? ` (defined: ${names.join(', ')})` : ''}`,
            childPointer(sp, 'schema'),
          ),
        );
      }
    });
  });
  for (const [name, { rule }] of settingsByParameter(app)) {
    const p = app.parameters[name];
    if (!p || !rule || p.value === undefined || p.value === '') continue;
    for (const f of checkValueAgainstRule(
      p.value,
      rule,
      `default value of "${name}"`,
      childPointer('/parameters', name, 'value'),
    )) {
      if (f.code === 'SPEC_REGEX_INVALID') continue; // reported on the schema rule
      out.push({ ...f, code: 'SPEC_DEFAULT_VALUE_INVALID', message: `${f.message} (${f.code})` });
    }
  }
  return out;
}
