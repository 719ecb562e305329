import { MargoError } from '@margo-gitops/spec';
import type { TreeEntry } from '@margo-gitops/git';

/** Git modes of plain files: the only entries the orchestrator writes into a desired state. */
const PLAIN_FILE_MODES: ReadonlySet<string> = new Set(['100644', '100755']);

const KIND: Record<string, string> = { '120000': 'symlink', '160000': 'gitlink (submodule)' };

/**
 * Refuses a desired-state tree holding anything but plain files (docs/security.md, requirements on
 * the agent). A symlink's blob is its target, which the manifest would hash like any content, and
 * a gitlink is not a file at all (readFiles and so the manifest check never see it): both would
 * pass a valid signature unnoticed, so they are refused here, before the tree is verified or used.
 * Throws TRUST_TREE_ENTRY_INVALID naming the first offending paths and modes. Pure.
 */
export function checkTreeEntries(entries: ReadonlyMap<string, TreeEntry>): void {
  const bad = [...entries].filter(([, e]) => !PLAIN_FILE_MODES.has(e.mode));
  if (!bad.length) return;
  bad.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shown = bad.slice(0, 5).map(([path, e]) => `${path} (${KIND[e.mode] ?? 'mode'} ${e.mode})`);
  throw new MargoError(
    'TRUST_TREE_ENTRY_INVALID',
    `the desired state holds ${bad.length === 1 ? 'an entry' : `${bad.length} entries`} that ${bad.length === 1 ? 'is' : 'are'} not a plain file: ${shown.join(', ')}${bad.length > 5 ? ', ...' : ''}`,
    { data: { entries: bad.slice(0, 20).map(([path, e]) => ({ path, mode: e.mode })) } },
  );
}
