/**
 * Rollout states in the fleet repository (`rollouts/<deployment>.json` on `main`): read at a
 * commit, and committed one file per commit with compare-and-swap on `main`, written straight into
 * the bare repository like the device repositories.
 */
import { createHash } from 'node:crypto';
import { toMargoError } from '@margo-gitops/spec';
import { readRolloutState, rolloutNameOf, ROLLOUTS_DIR } from '../rollout/state-file.js';
import type { RolloutState } from '../rollout/state.js';
import {
  listDirCli,
  parseTree,
  readCommit,
  readObject,
  readObjectsCli,
  serialiseTree,
  updateRef,
  writeCommit,
  writeObject,
  type Signature,
  type TreeItem,
} from './git-objects.js';

/** One state file as read from the fleet. */
export interface StoredRollout {
  state: RolloutState;
  /** The file's bytes as committed (compared with a new state's bytes to know whether it changed). */
  text: string;
  blob: string;
}

/**
 * Every readable `rollouts/*.json` at `commit`. Unreadable ones (refused at push, so only written
 * around the server) are returned in `problems` and left out. `cache` (blob id -> parsed state)
 * saves parsing unchanged files again; afterwards it holds only the blobs at `commit`.
 */
export async function readRollouts(
  gitdir: string,
  commit: string,
  cache?: Map<string, StoredRollout>,
): Promise<{
  rollouts: Map<string, StoredRollout>;
  problems: { file: string; code: string; message: string }[];
}> {
  const blobs = await listDirCli(gitdir, commit, ROLLOUTS_DIR);
  const rollouts = new Map<string, StoredRollout>();
  const problems: { file: string; code: string; message: string }[] = [];
  const missing = [...blobs.values()].filter((b) => !cache?.has(b));
  const objects = await readObjectsCli(gitdir, missing);
  for (const [file, blob] of blobs) {
    const path = `${ROLLOUTS_DIR}/${file}`;
    const name = rolloutNameOf(path);
    if (name === undefined) continue;
    let stored = cache?.get(blob);
    if (!stored) {
      const text = objects.get(blob)?.content.toString('utf8') ?? '';
      try {
        stored = { state: readRolloutState(text, path), text, blob };
        cache?.set(blob, stored);
      } catch (e) {
        const err = toMargoError(e, 'ROLLOUT_STATE_INVALID');
        problems.push({ file: path, code: err.code, message: err.message });
        continue;
      }
    }
    rollouts.set(name, stored);
  }
  // Only the states at this commit stay cached: every rollout step commits a new blob (at 10,000
  // devices a state is megabytes once parsed), and keeping them all grew the orchestrator by
  // gigabytes over one rollout.
  if (cache) {
    const live = new Set(blobs.values());
    for (const b of cache.keys()) if (!live.has(b)) cache.delete(b);
  }
  return { rollouts, problems };
}

/**
 * Fingerprint of the fleet at `commit` without `rollouts/`: devices recompute only when this (or
 * their side of a rollout) changes, not on every rollout state commit.
 */
export async function fleetContentKey(gitdir: string, commit: string): Promise<string> {
  const c = await readCommit(gitdir, commit);
  const tree = await readObject(gitdir, c.tree);
  const items = tree ? parseTree(tree.content).filter((i) => i.name !== ROLLOUTS_DIR) : [];
  const h = createHash('sha1');
  for (const i of items) h.update(`${i.mode} ${i.name} ${i.oid}\n`);
  return h.digest('hex');
}

/**
 * Commits `rollouts/<name>.json` with `text` on top of `parent` and moves `main` from `parent` to
 * it (ORCH_REF_CONFLICT when `main` moved: the caller re-reads and decides again). Returns the
 * new commit.
 */
export async function commitRollout(input: {
  gitdir: string;
  parent: string;
  name: string;
  text: string;
  message: string;
  author: Signature;
  committer: Signature;
}): Promise<string> {
  const { gitdir, parent } = input;
  const c = await readCommit(gitdir, parent);
  const root = await readObject(gitdir, c.tree);
  const items: TreeItem[] = root ? parseTree(root.content) : [];
  const dirItem = items.find((i) => i.name === ROLLOUTS_DIR && i.mode === '40000');
  const dirTree = dirItem ? await readObject(gitdir, dirItem.oid) : null;
  const files = (dirTree ? parseTree(dirTree.content) : []).filter((i) => i.name !== `${input.name}.json`);
  files.push({
    mode: '100644',
    name: `${input.name}.json`,
    oid: await writeObject(gitdir, 'blob', Buffer.from(input.text, 'utf8')),
  });
  const dirOid = await writeObject(gitdir, 'tree', serialiseTree(files));
  const rootItems = items.filter((i) => i.name !== ROLLOUTS_DIR);
  rootItems.push({ mode: '40000', name: ROLLOUTS_DIR, oid: dirOid });
  const tree = await writeObject(gitdir, 'tree', serialiseTree(rootItems));
  const commit = await writeCommit(gitdir, {
    tree,
    parents: [parent],
    author: input.author,
    committer: input.committer,
    message: input.message,
  });
  await updateRef(gitdir, 'main', parent, commit);
  return commit;
}
