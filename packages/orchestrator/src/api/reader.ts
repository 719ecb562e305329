/**
 * Where the API reads a device's desired state: its `main` branch. The interface keeps the
 * handlers pure (tests give a map); GitDeviceStateReader reads the bare device repositories of
 * `margo serve` directly (refs and loose objects from disk, packed ones through git).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MargoError, toMargoError } from '@margo-gitops/spec';
import { MANIFEST_FILE, readDeviceMain } from '../io/device-repo.js';
import { readRef, runGit } from '../io/git-objects.js';
import type { SignedStateAuditor } from '../io/trusted-main.js';

/** How old (ms, by ctime) a loose ref must be before its stat alone vouches for its content. */
const RACY_MS = 2000;

export interface DeviceStateReader {
  /** The commit `main` points at now; null when the device has no desired state yet. */
  head(deviceId: string): Promise<string | null>;
  /** Every regular file of a commit's tree. */
  files(deviceId: string, commit: string): Promise<ReadonlyMap<string, Buffer>>;
  /**
   * What the server vouches for about the head commit: its manifestVersion and, signed, the
   * manifest. Throws a MargoError (API_UNAVAILABLE: retry later) when it cannot vouch for it.
   */
  vouch(
    deviceId: string,
    commit: string,
    files: ReadonlyMap<string, Buffer>,
  ): Promise<{ version: string; signedManifest?: Buffer }>;
  /** `commit` and its first-parent ancestors, newest first, at most `limit`. */
  ancestors(deviceId: string, commit: string, limit: number): Promise<string[]>;
}

/**
 * Reads `<reposRoot>/devices/<id>.git`. With an auditor (signed mode) the head must carry a
 * margo-manifest.json the orchestrator signed for this very device: its version is the
 * manifestVersion, so it comes from Git, survives restarts and is the same on every server reading
 * the same repositories. Anything else on `main` (an edit, another device's state) is refused
 * with 503 until the orchestrator has put its own state back. Without an auditor (unsigned mode)
 * the version is the number of first-parent commits, which also only grows.
 */
export class GitDeviceStateReader implements DeviceStateReader {
  /** Per device: the stat of its loose main ref and the oid read under that stat (see head()). */
  private readonly refs = new Map<string, { key: string; oid: string }>();
  private readonly now: () => number;

  constructor(
    private readonly reposRoot: string,
    private readonly auditor?: SignedStateAuditor,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  gitdir(deviceId: string): string {
    return join(this.reposRoot, 'devices', `${deviceId}.git`);
  }

  async head(deviceId: string): Promise<string | null> {
    // Once per poll, so one stat when nothing changed: the loose ref is re-read only when its
    // stat moved (a ref update writes a lock file and renames it over: a new inode and ctime).
    // Racy-git rule: a ref changed in the last RACY_MS could change again under the very same stat
    // (coarse timestamps, a freed inode reused), so it is cached only once older than that.
    // Synchronous: a local stat or 41-byte read costs less than a thread-pool round trip.
    const path = join(this.gitdir(deviceId), 'refs', 'heads', 'main');
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st?.isFile()) {
      const key = `${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
      const known = this.refs.get(deviceId);
      if (known?.key === key) return known.oid;
      try {
        const s = readFileSync(path, 'latin1').trim();
        if (/^[0-9a-f]{40}$/.test(s)) {
          if (this.now() - Number(st.ctimeNs / 1_000_000n) > RACY_MS)
            this.refs.set(deviceId, { key, oid: s });
          else this.refs.delete(deviceId);
          return s;
        }
      } catch {
        /* gone between stat and read: packed or absent */
      }
    }
    this.refs.delete(deviceId);
    return readRef(this.gitdir(deviceId), 'main');
  }

  async files(deviceId: string, commit: string): Promise<ReadonlyMap<string, Buffer>> {
    const main = await readDeviceMain(this.gitdir(deviceId), commit);
    return main.files;
  }

  async vouch(
    deviceId: string,
    commit: string,
    files: ReadonlyMap<string, Buffer>,
  ): Promise<{ version: string; signedManifest?: Buffer }> {
    if (!this.auditor) {
      const n = (await runGit(this.gitdir(deviceId), ['rev-list', '--first-parent', '--count', commit]))
        .toString()
        .trim();
      return { version: n };
    }
    try {
      const a = await this.auditor(deviceId, files);
      return { version: a.version.toString(), signedManifest: files.get(MANIFEST_FILE)! };
    } catch (e) {
      const err = toMargoError(e);
      throw new MargoError(
        'API_UNAVAILABLE',
        `the desired state of this device is being restored (${err.code}); try again later`,
        { cause: e, retry: 'later', data: { deviceId, commit, reason: err.code } },
      );
    }
  }

  async ancestors(deviceId: string, commit: string, limit: number): Promise<string[]> {
    const out = await runGit(this.gitdir(deviceId), [
      'rev-list',
      '--first-parent',
      `--max-count=${limit}`,
      commit,
    ]);
    return out.toString().split('\n').filter(Boolean);
  }
}
