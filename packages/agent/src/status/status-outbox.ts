import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeFileDurable, writeFileAtomic } from '../state/atomic-write.js';

/** One queued status change: absolute new contents (null = delete) of status-branch files. */
export interface OutboxEntry {
  seq: number;
  message: string;
  files: Record<string, string | null>;
}

/**
 * Status changes waiting to be committed to the local `status` branch and pushed. Entries are
 * files `outbox/<seq>.json` written atomically, removed once committed locally. Re-committing an
 * entry after a crash is harmless: contents are absolute, so an unchanged tree makes no commit.
 */
export class StatusOutbox {
  private next: number;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    const last = this.list().at(-1);
    this.next = last ? last.seq + 1 : 1;
  }

  private files(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => /^\d+\.json$/.test(f))
      .sort();
  }

  list(): OutboxEntry[] {
    return this.files().map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as OutboxEntry);
  }

  enqueue(files: Record<string, string | null>, message: string): OutboxEntry {
    const entry: OutboxEntry = { seq: this.next++, message, files };
    writeFileAtomic(join(this.dir, `${String(entry.seq).padStart(12, '0')}.json`), JSON.stringify(entry));
    return entry;
  }

  ack(seq: number): void {
    removeFileDurable(join(this.dir, `${String(seq).padStart(12, '0')}.json`));
  }

  /** Number of queued entries (asked every poll: counts the files, reads none). */
  get size(): number {
    return this.files().length;
  }
}
