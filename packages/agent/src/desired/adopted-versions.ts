/**
 * Which signed manifest version each desired commit carried, for the status `adoptedManifestVersion`
 * (rc.3 DeploymentStatusManifest). Like the `commit` extension, an unchanged deployment reports the
 * version of the commit it was applied at, so its status bytes stay the same when other deployments
 * change (no rewrite and re-sign of every status at every new manifest).
 */
import type { DeploymentReport } from '../status/build-status.js';

/** Commits remembered; only commits that deployments still report matter. */
const KEEP = 256;

export class AdoptedVersions {
  private readonly byCommit = new Map<string, string>();

  /** The verifier accepted `commit`, signed as manifest `version` (exact decimal). */
  remember(commit: string, version: string): void {
    this.byCommit.delete(commit);
    this.byCommit.set(commit, version);
    if (this.byCommit.size > KEEP) this.byCommit.delete(this.byCommit.keys().next().value!);
  }

  /** The version a report made for `commit` carries (that commit's, else what the report had for it). */
  forReport(commit: string, previous: DeploymentReport | undefined): string | undefined {
    return (
      this.byCommit.get(commit) ?? (previous?.commit === commit ? previous.adoptedManifestVersion : undefined)
    );
  }

  /**
   * The version in a status file written earlier (read from the text: it may exceed 2^53, which
   * JSON.parse would round), remembered for its commit.
   */
  fromStatusFile(text: string, commit: unknown): string | undefined {
    const v = /"adoptedManifestVersion":\s*(\d+)/.exec(text)?.[1];
    if (v && typeof commit === 'string') this.remember(commit, v);
    return v;
  }
}
