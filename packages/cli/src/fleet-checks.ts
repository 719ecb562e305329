/**
 * What the orchestrator would refuse about one deployment, checked by the CLI BEFORE it writes the
 * fleet repository (issue 15): the deployment document itself (schema, `rollout:`), its
 * application and version in the catalog, its targets (unknown device ids, a selector matching
 * none, wave devices that are not targets), its parameter values and, before they are sealed, its
 * secret values. Pure: the caller reads the fleet (as it will be after the change) and the catalog
 * (as the server has it). The rules are the orchestrator's own (prepareReconcile,
 * resolveParameters, planWaves) and the spec's (parseFleet, normaliseRollout); this module only
 * turns their answers into problems with a hint.
 */
import {
  isMargoError,
  MargoError,
  parseFleetDevice,
  type Code,
  type Finding,
  type Fleet,
} from '@margo-gitops/spec';
import {
  planWaves,
  prepareReconcile,
  resolveParameters,
  selectTargets,
  type Catalog,
} from '@margo-gitops/orchestrator';
import { devicePath, toYaml, type DeviceDoc } from './fleet-docs.js';
import { checkSecretValues } from './secret-values.js';

/** One thing the orchestrator would refuse, with the code it would use. */
export interface FleetProblem {
  code: Code;
  message: string;
  hint?: string;
  /** `file:line:col` when the problem is in a document. */
  at?: string;
}

export interface DeploymentCheckInput {
  /** The deployment being written (`deployments/<name>.yaml`). */
  name: string;
  /** The fleet as it will be after the change (parseFleet of the changed checkout). */
  fleet: Fleet;
  /** The catalog as the server reads it (yanked versions left out, see `yanked`). */
  catalog: Catalog;
  yanked?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Secret values about to be sealed, checked against the schema (never shown). */
  secretValues?: Record<string, string>;
}

/** Edit distance (Levenshtein), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Up to `n` of `known` closest to `wanted`: those at the smallest edit distance, when that is at
 * most a third of its length (at least 2).
 */
export function nearest(wanted: string, known: Iterable<string>, n = 3): string[] {
  const scored = [...known].map((k) => ({ k, d: editDistance(wanted, k) }));
  const best = Math.min(Math.max(2, Math.floor(wanted.length / 3)), ...scored.map((x) => x.d));
  return scored
    .filter((x) => x.d <= best)
    .sort((a, b) => a.d - b.d || (a.k < b.k ? -1 : 1))
    .slice(0, n)
    .map((x) => x.k);
}

const list = (xs: readonly string[], max = 10) =>
  xs.length > max ? `${xs.slice(0, max).join(', ')} and ${xs.length - max} more` : xs.join(', ');

function appProblem(
  code: string,
  reason: string,
  ref: { id: string; version: string },
  catalog: Catalog,
  yanked: ReadonlySet<string> | undefined,
): FleetProblem {
  const versions = [...(catalog.get(ref.id)?.keys() ?? [])];
  let hint: string | undefined;
  if (code === 'ORCH_APP_NOT_FOUND') {
    const near = nearest(ref.id, catalog.keys());
    hint = near.length
      ? `Did you mean ${near.join(' or ')}? \`margo app list\` shows the catalog.`
      : `Publish it first (\`margo app publish DIR\`); \`margo app list\` shows the catalog.`;
  } else if (code === 'ORCH_VERSION_NOT_FOUND' || code === 'ORCH_VERSION_YANKED') {
    hint = versions.length
      ? `Published versions of ${ref.id}: ${list(versions)}${yanked?.size ? ` (yanked: ${list([...yanked])})` : ''}.`
      : `Every version of ${ref.id} was yanked; publish a new one.`;
  }
  return { code: code as Code, message: reason, ...(hint ? { hint } : {}) };
}

/** Labels in the fleet, `key=value (n devices)`, for keys the selector uses. */
function labelHint(fleet: Fleet, keys: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const d of fleet.devices.values())
    for (const k of keys)
      if (k in d.labels) counts.set(`${k}=${d.labels[k]}`, (counts.get(`${k}=${d.labels[k]}`) ?? 0) + 1);
  if (!counts.size)
    return fleet.devices.size
      ? `No device has label ${keys.join(' or ')}; set labels with \`margo device label ID key=value\`.`
      : 'The fleet has no devices yet; add them with `margo device add ID --label key=value`.';
  const found = [...counts].sort().map(([l, n]) => `${l} (${n})`);
  return `Labels in the fleet: ${list(found)}.`;
}

