/** Rules for deployment profiles, components, parameters and pointers (descriptions and deployments). */
import { finding } from './finding.js';
import { childPointer } from './json-pointer.js';
import type { DeploymentProfile, Finding, Parameter, ProfileType } from './model.js';
import { parseTimeout } from './quantity.js';
import { bool, rec, str } from './read.js';

/**
 * Helm `--set` style path: keys separated by dots, each key optionally followed by `[n]` list
 * indexes; a dot inside a key is escaped as `\.` (e.g. `image.tag`, `env[0].name`,
 * `annotations.example\.com/x`).
 */
const HELM_POINTER = /^(?:[^.[\]=,\s\\]|\\.)+(?:\[\d+\])*(?:\.(?:[^.[\]=,\s\\]|\\.)+(?:\[\d+\])*)*$/;
/** Compose: an environment variable name, optionally prefixed with `ENV.`. */
const COMPOSE_POINTER = /^(?:ENV\.)?[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `pointer` is valid for a profile type. */
export function isValidPointer(type: ProfileType, pointer: string): boolean {
  return type === 'helm.v3' ? HELM_POINTER.test(pointer) : COMPOSE_POINTER.test(pointer);
}

/** rc.2 `revision`: SemVer 2.0 without a leading v, build metadata joined with `_` (the OpenAPI pattern). */
const OCI_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:_([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** A scalar as text (`revision: 1.10` is a YAML number; its text is checked as written elsewhere). */
function textOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Component-level rules of one profile whose raw document is at `pointer`. */
export function checkProfile(profile: DeploymentProfile, pointer: string): Finding[] {
  const out: Finding[] = [];
  const seen = new Map<string, number>();
  profile.components.forEach((c, i) => {
    const cp = childPointer(pointer, 'components', i);
    if (c.name) {
      if (seen.has(c.name))
        out.push(
          finding(
            'SPEC_DUPLICATE_COMPONENT',
            `component name "${c.name}" is used twice in this profile (also at index ${seen.get(c.name)})`,
            childPointer(cp, 'name'),
          ),
        );
      else seen.set(c.name, i);
    }
    const props = rec(c.raw);
    const pp = childPointer(cp, 'properties');
    if (profile.type === 'helm.v3') {
      for (const key of ['repository', 'revision']) {
        if (props[key] === undefined)
          out.push(
            finding(
              'SPEC_COMPONENT_PROPERTY_MISSING',
              `Helm component "${c.name}" needs properties.${key}`,
              childPointer(pp, key),
            ),
          );
      }
    } else if (profile.type === 'compose') {
      if (props.packageLocation === undefined && props.repository === undefined) {
        out.push(
          finding(
            'SPEC_COMPONENT_PROPERTY_MISSING',
            `Compose component "${c.name}" needs properties.packageLocation (a URL of the package) or properties.repository (an oci:// Compose archive)`,
            childPointer(pp, 'packageLocation'),
          ),
        );
      } else if (props.repository !== undefined && props.revision === undefined) {
        out.push(
          finding(
            'SPEC_COMPONENT_PROPERTY_MISSING',
            `Compose component "${c.name}" with a repository needs properties.revision`,
            childPointer(pp, 'revision'),
          ),
        );
      }
    }
    // rc.2/rc.3 (`type: helm|compose`): an OCI component's revision is its tag, SemVer 2.0 with `_`
    // in place of `+` (a tag cannot hold `+`). Older types (`helm.v3`) keep free revisions.
    const revision = textOf(props.revision);
    if (
      (profile.rawType === 'helm' || profile.rawType === 'compose') &&
      str(props.repository)?.startsWith('oci://') &&
      revision !== undefined &&
      !OCI_SEMVER.test(revision)
    )
      out.push(
        finding(
          'SPEC_INVALID_REVISION',
          revision.includes('+')
            ? `revision ${JSON.stringify(revision)} is an OCI tag, which cannot hold "+": write ${JSON.stringify(revision.replace('+', '_'))}`
            : `revision ${JSON.stringify(revision)} is not a SemVer 2.0 version such as 1.2.3 (build metadata after "_")`,
          childPointer(pp, 'revision'),
        ),
      );
    if (props.timeout !== undefined) {
      const t = str(props.timeout);
      if (t === undefined || parseTimeout(t) === undefined)
        out.push(
          finding(
            'SPEC_INVALID_TIMEOUT',
            `timeout ${JSON.stringify(props.timeout)} is not in the form ##m##s, e.g. 8m30s`,
            childPointer(pp, 'timeout'),
          ),
        );
    }
    if (props.wait !== undefined && bool(props.wait) === undefined) {
      out.push(
        finding(
          'SPEC_INVALID_WAIT',
          `wait ${JSON.stringify(props.wait)} must be true or false`,
          childPointer(pp, 'wait'),
        ),
      );
    }
  });
  return out;
}

/**
 * Parameter target rules: each target names existing components (`componentTypes`: name -> type)
 * and its pointer fits the profile type of those components (an unknown type maps to undefined).
 */
export function checkParameterTargets(
  parameters: Record<string, Parameter>,
  componentTypes: Map<string, Set<ProfileType>>,
  pointer: string,
): Finding[] {
  const out: Finding[] = [];
  for (const [name, p] of Object.entries(parameters)) {
    p.targets.forEach((t, k) => {
      const tp = childPointer(pointer, name, 'targets', k);
      t.components.forEach((c, j) => {
        const types = componentTypes.get(c);
        if (!types) {
          const known = [...componentTypes.keys()];
          out.push(
            finding(
              'SPEC_UNKNOWN_TARGET_COMPONENT',
              `parameter "${name}" targets component "${c}", which no deployment profile has${known.length ? ` (components: ${known.join(', ')})` : ''}`,
              childPointer(tp, 'components', j),
            ),
          );
          return;
        }
        // A component name used in both a Helm and a Compose profile accepts either syntax.
        if (
          !t.rawPointer ||
          types.size === 0 ||
          [...types].some((type) => isValidPointer(type, t.rawPointer))
        )
          return;
        const type = [...types][0]!;
        const hint =
          type === 'helm.v3'
            ? 'a dotted Helm values path such as image.tag or env[0].value'
            : 'an environment variable name such as ENV.GREETING or GREETING';
        out.push(
          finding(
            'SPEC_INVALID_POINTER',
            `pointer ${JSON.stringify(t.rawPointer)} of parameter "${name}" does not fit the ${type === 'helm.v3' ? 'Helm' : 'Compose'} component "${c}": use ${hint}`,
            childPointer(tp, 'pointer'),
          ),
        );
      });
    });
  }
  return out;
}

/** Component name -> the profile types it appears in (unknown types add nothing). */
export function componentTypeMap(profiles: readonly DeploymentProfile[]): Map<string, Set<ProfileType>> {
  const map = new Map<string, Set<ProfileType>>();
  for (const p of profiles) {
    for (const c of p.components) {
      if (!c.name) continue;
      const set = map.get(c.name) ?? new Set<ProfileType>();
      if (p.type) set.add(p.type);
      map.set(c.name, set);
    }
  }
  return map;
}
