/**
 * The next tree of a device's `status` branch after a write over the API (pure: files in, files
 * out). Same layout as our agent's Git reports (docs/CONTRACTS.md): `deployments/<id>.json`,
 * `capabilities.json`, a fresh `observed.json` (strictly greater `seq`, the digest of every file
 * it vouches for) and `signatures.json`, where each file the server writes gets an API witness
 * entry (trust's api-witness.ts) and the device's own entries for the other files stay as they are.
 */
import { buildObserved, OBSERVED_FILE, parseObserved, statusFileDigest } from '@margo-gitops/spec';
import { SIGNATURES_FILE, type WitnessEntry } from '@margo-gitops/trust';

/** observed.json `commit` when the device has no desired state yet (what our agent writes too). */
export const NO_COMMIT = '0'.repeat(40);

export interface StatusTreeInput {
  /** The branch head's files (signatures.json and observed.json included); empty for none. */
  current: ReadonlyMap<string, Buffer>;
  /**
   * Paths of `current` the new observed.json may vouch for: those that verified and were bound by
   * the head's own fresh observed.json. Anything else stays in the tree unlisted, so it is ignored
   * as before (an old signed file an attacker pushed is never revived by a later API write).
   */
  carried: ReadonlySet<string>;
  /** New contents (null deletes). */
  changes: ReadonlyMap<string, Buffer | null>;
  /** The desired commit observed.json names. */
  commit: string;
  seq: bigint;
  /** The witness entry for a file the server writes. */
  sign(path: string, bytes: Buffer): WitnessEntry;
}

/** True when applying `changes` would change nothing the orchestrator reads. */
export function isUnchanged(i: Pick<StatusTreeInput, 'current' | 'carried' | 'changes'>): boolean {
  for (const [p, c] of i.changes) {
    const cur = i.current.get(p);
    if (c === null ? cur !== undefined : !cur || !cur.equals(c) || !i.carried.has(p)) return false;
  }
  return true;
}

/** The `seq` of the head's observed.json, 0 when there is none readable. */
export function lastSeqOf(files: ReadonlyMap<string, Buffer>): bigint {
  try {
    return parseObserved(files.get(OBSERVED_FILE) ?? '').seq;
  } catch {
    return 0n;
  }
}

/** max(last + 1, now in µs): the agent's rule, so a device moving between transports keeps going up. */
export function nextSeq(last: bigint, nowMs: number): bigint {
  const t = BigInt(Math.floor(nowMs)) * 1000n;
  return last + 1n > t ? last + 1n : t;
}

function signatures(bytes: Buffer | undefined): Record<string, unknown> {
  try {
    const doc = JSON.parse(bytes?.toString('utf8') ?? '{}') as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return { ...(doc as Record<string, unknown>) };
  } catch {
    /* unreadable: every entry is made anew for what this commit vouches for */
  }
  return {};
}

/** The complete tree of the next status commit. */
export function nextStatusTree(i: StatusTreeInput): Map<string, Buffer> {
  const out = new Map(i.current);
  const sigs = signatures(i.current.get(SIGNATURES_FILE));
  for (const [p, c] of i.changes) {
    if (c === null) {
      out.delete(p);
      delete sigs[p];
    } else {
      out.set(p, c);
      sigs[p] = i.sign(p, c);
    }
  }
  const listed: Record<string, string> = {};
  for (const [p, b] of out) {
    if (p === SIGNATURES_FILE || p === OBSERVED_FILE) continue;
    if (i.changes.has(p) || i.carried.has(p)) listed[p] = statusFileDigest(b);
  }
  const observed = Buffer.from(buildObserved({ commit: i.commit, seq: i.seq, files: listed }), 'utf8');
  out.set(OBSERVED_FILE, observed);
  sigs[OBSERVED_FILE] = i.sign(OBSERVED_FILE, observed);
  const sorted = Object.fromEntries(Object.entries(sigs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  out.set(SIGNATURES_FILE, Buffer.from(JSON.stringify(sorted, null, 2) + '\n', 'utf8'));
  return out;
}