/**
 * The errors the fleet parser found in `file` (a document the orchestrator would leave out: a
 * device or deployment that is then simply absent), with `file:line:col`.
 *
 * @example
 * documentProblems(parseFleetDevice(text, 'devices/a.yaml').findings, 'devices/a.yaml');
 */
export function documentProblems(findings: readonly Finding[], file: string): FleetProblem[] {
  return findings
    .filter((f) => f.file === file && f.severity === 'error')
    .map((f) => ({
      code: f.code as Code,
      message: f.message,
      at: `${file}${f.line ? `:${f.line}${f.column ? `:${f.column}` : ''}` : ''}`,
    }));
}

/** What the fleet parser refuses in a device document about to be written (its labels, ...). */
export function deviceDocProblems(doc: DeviceDoc): FleetProblem[] {
  const file = devicePath(doc.id);
  return documentProblems(parseFleetDevice(toYaml(doc), file).findings, file);
}

/**
 * Deployments of `fleet` that depend on `name` (`dependsOn`) when it is gone: their devices would
 * wait for it for ever (ORCH_FLEET_UNKNOWN_DEPENDENCY).
 */
export function dependentProblems(fleet: Fleet, name: string): FleetProblem[] {
  if (fleet.deployments.has(name)) return [];
  const dependents = [...fleet.deployments.values()]
    .filter((d) => d.dependsOn.includes(name))
    .map((d) => d.name)
    .sort();
  if (!dependents.length) return [];
  return [
    {
      code: 'ORCH_FLEET_UNKNOWN_DEPENDENCY',
      message: `deployment${dependents.length > 1 ? 's' : ''} ${list(dependents)} depend${dependents.length > 1 ? '' : 's'} on ${name} (dependsOn), which would no longer exist`,
      hint: `Remove ${name} from their dependsOn first (margo deploy ... without --depends-on ${name}), or undeploy them too.`,
    },
  ];
}

/**
 * Every problem the orchestrator would have with deployment `name` of `fleet` (empty: none).
 *
 * @example
 * checkDeployment({ name: 'web', fleet: parseFleet(files), catalog }).map((p) => p.code); // ['ORCH_VERSION_NOT_FOUND']
 */
export function checkDeployment(input: DeploymentCheckInput): FleetProblem[] {
  const { name, fleet, catalog } = input;
  const file = `deployments/${name}.yaml`;
  // The document itself: schema, rollout rules, plaintext secrets, name (parseFleet's findings).
  const problems = documentProblems(fleet.findings, file);
  const intent = fleet.deployments.get(name);
  if (!intent) return problems;
  // Application and version, resolved as the orchestrator resolves them (only this deployment).
  const ctx = prepareReconcile(
    { devices: fleet.devices, deployments: new Map([[name, intent]]), findings: [] },
    catalog,
    input.yanked ? { yanked: input.yanked } : {},
  );
  const r = ctx.intents[0]!;
  if (r.error)
    problems.push(
      appProblem(
        r.error.code,
        r.error.reason,
        intent.application,
        catalog,
        input.yanked?.get(intent.application.id),
      ),
    );
  // Targets: listed ids with no devices/<id>.yaml, a selector matching no device.
  const known = [...fleet.devices.keys()];
  for (const id of r.unregistered) {
    const near = nearest(id, known);
    problems.push({
      code: 'ORCH_DEVICE_NOT_REGISTERED',
      message: `device ${id} is not in the fleet repository (no devices/${id}.yaml)`,
      hint: near.length
        ? `Did you mean ${near.join(' or ')}? \`margo device list\` shows the fleet.`
        : 'Add it with `margo device add ID` first; `margo device list` shows the fleet.',
    });
  }
  const sel = intent.targets.selector;
  if (sel && !selectTargets({ targets: { devices: [], selector: sel } }, fleet.devices).deviceIds.length) {
    const keys = [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)];
    problems.push({
      code: 'CLI_SELECTOR_MATCHES_NONE',
      message: `the selector ${JSON.stringify(sel)} matches no device in the fleet`,
      hint: labelHint(fleet, [...new Set(keys)]),
    });
  }
  // Rollout waves naming devices that are not targets (the orchestrator leaves them out).
  if (intent.rollout) {
    const targets = r.targets.map((id) => ({ deviceId: id, labels: fleet.devices.get(id)!.labels }));
    const notTargeted = [...new Set(planWaves(name, targets, intent.rollout).notTargeted)];
    if (notTargeted.length)
      problems.push({
        code: 'ROLLOUT_WAVE_DEVICE_NOT_TARGET',
        message: `rollout wave device${notTargeted.length > 1 ? 's' : ''} ${list(notTargeted)} ${notTargeted.length > 1 ? 'are' : 'is'} not ${notTargeted.length > 1 ? 'targets' : 'a target'} of deployment ${name}`,
        hint: `Targets: ${list(r.targets) || '(none)'}. A canary must also be a target (--device or --selector).`,
      });
  }
  if (r.app) problems.push(...parameterProblems(r.app, intent, r.targets, input.secretValues));
  return problems;
}

