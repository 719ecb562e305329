import { createHash } from 'node:crypto';
import { MargoError } from './errors.js';
import { OBSERVED_FILE } from './status-branch.js';

/**
 * Status freshness (docs/CONTRACTS.md, status branch): every status commit of a device carries a
 * signed `observed.json` that binds the whole commit together, so that a stolen device token cannot
 * replay old signed status files, or mix old files into a new commit:
 *
 * ```json
 * {"commit": "<desired commit acted on>", "seq": "<decimal>", "files": {"<path>": "sha256:<hex>"}}
 * ```
 *
 * - `commit`: the device repository `main` commit the agent last acted on (applied or refused).
 * - `seq`: strictly increasing per status commit of the device (the agent uses
 *   max(last + 1, Date.now() * 1000)), a decimal string because it exceeds 2^53.
 * - `files`: the SHA-256 of every other file of the status commit's tree except signatures.json and
 *   observed.json itself. A file of the tree that is not listed, or that differs, is not current.
 *
 * Pure helpers: the agent builds the bytes, the orchestrator parses them after checking the
 * signature (signatures.json) and compares the digests and `seq` with what it saw before.
 */

/** The signatures file of the status branch (trust SIGNATURES_FILE); never listed in `files`. */
const SIGNATURES_FILE = 'signatures.json';
/** Largest observed.json accepted: one line per status file, a few thousand deployments at most. */
export const OBSERVED_MAX_BYTES = 1024 * 1024;
/** Largest `seq` accepted: 2^64 - 1 (the agent's value is about 2^51 today). */
export const OBSERVED_MAX_SEQ = (1n << 64n) - 1n;

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const SEQ_RE = /^[1-9][0-9]{0,19}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export interface ObservedInput {
  /** Desired commit acted on (40 or 64 lowercase hex). */
  commit: string;
  /** Status commit sequence number, >= 1. */
  seq: bigint;
  /** Path -> `sha256:<hex>` of every other file of the status commit (see statusFileDigest). */
  files: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
}

export interface Observed {
  commit: string;
  seq: bigint;
  /** Path -> `sha256:<hex>`. */
  files: Map<string, string>;
}

/** `sha256:<lowercase hex>` of a status file's bytes, the form used in observed.json `files`. */
export function statusFileDigest(bytes: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

function invalid(message: string, data?: Record<string, unknown>): MargoError {
  return new MargoError('TRUST_STATUS_OBSERVED_INVALID', message, data ? { data } : {});
}

/** A status-branch path usable as a `files` key: relative, no `.`/`..` segment, not the two excluded files. */
function checkPath(path: string): void {
  if (
    path.length === 0 ||
    path.length > 1024 ||
    path.startsWith('/') ||
    path.endsWith('/') ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..') ||
    /[\u0000-\u001f\\]/.test(path)
  ) {
    throw invalid(`observed.json lists an invalid path`, { path: path.slice(0, 200) });
  }
  if (path === SIGNATURES_FILE || path === OBSERVED_FILE) {
    throw invalid(`observed.json must not list ${path}`, { path });
  }
}

function check(commit: unknown, seq: unknown, files: Iterable<[string, unknown]>): Observed {
  if (typeof commit !== 'string' || !COMMIT_RE.test(commit)) {
    throw invalid('observed.json "commit" is not a lowercase hex commit id');
  }
  if (typeof seq !== 'bigint' || seq < 1n || seq > OBSERVED_MAX_SEQ) {
    throw invalid('observed.json "seq" is not an integer in [1, 2^64-1]');
  }
  const out = new Map<string, string>();
  for (const [path, digest] of files) {
    checkPath(path);
    if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) {
      throw invalid('observed.json lists a file without a "sha256:<hex>" digest', { path });
    }
    out.set(path, digest);
  }
  return { commit, seq, files: out };
}

/**
 * The bytes of observed.json: stable (sorted `files`), pretty-printed like the other status files.
 * Throws TRUST_STATUS_OBSERVED_INVALID on an input parseObserved would refuse.
 */
export function buildObserved(input: ObservedInput): string {
  const entries =
    input.files instanceof Map
      ? [...(input.files as ReadonlyMap<string, string>).entries()]
      : Object.entries(input.files as Readonly<Record<string, string>>);
  const ok = check(input.commit, input.seq, entries);
  const files: Record<string, string> = {};
  for (const path of [...ok.files.keys()].sort()) files[path] = ok.files.get(path)!;
  return JSON.stringify({ commit: ok.commit, seq: ok.seq.toString(), files }, null, 2) + '\n';
}

/**
 * Parse observed.json bytes (after its signature was checked). Exactly the keys commit, seq, files;
 * throws MargoError TRUST_STATUS_OBSERVED_INVALID otherwise.
 */
export function parseObserved(bytes: Uint8Array | string): Observed {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > OBSERVED_MAX_BYTES) throw invalid('observed.json is too large', { size });
  let doc: unknown;
  try {
    doc = JSON.parse(
      typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes),
    );
  } catch {
    throw invalid('observed.json is not UTF-8 JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw invalid('observed.json is not a JSON object');
  }
  const rec = doc as Record<string, unknown>;
  const extra = Object.keys(rec).filter((k) => k !== 'commit' && k !== 'seq' && k !== 'files');
  if (extra.length > 0) throw invalid('observed.json has unknown keys', { keys: extra.slice(0, 10) });
  if (typeof rec.seq !== 'string' || !SEQ_RE.test(rec.seq)) {
    throw invalid('observed.json "seq" is not a decimal string without leading zeros');
  }
  const files = rec.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw invalid('observed.json "files" is not an object');
  }
  return check(rec.commit, BigInt(rec.seq), Object.entries(files as Record<string, unknown>));
}
