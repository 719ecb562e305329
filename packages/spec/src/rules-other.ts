/** Rules beyond the schema for deployments, statuses and device capabilities. */
import { parseDeploymentState } from './deployment-state.js';
import { finding } from './finding.js';
import { childPointer } from './json-pointer.js';
import type { ApplicationDeployment, Finding } from './model.js';
import { normaliseRole } from './normalise-device-capabilities.js';
import { isKnownArchitecture, parseQuantity } from './quantity.js';
import { arr, isRecord, rec, str } from './read.js';
import { checkParameterTargets, checkProfile, componentTypeMap } from './rules-profile.js';

/** Id placement, applicationId, profile and target rules of an ApplicationDeployment. */
export function checkApplicationDeployment(dep: ApplicationDeployment): Finding[] {
  const out: Finding[] = [];
  const d = rec(dep.original);
  const metadata = rec(d.metadata);
  const annotations = rec(metadata.annotations);
  const spec = rec(d.spec);
  if (d.id === undefined && annotations.id === undefined) {
    out.push(
      finding(
        'SPEC_ID_MISSING',
        'the deployment has no id: set top-level id (or metadata.annotations.id in the 2024 shape) to a UUID',
        '/id',
      ),
    );
  } else if (d.id !== undefined && annotations.id !== undefined && d.id !== annotations.id) {
    out.push(
      finding(
        'SPEC_ID_CONFLICT',
        `top-level id ${JSON.stringify(d.id)} differs from metadata.annotations.id ${JSON.stringify(annotations.id)}`,
        '/metadata/annotations/id',
      ),
    );
  }
  if (spec.applicationId === undefined && annotations.applicationId === undefined) {
    out.push(
      finding(
        'SPEC_REQUIRED_FIELD',
        'the deployment does not name its application: set metadata.annotations.applicationId (or spec.applicationId in rc.3)',
        '/metadata/annotations/applicationId',
      ),
    );
  } else if (
    spec.applicationId !== undefined &&
    annotations.applicationId !== undefined &&
    spec.applicationId !== annotations.applicationId
  ) {
    out.push(
      finding(
        'SPEC_ID_CONFLICT',
        `spec.applicationId ${JSON.stringify(spec.applicationId)} differs from metadata.annotations.applicationId ${JSON.stringify(annotations.applicationId)}`,
        '/spec/applicationId',
      ),
    );
  }
  out.push(...checkProfile(dep.profile, '/spec/deploymentProfile'));
  out.push(...checkParameterTargets(dep.parameters, componentTypeMap([dep.profile]), '/spec/parameters'));
  return out;
}

/** States must be one of the six (any case; Success/Failure/Updating/Updated are mapped). */
export function checkDeploymentStatus(data: unknown): Finding[] {
  const out: Finding[] = [];
  const d = rec(data);
  const check = (state: unknown, path: string) => {
    const s = str(state);
    if (s !== undefined && parseDeploymentState(s) === undefined) {
      out.push(
        finding(
          'SPEC_UNKNOWN_STATE',
          `state ${JSON.stringify(s)} is not one of pending, installing, installed, failed, removing, removed`,
          path,
        ),
      );
    }
  };
  check(rec(d.status).state, '/status/state');
  const names = new Set<string>();
  arr(d.components).forEach((c, i) => {
    check(rec(c).state, childPointer('/components', i, 'state'));
    const name = str(rec(c).name);
    if (name !== undefined) {
      if (names.has(name))
        out.push(
          finding(
            'SPEC_DUPLICATE_COMPONENT',
            `component "${name}" is reported twice`,
            childPointer('/components', i, 'name'),
          ),
        );
      names.add(name);
    }
  });
  return out;
}

/** Roles (case-insensitive), free-text architectures and quantities of DeviceCapabilities. */
export function checkDeviceCapabilities(data: unknown): Finding[] {
  const out: Finding[] = [];
  const p = rec(rec(data).properties);
  arr(p.roles).forEach((r, i) => {
    if (typeof r === 'string' && normaliseRole(r) === undefined) {
      out.push(
        finding(
          'SPEC_UNKNOWN_ROLE',
          `role ${JSON.stringify(r)} is not a Margo role (Standalone Cluster, Cluster Leader, Standalone Device, Cluster Worker, Gateway)`,
          childPointer('/properties/roles', i),
        ),
      );
    }
  });
  const res = rec(p.resources);
  const where = isRecord(p.resources) ? '/properties/resources' : '/properties';
  // Free-text architectures (G24 `Intel x64`, N `cpus[]`): aliases are fine, anything else is an
  // error (rc.2 enumerates them; `riscv` is not `riscv64`). The DM `cpu` object is schema-checked.
  const checkArch = (a: unknown, path: string) => {
    if (typeof a === 'string' && !isKnownArchitecture(a))
      out.push(
        finding(
          'SPEC_UNKNOWN_ARCHITECTURE',
          `architecture ${JSON.stringify(a)} is not one of amd64, arm64, arm, riscv64, other (or an alias such as x86_64, aarch64)`,
          path,
        ),
      );
  };
  for (const [list, base] of [
    [res.cpus, '/properties/resources/cpus'],
    [p.cpus, '/properties/cpus'],
  ] as const) {
    arr(list).forEach((c, i) => {
      const cpu = rec(c);
      const key = cpu.architecture !== undefined ? 'architecture' : 'cpuArchitecture';
      checkArch(cpu[key], childPointer(base, i, key));
      arr(cpu.architectures).forEach((a, j) => checkArch(a, childPointer(base, i, 'architectures', j)));
    });
  }
  const src = isRecord(p.resources) ? res : p;
  for (const key of ['memory', 'storage']) {
    const v = src[key];
    if (typeof v === 'string' && parseQuantity(v) === undefined) {
      out.push(
        finding(
          'SPEC_INVALID_QUANTITY',
          `${key} ${JSON.stringify(v)} is not a quantity such as "59 Gi", 4Gi or 2048Mi`,
          childPointer(where, key),
          'warning',
        ),
      );
    }
  }
  return out;
}

const MAX_MANIFEST_VERSION = 2n ** 64n - 1n;

/**
 * A manifest version written as digits must fit an unsigned 64-bit integer (the schema checks
 * the form; JSON numbers beyond 2^53 are read from the source text, so the digits are exact).
 */
export function checkManifestVersion(version: string | undefined, path: string): Finding[] {
  if (version === undefined || !/^[0-9]+$/.test(version) || BigInt(version) <= MAX_MANIFEST_VERSION)
    return [];
  return [
    finding(
      'SPEC_INVALID_MANIFEST_VERSION',
      `${path.slice(1)} ${version} is larger than 2^64-1 (18446744073709551615)`,
      path,
    ),
  ];
}
