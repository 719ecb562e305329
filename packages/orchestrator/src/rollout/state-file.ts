/**
 * The rollout state as a file of the fleet repository, `rollouts/<deployment>.json` (pure): its
 * path, its bytes (2-space JSON, keys in a stable order, trailing newline, so two writers of the
 * same state write the same bytes), and the checks a push of one gets.
 */
import { MargoError } from '@margo-gitops/spec';
import { parseRolloutState, type RolloutState } from './state.js';

/** Folder of the fleet repository holding one state file per rollout. */
export const ROLLOUTS_DIR = 'rollouts';

/** `rollouts/<deployment>.json`. */
export function rolloutStatePath(deployment: string): string {
  return `${ROLLOUTS_DIR}/${deployment}.json`;
}

/** The deployment a path `rollouts/<name>.json` is the state of; undefined for other paths. */
export function rolloutNameOf(path: string): string | undefined {
  const m = /^rollouts\/(.+)\.json$/.exec(path);
  return m ? m[1] : undefined;
}

// Keys first in this order where they appear (the order of RolloutState and its parts), others after, sorted.
const KEY_ORDER = [
  'schema',
  'deployment',
  'from',
  'to',
  'fromVersion',
  'toVersion',
  'fromBlob',
  'toBlob',
  'name',
  'wave',
  'status',
  'reason',
  'since',
  'at',
  'by',
  'error',
  'maxConcurrent',
  'failureThreshold',
  'onFailure',
  'phase',
  'current',
  'gate',
  'waves',
  'devices',
  'acceptedFailures',
  'pause',
  'rollback',
  'promotedAt',
  'promotedBy',
  'passedAt',
  'startedAt',
  'finishedAt',
];
const RANK = new Map(KEY_ORDER.map((k, i) => [k, i]));

function byRank(a: string, b: string): number {
  const ra = RANK.get(a) ?? KEY_ORDER.length;
  const rb = RANK.get(b) ?? KEY_ORDER.length;
  return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
}

function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v));
  if (!value || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src).sort(byRank)) {
    if (src[k] === undefined) continue;
    // The device map is keyed by device id: ids sorted, each entry in the usual order.
    out[k] =
      k === 'devices' && !Array.isArray(src[k])
        ? Object.fromEntries(
            Object.keys(src[k] as object)
              .sort()
              .map((id) => [id, ordered((src[k] as Record<string, unknown>)[id])]),
          )
        : ordered(src[k]);
  }
  return out;
}

/** The bytes of a state file: stable key order, 2-space indent, trailing newline. */
export function formatRolloutState(state: RolloutState): string {
  return JSON.stringify(ordered(state), null, 2) + '\n';
}

/** Line and column (1-based) of a character offset. */
function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/**
 * Reads a state file's text: JSON that parseRolloutState accepts, for the deployment the file is
 * named after when `file` is given. Throws ROLLOUT_STATE_INVALID (JSON syntax errors with the
 * line and column in `data`) or ORCH_FLEET_NAME_MISMATCH.
 */
export function readRolloutState(text: string, file?: string): RolloutState {
  const where = file ? `${file}: ` : '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    const at = pos ? lineCol(text, Number(pos[1])) : { line: 1, column: 1 };
    throw new MargoError('ROLLOUT_STATE_INVALID', `${where}rollout state: not JSON (${msg})`, {
      data: { ...(file ? { file } : {}), ...at },
    });
  }
  let state: RolloutState;
  try {
    state = parseRolloutState(value);
  } catch (e) {
    if (!(e instanceof MargoError)) throw e;
    throw new MargoError(e.code, `${where}${e.message}`, {
      data: { ...(file ? { file } : {}), line: 1, column: 1 },
    });
  }
  const named = file ? rolloutNameOf(file) : undefined;
  if (file && named !== state.deployment) {
    const i = text.indexOf('"deployment"');
    throw new MargoError(
      'ORCH_FLEET_NAME_MISMATCH',
      `${where}the state of rollout ${JSON.stringify(state.deployment)} must be in ${rolloutStatePath(state.deployment)}`,
      { data: { file, ...(i >= 0 ? lineCol(text, i) : { line: 1, column: 1 }) } },
    );
  }
  return state;
}

/** One problem of a pushed state file, `file:line:col CODE message`. */
export interface RolloutFileFinding {
  code: string;
  message: string;
  file: string;
  line: number;
  column: number;
}

/**
 * The check a push to the fleet repository gets for each added or changed `rollouts/*.json`:
 * empty when the file is a state the orchestrator can read for the deployment it is named after.
 */
export function checkRolloutFile(file: string, text: string): RolloutFileFinding[] {
  try {
    readRolloutState(text, file);
    return [];
  } catch (e) {
    if (!(e instanceof MargoError)) throw e;
    const d = (e.data ?? {}) as { line?: number; column?: number };
    const prefix = `${file}: `;
    return [
      {
        code: e.code,
        message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message,
        file,
        line: d.line ?? 1,
        column: d.column ?? 1,
      },
    ];
  }
}