function parameterProblems(
  app: NonNullable<ReturnType<typeof prepareReconcile>['intents'][number]['app']>,
  intent: NonNullable<ReturnType<Fleet['deployments']['get']>>,
  targets: readonly string[],
  secretValues: Record<string, string> | undefined,
): FleetProblem[] {
  const out: FleetProblem[] = [];
  const profile = app.profiles[0];
  if (!profile) return out;
  // Values: the orchestrator's check for one device. Sealed values cannot be read, so every secret
  // counts as sealed for this probe (their plaintext is checked below, before sealing).
  const probe = '\0probe';
  const secretsForProbe = Object.fromEntries(
    Object.keys(intent.secrets).map((k) => [k, { sealed: { [probe]: 'sealed:v1:' } }]),
  );
  const values = resolveParameters({
    app,
    profile,
    intent: { parameters: intent.parameters, secrets: secretsForProbe },
    deviceId: probe,
  });
  if (!values.ok)
    out.push({
      code: values.code,
      message: `${app.id} ${app.version}: ${values.reason}`,
      ...(values.code === 'ORCH_PARAMETER_UNKNOWN'
        ? { hint: `Its parameters: ${Object.keys(app.parameters).join(', ') || '(none)'}.` }
        : {}),
    });
  if (secretValues && Object.keys(secretValues).length) {
    try {
      checkSecretValues(app, secretValues);
    } catch (e) {
      if (!isMargoError(e)) throw e;
      out.push({ code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    }
  }
  // Sealing: every secret sealed for every target (only the rule, no value check per device).
  const unsealed = new Map<string, string[]>();
  for (const id of targets) {
    const s = resolveParameters({
      app,
      profile,
      intent: { parameters: {}, secrets: intent.secrets },
      deviceId: id,
      validate: () => [],
    });
    if (!s.ok && s.code === 'ORCH_SECRET_NOT_SEALED') {
      const secret = /secret parameter (\S+)/.exec(s.reason)?.[1] ?? '?';
      unsealed.set(secret, [...(unsealed.get(secret) ?? []), id]);
    }
  }
  for (const [secret, ids] of unsealed)
    out.push({
      code: 'ORCH_SECRET_NOT_SEALED',
      message: `secret parameter ${secret} is not sealed for target device${ids.length > 1 ? 's' : ''} ${list(ids)}`,
      hint: `Give the value again (--secret ${secret}=- or --secret-file ${secret}=PATH) so it is sealed to every target.`,
    });
  return out;
}

/**
 * The refusal for `problems` (the first problem's code; every problem listed with its own), or
 * undefined when there is none. `what` names the change, e.g. `deployment web`.
 */
export function refusal(
  what: string,
  problems: readonly FleetProblem[],
  opts: { forcible?: boolean } = {},
): MargoError | undefined {
  if (!problems.length) return undefined;
  const lines = problems.map(
    (p) => `  ${p.code}${p.at ? ` ${p.at}` : ''}: ${p.message}${p.hint ? `\n    hint: ${p.hint}` : ''}`,
  );
  const first = problems[0]!;
  return new MargoError(
    first.code,
    problems.length === 1
      ? `${what} would be refused by the orchestrator: ${first.at ? `${first.at}: ` : ''}${first.message}; nothing was written`
      : `${what} would be refused by the orchestrator (${problems.length} problems); nothing was written:\n${lines.join('\n')}`,
    {
      hint:
        `${problems.length === 1 && first.hint ? first.hint : ''}${opts.forcible === false ? '' : ' --force writes it anyway.'}`.trim() ||
        undefined,
      data: { problems },
    },
  );
}

/** The warning printed when --force writes despite `problems`. */
export function forcedWarning(what: string, problems: readonly FleetProblem[]): string {
  return `warning: --force: writing ${what} although the orchestrator will refuse it:\n${problems
    .map((p) => `  ${p.code}${p.at ? ` ${p.at}` : ''}: ${p.message}\n`)
    .join('')}`;
}
