import { MargoError } from '@margo-gitops/spec';
import type { DeploymentOutcome } from '../core/desired-state.js';
import { commitMessage, diffDeployments, type Changes } from '../core/device-commit.js';
import type { DesiredStateSigner } from '../orchestrator-types.js';
import { MANIFEST_FILE, manifestFacts, writeDeviceMain } from './device-repo.js';
import type { Signature } from './git-objects.js';
import type { TrustedMain } from './trusted-main.js';

export interface WriteDesiredInput {
  gitdir: string;
  deviceId: string;
  /** The device's `main` as read (compare-and-swap: the commit fails if it moved). */
  mainOid: string | null;
  trusted: TrustedMain;
  /** The desired files (`deployments/<name>.yaml`), unsigned. */
  files: ReadonlyMap<string, Buffer>;
  outcomes: DeploymentOutcome[];
  reason: string;
  fleetOid: string | null;
  catalogOid: string | null;
  signer?: DesiredStateSigner;
  /** Who commits (default `margo-orchestrator`). */
  identity?: { name: string; email: string };
  now: number;
  /** The author of a deployment's intent (the last commit that touched its fleet file). */
  intentAuthor?: (deployment: string) => Promise<{ name: string; email: string } | undefined>;
}

export interface WrittenDesired {
  commit: string;
  changes: Changes;
  /** From the signed manifest, when signed. */
  manifestVersion?: string;
  manifestExpiresAt?: number;
}

const ORCHESTRATOR = { name: 'margo-orchestrator', email: 'orchestrator@margo-gitops.invalid' };

/**
 * Signs a device's desired files and commits them on its `main` (compare-and-swap from
 * `mainOid`). A commit that changes one deployment is authored by whoever last changed that
 * deployment's intent, so `git log` on the device names the person; the orchestrator commits.
 */
export async function writeDesiredState(input: WriteDesiredInput): Promise<WrittenDesired> {
  const { deviceId: id, trusted } = input;
  const changes = diffDeployments(trusted.current, input.files);
  let files = new Map(input.files);
  const out: Omit<WrittenDesired, 'commit'> = { changes };
  if (input.signer) {
    try {
      files = await input.signer(id, files, { version: trusted.version });
    } catch (e) {
      throw new MargoError(
        'ORCH_SIGNER_FAILED',
        `signing the desired state of ${id} failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    const facts = manifestFacts(files.get(MANIFEST_FILE));
    if (facts.manifestVersion !== undefined) out.manifestVersion = facts.manifestVersion;
    if (facts.manifestExpiresAt !== undefined) out.manifestExpiresAt = facts.manifestExpiresAt;
  }
  const nowSec = Math.floor(input.now / 1000);
  const committer: Signature = { ...(input.identity ?? ORCHESTRATOR), timestamp: nowSec };
  let author = committer;
  const touched = [...changes.added, ...changes.updated, ...changes.removed];
  if (touched.length === 1 && input.fleetOid && input.intentAuthor) {
    const a = await input.intentAuthor(touched[0]!);
    if (a) author = { ...a, timestamp: nowSec };
  }
  const commit = await writeDeviceMain({
    gitdir: input.gitdir,
    expectedOid: input.mainOid,
    files,
    message: commitMessage(
      id,
      input.outcomes,
      changes,
      input.reason,
      input.fleetOid,
      input.catalogOid,
      trusted.foreign,
    ),
    author,
    committer,
  });
  return { commit, ...out };
}
