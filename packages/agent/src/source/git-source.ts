import type { GitAuth, GitStore } from '@margo-gitops/git';
import { toMargoError } from '@margo-gitops/spec';
import { checkTreeEntries } from '../desired/tree-entries.js';
import type { DesiredSnapshot, DesiredSource, SourcePoll, Verifier } from './desired-source.js';

export interface GitDesiredSourceOptions {
  /** The device's local bare repository (shared with the GitStatusSink). */
  store: GitStore;
  /** Smart-HTTP URL of `devices/<id>.git`. */
  url: string;
  auth: GitAuth;
  deviceId: string;
  verifier?: Verifier;
}

/** The branch the orchestrator writes the device's desired state to. */
const DESIRED_REF = 'main';

/**
 * Desired state from the device repository's `main`: the version is the commit id, the snapshot is
 * its tree. Fetching into the local `main` keeps the last fetched commit for offline restarts.
 */
export class GitDesiredSource implements DesiredSource {
  constructor(private readonly o: GitDesiredSourceOptions) {}

  async init(): Promise<void> {
    await this.o.store.init({ bare: true, defaultBranch: DESIRED_REF });
  }

  async poll(): Promise<SourcePoll> {
    try {
      const fetched = await this.o.store.fetch(this.o.url, {
        ref: DESIRED_REF,
        into: DESIRED_REF,
        auth: this.o.auth,
      });
      return { version: fetched.oid, changed: fetched.changed };
    } catch (e) {
      throw toMargoError(e, 'AGENT_REPO_UNREACHABLE');
    }
  }

  lastKnown(): Promise<string | null> {
    return this.o.store.resolveRef(DESIRED_REF).catch(() => null);
  }

  async load(commit: string): Promise<DesiredSnapshot> {
    const files = await this.o.store.readFiles(commit);
    const entries = await this.o.store.listEntries(commit);
    return {
      version: commit,
      files,
      verify: async () => {
        try {
          // The whole commit is refused before anything of it is used: a tree with links, then
          // the signed manifest.
          checkTreeEntries(entries);
          if (!this.o.verifier) return undefined;
          return (await this.o.verifier(files, { deviceId: this.o.deviceId, commit })) ?? undefined;
        } catch (e) {
          throw toMargoError(e, 'AGENT_VERIFICATION_FAILED');
        }
      },
    };
  }
}
