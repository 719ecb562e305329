import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { selectTargets } from '@margo-gitops/orchestrator';
import type { CommandDeps } from '../context.js';
import {
  checkDeploymentName,
  checkDeviceId,
  deploymentPath,
  fromYaml,
  toYaml,
  FLEET_API_VERSION,
  type DeploymentDoc,
  type ParamValue,
} from '../fleet-docs.js';
import { readFleetTree, readServerCatalog } from '../fleet-check-io.js';
import { checkDeployment, forcedWarning, refusal, type FleetProblem } from '../fleet-checks.js';
import { commitChange } from '../git-remote.js';
import { coerceValue, parseAppRef, parseKeyValues } from '../kv.js';
import { formatOutput, type OutputFormat } from '../output.js';
import { rolloutFromFlags, type RolloutFlags } from '../rollout-flags.js';
import { parseSecretSources, readSecretValues } from '../secret-values.js';

export interface DeployOptions {
  app: string;
  name: string;
  device: string[];
  selector: string[];
  set: string[];
  setString: string[];
  /** `NAME=VALUE` (warned: visible in ps) or `NAME=-` (standard input). */
  secret: string[];
  /** `NAME=PATH`: the value is the file's content (one trailing newline dropped). */
  secretFile?: string[];
  profile?: string;
  namespace?: string;
  dependsOn: string[];
  /** Keep parameter values of the existing deployment that --set does not override. */
  reuseValues?: boolean;
  /** Rollout flags (--canary, --waves, ...): they replace the `rollout:` block. */
  rollout?: RolloutFlags;
  /** Write even what the orchestrator will refuse (unknown app, device, bad values, ...). */
  force?: boolean;
  output: OutputFormat;
}

export interface DeployResult {
  name: string;
  application: { id: string; version: string };
  commit: string | null;
  file: string;
  /** What the orchestrator will refuse, written anyway with --force. */
  problems?: FleetProblem[];
}

/** Builds the intent from the options (pure; secrets are added by run). */
export function buildIntent(opts: DeployOptions, previous?: DeploymentDoc): DeploymentDoc {
  checkDeploymentName(opts.name);
  const application = parseAppRef(opts.app);
  if (!opts.device.length && !opts.selector.length) {
    throw new MargoError('USAGE_ERROR', `deployment "${opts.name}" has no target`, {
      hint: 'Give --device ID (repeatable) and/or --selector key=value.',
    });
  }
  opts.device.forEach(checkDeviceId);
  if (opts.profile && opts.profile !== 'helm.v3' && opts.profile !== 'compose') {
    throw new MargoError('USAGE_ERROR', `unknown profile "${opts.profile}" (from --profile)`, {
      hint: 'Use helm.v3 or compose.',
    });
  }
  const parameters: Record<string, ParamValue> =
    opts.reuseValues && previous ? { ...previous.parameters } : {};
  for (const [k, v] of Object.entries(parseKeyValues(opts.set, '--set'))) parameters[k] = coerceValue(v);
  for (const [k, v] of Object.entries(parseKeyValues(opts.setString, '--set-string'))) parameters[k] = v;
  const selector = parseKeyValues(opts.selector, '--selector');
  opts.rollout?.canary?.forEach(checkDeviceId);
  // Flags replace the rollout block; --reuse-values keeps the existing one when none is given.
  const rollout = rolloutFromFlags(opts.rollout ?? {}) ?? (opts.reuseValues ? previous?.rollout : undefined);
  return {
    apiVersion: FLEET_API_VERSION,
    kind: 'Deployment',
    name: opts.name,
    application,
    targets: {
      devices: [...new Set(opts.device)],
      ...(opts.selector.length ? { selector: { matchLabels: selector } } : {}),
    },
    ...(opts.profile ? { profile: opts.profile as 'helm.v3' | 'compose' } : {}),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    parameters,
    secrets: opts.reuseValues && previous ? { ...previous.secrets } : {},
    dependsOn: opts.dependsOn,
    ...(rollout ? { rollout } : {}),
  };
}

/**
 * `margo deploy APP[@VERSION] --name NAME ...`: writes deployments/<name>.yaml to the fleet repository
 * as ONE commit. Secret values are sealed per target device before they leave this machine. What
 * the orchestrator would refuse (fleet-checks.ts), checked against the fleet as it will be and the
 * server's catalog, is refused before anything is written, unless --force.
 */
export async function run(opts: DeployOptions, deps: CommandDeps): Promise<number> {
  buildIntent(opts); // usage errors before any network work
  const sources = parseSecretSources(opts.secret, opts.secretFile ?? []);
  const secrets = await readSecretValues(sources, deps.io, deps.cwd);
  const conn = await deps.connect();
  const server = await readServerCatalog(conn);
  let intent!: DeploymentDoc;
  let problems: FleetProblem[] = [];
  const file = deploymentPath(opts.name);
  const res = await commitChange(conn, 'fleet', `deploy ${opts.name}: ${opts.app}`, async (co) => {
    const path = join(co.dir, file);
    const prevText = await readFile(path, 'utf8').catch(() => undefined);
    intent = buildIntent(opts, prevText ? fromYaml<DeploymentDoc>(prevText, file) : undefined);
    // Checked as written, without the secrets given now: those are sealed to every target below.
    for (const k of Object.keys(secrets)) delete intent.secrets[k];
    await mkdir(join(co.dir, 'deployments'), { recursive: true });
    await writeFile(path, toYaml(intent));
    const fleet = await readFleetTree(co.dir);
    problems = checkDeployment({ name: opts.name, fleet, ...server, secretValues: secrets });
    if (problems.length && !opts.force) throw refusal(`deployment ${opts.name}`, problems)!;
    if (Object.keys(secrets).length) {
      const targets = selectTargets(intent, fleet.devices).deviceIds;
      if (!targets.length)
        throw new MargoError(
          'USAGE_ERROR',
          `--secret needs at least one target device to seal to, and "${opts.name}" targets none yet`,
        );
      for (const [k, v] of Object.entries(secrets)) {
        const sealed: Record<string, string> = {};
        for (const id of targets) sealed[id] = await deps.services.sealSecret(conn, id, v);
        intent.secrets[k] = { sealed };
      }
      await writeFile(path, toYaml(intent));
    }
  });
  if (problems.length) deps.io.err(forcedWarning(`deployment ${opts.name}`, problems));
  const out: DeployResult = {
    name: opts.name,
    application: intent.application,
    commit: res.commit ?? null,
    file,
    ...(problems.length ? { problems } : {}),
  };
  deps.io.out(
    formatOutput(out, opts.output, (r) =>
      r.commit
        ? `deployment ${r.name} (${r.application.id} ${r.application.version === '*' ? 'newest version' : r.application.version}) written to the fleet (commit ${r.commit.slice(0, 12)})\nfollow it with: margo status ${r.name} --watch\n`
        : `deployment ${r.name} unchanged\n`,
    ),
  );
  return 0;
}
