import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GitAuth, GitStore } from '@margo-gitops/git';
import {
  buildObserved,
  isMargoError,
  OBSERVED_FILE,
  parseObserved,
  statusFileDigest,
} from '@margo-gitops/spec';
import { errInfo } from '../logger.js';
import { writeFileAtomic } from '../state/atomic-write.js';
import { applyToView, coalesced, queueChanges } from '../status/queued-view.js';
import { StatusOutbox } from '../status/status-outbox.js';
import type { StatusSink } from './desired-source.js';

export interface GitStatusSinkOptions {
  store: GitStore;
  url: string;
  auth: GitAuth;
  stateDir: string;
  deviceId: string;
  historyLimit: number;
  logger: Logger;
  /** Payload signing hook: returns `<public key>;<signature>` for the file bytes. */
  signStatus?: (bytes: Buffer) => string;
  /** Clock for commit times (tests). */
  now?: () => Date;
}

const STATUS_REF = 'status';
const SIGNATURES = 'signatures.json';
/** observed.json `commit` before the agent has acted on any desired commit (none fetched yet). */
const NO_COMMIT = '0'.repeat(40);
/** Last observed.json `seq` used, in the state folder (written before the commit is pushed). */
const SEQ_FILE = 'status-seq';

/**
 * The StatusSink over Git: writes status files to the device's `status` branch. `report()` is synchronous and durable (the
 * change is queued on disk before it returns); `flush()` turns everything queued into one commit
 * and pushes. Unchanged content queues nothing, so there are no heartbeat commits.
 * When the server is unreachable the queue and the local commits wait for the next flush.
 * With `signStatus`, signatures.json is brought up to date when a commit is made, for the contents
 * it commits: progress superseded within one flush is never signed.
 * Every status commit carries a fresh observed.json (spec status-freshness): the desired commit
 * acted on, a strictly increasing `seq` and the SHA-256 of every other file of the commit, signed
 * with them, so that old signed status files cannot be replayed or mixed into a newer commit.
 */
export class GitStatusSink implements StatusSink {
  private readonly outbox: StatusOutbox;
  /** What the status branch will contain once everything queued is pushed. */
  private view = new Map<string, string>();
  private commitsSinceCompact = 0;
  private needsForce = false;
  private pushedOid: string | null = null;
  private localOid: string | null = null;
  private lastSeq = 0n;

  constructor(private readonly o: GitStatusSinkOptions) {
    this.outbox = new StatusOutbox(join(o.stateDir, 'outbox'));
  }

  /** Loads the view from the local status branch (fetching the remote one first when reachable) plus the outbox. */
  async init(): Promise<void> {
    this.lastSeq = this.readSeq();
    try {
      // A fresh state folder continues the remote history (fetched straight into the local ref).
      const local = await this.o.store.resolveRef(STATUS_REF);
      const res = await this.o.store.fetch(this.o.url, {
        ref: STATUS_REF,
        into: local ? 'refs/remotes/origin/status' : STATUS_REF,
        auth: this.o.auth,
      });
      this.pushedOid = res.oid;
    } catch (e) {
      this.o.logger.warn({ err: errInfo(e) }, 'status branch not fetched; continuing from local state');
    }
    this.localOid = await this.o.store.resolveRef(STATUS_REF);
    if (this.localOid) {
      for (const [p, b] of await this.o.store.readFiles(STATUS_REF)) this.view.set(p, b.toString('utf8'));
    }
    for (const e of this.outbox.list()) this.applyToView(e.files);
    try {
      const seen = parseObserved(this.view.get(OBSERVED_FILE) ?? '').seq;
      if (seen > this.lastSeq) this.lastSeq = seen;
    } catch {
      // none yet, or the older {commit} form: the clock moves seq forward
    }
    if (this.pushedOid !== this.localOid) this.needsForce = this.pushedOid !== null && this.localOid !== null;
  }

  private author() {
    const t = this.o.now?.() ?? new Date();
    return {
      name: `margo-agent ${this.o.deviceId}`,
      email: `${this.o.deviceId}@devices.margo-gitops`,
      timestamp: Math.floor(t.getTime() / 1000),
    };
  }

  private applyToView(files: Record<string, string | null>): void {
    applyToView(this.view, files);
  }

