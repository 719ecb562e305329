import { childPointer } from './json-pointer.js';
import type {
  ApplicationDescription,
  Configuration,
  SchemaDataType,
  ProfileType,
  SchemaRule,
} from './model.js';
import { normaliseParameters, normaliseProfile, textAt, type SourceText } from './normalise-profile.js';
import { arr, bool, isRecord, num, rec, str } from './read.js';

function normaliseSchemaRule(raw: unknown): SchemaRule {
  const r = rec(raw);
  const dataType = str(r.dataType) ?? '';
  const rule: SchemaRule = { name: str(r.name) ?? '', dataType: dataType as SchemaDataType };
  const allowEmpty = bool(r.allowEmpty);
  if (allowEmpty !== undefined) rule.allowEmpty = allowEmpty;
  for (const key of [
    'minLength',
    'maxLength',
    'minValue',
    'maxValue',
    'minPrecision',
    'maxPrecision',
  ] as const) {
    const v = num(r[key]);
    if (v !== undefined) rule[key] = v;
  }
  const regex = str(r.regexMatch);
  if (regex !== undefined) rule.regexMatch = regex;
  if (Array.isArray(r.options))
    rule.options = r.options.filter((o) => ['string', 'number', 'boolean'].includes(typeof o)) as (
      | string
      | number
      | boolean
    )[];
  const multi = bool(r.multiselect);
  if (multi !== undefined) rule.multiselect = multi;
  return rule;
}

/** Normalises a configuration block (sections, settings, schema rules). */
export function normaliseConfiguration(raw: unknown): Configuration | undefined {
  if (!isRecord(raw)) return undefined;
  return {
    sections: arr(raw.sections).map((s) => {
      const section = rec(s);
      return {
        name: str(section.name) ?? '',
        settings: arr(section.settings).map((x) => {
          const setting = rec(x);
          const description = str(setting.description);
          return {
            parameter: str(setting.parameter) ?? '',
            name: str(setting.name) ?? '',
            ...(description !== undefined ? { description } : {}),
            immutable: bool(setting.immutable) ?? false,
            schema: str(setting.schema) ?? '',
          };
        }),
      };
    }),
    schema: arr(raw.schema).map(normaliseSchemaRule),
  };
}

/**
 * Normalises an application description of any era (2024 `kind: application` with `metadata.id`,
 * later `ApplicationDescription` with top-level `id`). Tolerates broken input (fields fall back to
 * empty values); callers validate first.
 */
export function normaliseApplicationDescription(
  data: unknown,
  sourceText?: SourceText,
): ApplicationDescription {
  const d = rec(data);
  const metadata = rec(d.metadata);
  const topId = str(d.id);
  const profiles = arr(d.deploymentProfiles).map((p, i) =>
    normaliseProfile(p, i, childPointer('/deploymentProfiles', i), sourceText),
  );
  const componentTypes = new Map<string, ProfileType>();
  for (const p of profiles)
    for (const c of p.components)
      if (p.type && !componentTypes.has(c.name)) componentTypes.set(c.name, p.type);
  const app: ApplicationDescription = {
    kind: 'ApplicationDescription',
    idPlacement: topId !== undefined ? 'top-level' : 'metadata',
    id: topId ?? str(metadata.id) ?? '',
    name: str(metadata.name) ?? '',
    version: textAt(metadata.version, '/metadata/version', sourceText) ?? '',
    catalog: rec(metadata.catalog),
    profiles,
    parameters: normaliseParameters(d.parameters, componentTypes),
    apiVersion: str(d.apiVersion) ?? '',
    original: data,
  };
  const description = str(metadata.description);
  if (description !== undefined) app.description = description;
  const configuration = normaliseConfiguration(d.configuration);
  if (configuration) app.configuration = configuration;
  return app;
}
