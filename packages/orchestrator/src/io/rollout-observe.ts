/**
 * What a device reports for a deployment in a rollout, as a RolloutObservation: its status for the
 * deployment, the revision it acted on (the `margo-gitops.io/revision` annotation of its
 * `deployments/<name>.yaml` at the `main` commit its report names), and its on-site hold.
 */
import type { FleetDevice } from '@margo-gitops/spec';
import { deploymentIdFor } from '../core/deployment-id.js';
import { revisionInText } from '../rollout/revision.js';
import type { RolloutObservation } from '../rollout/step.js';
import type { DeviceReport } from './device-repo.js';
import { readCommit, readTreeFiles } from './git-objects.js';

/** Reads revision annotations of device files at given commits; commits never change, so answers are cached. */
export class RevisionReader {
  private cache = new Map<string, Promise<string | null | undefined>>();

  /** The revision annotation of `deployments/<name>.yaml` at `commit`: null when the file has none, undefined when absent. */
  revisionAt(gitdir: string, commit: string, name: string): Promise<string | null | undefined> {
    const key = `${gitdir}\0${commit}\0${name}`;
    let p = this.cache.get(key);
    if (!p) {
      p = readRevision(gitdir, commit, name).catch(() => undefined);
      this.cache.set(key, p);
      if (this.cache.size > 100_000) this.cache.delete(this.cache.keys().next().value!);
    }
    return p;
  }
}

async function readRevision(
  gitdir: string,
  commit: string,
  name: string,
): Promise<string | null | undefined> {
  const path = `deployments/${name}.yaml`;
  const blob = (await readTreeFiles(gitdir, (await readCommit(gitdir, commit)).tree, path)).get(path);
  return blob ? (revisionInText(blob.toString('utf8')) ?? null) : undefined;
}

/** Whether a device reported or was seen within its expected window (as the fleet status judges it). */
export function isFresh(
  device: FleetDevice,
  report: DeviceReport | undefined,
  seenAt: number | undefined,
  now: number,
): boolean {
  const last = seenAt ?? report?.reportedAt;
  return last !== undefined && now - last <= device.expectedReportSeconds * 1000;
}

/** The observation of one device for deployment `name`. */
export async function observeDevice(input: {
  name: string;
  device: FleetDevice | undefined;
  report: DeviceReport | undefined;
  seenAt: number | undefined;
  now: number;
  gitdir: string;
  revisions: RevisionReader;
  /**
   * The revision of a file without the annotation: the rollout's `from` when that was rendered
   * before the deployment had `rollout:` (its bytes are kept as they were, unannotated).
   */
  unannotated?: string;
}): Promise<RolloutObservation> {
  const { device, report } = input;
  const hold = report?.hold?.reason;
  const withHold = (o: RolloutObservation): RolloutObservation => (hold !== undefined ? { ...o, hold } : o);
  if (!device || !isFresh(device, report, input.seenAt, input.now)) return withHold({ state: 'unknown' });
  const status = report?.statuses.get(deploymentIdFor(device.id, input.name));
  if (!status) return withHold({ state: 'removed' });
  const found = report?.observedCommit
    ? await input.revisions.revisionAt(input.gitdir, report.observedCommit, input.name)
    : undefined;
  const revision = found === null ? input.unannotated : found;
  return withHold({
    state: status.state === 'removing' ? 'pending' : status.state,
    ...(revision !== undefined ? { revision } : {}),
    ...(status.error ? { error: `${status.error.code}: ${status.error.message}` } : {}),
  });
}