  /** The desired commit observed.json names (queued or pushed), if any. */
  observedCommit(): string | undefined {
    try {
      const c = (JSON.parse(this.view.get(OBSERVED_FILE) ?? 'null') as { commit?: unknown } | null)?.commit;
      return typeof c === 'string' ? c : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Records the desired commit the agent acted on (applied or refused). A new one queues a change
   * (so even a desired commit that changes nothing here gets a status commit); the full
   * observed.json is built when the commit is made. Returns false when it is already the observed one.
   */
  observe(commit: string): boolean {
    if (this.observedCommit() === commit) return false;
    return this.report(
      { [OBSERVED_FILE]: JSON.stringify({ commit }) + '\n' },
      `observed ${commit.slice(0, 12)}`,
    );
  }

  /** The last seq used according to the state folder (init also considers the status branch). */
  private readSeq(): bigint {
    let seq = 0n;
    try {
      const t = readFileSync(join(this.o.stateDir, SEQ_FILE), 'utf8').trim();
      if (/^\d{1,20}$/.test(t)) seq = BigInt(t);
    } catch {
      // first start
    }
    return seq;
  }

  /** max(last + 1, now in µs), persisted before it is used so it never repeats after a crash. */
  private nextSeq(): bigint {
    const t = BigInt((this.o.now?.() ?? new Date()).getTime()) * 1000n;
    const seq = this.lastSeq + 1n > t ? this.lastSeq + 1n : t;
    writeFileAtomic(join(this.o.stateDir, SEQ_FILE), `${seq}\n`, 0o600);
    this.lastSeq = seq;
    return seq;
  }

  /**
   * Adds to `changes` the observed.json of the commit being made. The view is, at this point (no
   * await since the outbox was listed), exactly the tree of that commit.
   */
  private stampObserved(changes: Map<string, string | null>): void {
    const files: Record<string, string> = {};
    for (const [p, c] of this.view) {
      if (p !== SIGNATURES && p !== OBSERVED_FILE) files[p] = statusFileDigest(c);
    }
    const commit = this.observedCommit() ?? NO_COMMIT;
    const text = buildObserved({
      commit: /^[0-9a-f]{40}$/.test(commit) ? commit : NO_COMMIT,
      seq: this.nextSeq(),
      files,
    });
    changes.set(OBSERVED_FILE, text);
    this.view.set(OBSERVED_FILE, text);
  }

  /** Current (queued or pushed) content of a status file. */
  get(path: string): string | undefined {
    return this.view.get(path);
  }

  paths(): string[] {
    return [...this.view.keys()];
  }

  /** Number of queued, not yet committed changes. */
  pendingChanges(): number {
    return this.outbox.size;
  }

  /** True when local commits or queued changes are not on the server yet. */
  hasUnpushed(): boolean {
    return this.outbox.size > 0 || this.localOid !== this.pushedOid;
  }

  /**
   * Queues new contents for some status files (null deletes). Returns false (and queues nothing)
   * when they equal what is already reported.
   */
  report(files: Record<string, string | null>, message: string): boolean {
    return queueChanges(this.view, this.outbox, files, message);
  }

  /** Commits queued changes and pushes. Serialised; concurrent calls coalesce. Resolves true when everything is on the server. */
  readonly flush = coalesced(() => this.flushOnce());

  /**
   * Adds to `changes` the signatures.json for them: the signatures of the files they leave as they
   * are, plus one per file they write (none for files they delete). A signatures.json queued by an
   * older agent (which signed at report time) is replaced.
   */
  private sign(changes: Map<string, string | null>): void {
    changes.delete(SIGNATURES);
    const sigs = JSON.parse(this.view.get(SIGNATURES) ?? '{}') as Record<string, string>;
    for (const [p, c] of changes) {
      if (c === null) delete sigs[p];
      else sigs[p] = this.o.signStatus!(Buffer.from(c, 'utf8'));
    }
    const text = JSON.stringify(Object.fromEntries(Object.entries(sigs).sort()), null, 2) + '\n';
    changes.set(SIGNATURES, text);
    this.view.set(SIGNATURES, text);
  }

  private async flushOnce(): Promise<boolean> {
    const store = this.o.store;
    // Everything queued becomes one commit (later contents of a file win): progress steps and the
    // reports of several deployments in one plan would otherwise cost a commit each, and bring the
    // history compaction (a forced push of the whole branch) that much sooner.
    const t0 = performance.now();
    const entries = this.outbox.list();
    if (entries.length) {
      const changes = new Map<string, string | null>();
      for (const e of entries) for (const [p, c] of Object.entries(e.files)) changes.set(p, c);
      this.stampObserved(changes);
      if (this.o.signStatus) this.sign(changes);
      const messages = [...new Set(entries.map((e) => e.message))];
      const message =
        messages.length === 1
          ? messages[0]!
          : `${messages.length} status changes\n\n${messages.map((m) => `- ${m}`).join('\n')}`;
      const expected = await store.resolveRef(STATUS_REF);
      const res = await store.commitFiles({
        ref: STATUS_REF,
        expectedOid: expected,
        changes,
        message,
        author: this.author(),
      });
      if (res.changed) this.commitsSinceCompact++;
      this.localOid = res.oid;
      for (const e of entries) this.outbox.ack(e.seq);
    }
    this.localOid = await store.resolveRef(STATUS_REF);
    const t1 = performance.now();
    if (!this.localOid || this.localOid === this.pushedOid) return true;
    if (this.commitsSinceCompact >= this.o.historyLimit) {
      const c = await store.compact(STATUS_REF, { keep: this.o.historyLimit });
      this.commitsSinceCompact = 0;
      if (c.dropped > 0) {
        this.needsForce = true;
        this.localOid = c.oid;
        this.o.logger.info({ dropped: c.dropped, keep: this.o.historyLimit }, 'status history compacted');
      }
    }
    try {
      await store.push(this.o.url, STATUS_REF, { auth: this.o.auth, force: this.needsForce });
    } catch (e) {
      if (isMargoError(e) && e.code === 'GIT_PUSH_REJECTED' && !this.needsForce) {
        // Only this device writes its status branch: a rejected fast-forward means our local
        // history was rebuilt (state folder restored, compaction); overwrite.
        this.needsForce = true;
        await store.push(this.o.url, STATUS_REF, { auth: this.o.auth, force: true });
      } else throw e;
    }
    this.needsForce = false;
    this.pushedOid = this.localOid;
    this.o.logger.debug(
      { changes: entries.length, commitMs: Math.round(t1 - t0), pushMs: Math.round(performance.now() - t1) },
      'status pushed',
    );
    return true;
  }
}
