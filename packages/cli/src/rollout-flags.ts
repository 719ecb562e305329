/**
 * `margo deploy` rollout flags -> the `rollout:` block of the deployment (docs/rollout.md). Pure.
 * The block is written as YAML the fleet parser reads (packages/spec/src/fleet/parse-rollout.ts);
 * ranges (percent 0 < p <= 100, counts >= 1, ...) are left to that parser's schema, so the CLI and
 * the orchestrator cannot disagree about them.
 */
import { MargoError } from '@margo-gitops/spec';

export interface RolloutFlags {
  /** `--canary DEVICE` (repeatable): a first wave `canary` of these devices. */
  canary?: string[];
  /** `--waves P1,P2,...`: percent waves of the targets not placed yet. */
  waves?: string;
  /** `--max-concurrent N`: devices of this deployment changing at once. */
  maxConcurrent?: string;
  /** `--health-seconds S`: every wave's gate (installed and healthy for S seconds). */
  healthSeconds?: string;
  /** `--manual-gate`: the canary wave (or the first wave) also needs `margo rollout promote`. */
  manualGate?: boolean;
  /** `--failure-threshold N|P%`. */
  failureThreshold?: string;
  /** `--on-failure pause|rollback`. */
  onFailure?: string;
}

/** `rollout:` as written to the fleet repository (before the parser fills in defaults). */
export interface RolloutDoc {
  maxConcurrent?: number;
  waves: {
    name?: string;
    devices?: string[];
    selector?: { matchLabels?: Record<string, string> };
    percent?: number;
    gate?: { healthySeconds?: number; manual?: boolean };
  }[];
  failureThreshold?: { count: number } | { percent: number };
  onFailure?: 'pause' | 'rollback';
}

/** True when any rollout flag is given. */
export function hasRolloutFlags(f: RolloutFlags): boolean {
  return Boolean(
    f.canary?.length ||
      f.waves !== undefined ||
      f.maxConcurrent !== undefined ||
      f.healthSeconds !== undefined ||
      f.manualGate ||
      f.failureThreshold !== undefined ||
      f.onFailure !== undefined,
  );
}

function number(v: string, flag: string, integer: boolean): number {
  const re = integer ? /^[0-9]{1,9}$/ : /^[0-9]{1,9}(\.[0-9]+)?$/;
  if (!re.test(v.trim()))
    throw new MargoError(
      'USAGE_ERROR',
      `${flag} expects ${integer ? 'a whole number' : 'a number'}, got "${v}"`,
      {
        hint: `e.g. ${flag} ${flag === '--waves' ? '10,50,100' : '5'}`,
      },
    );
  return Number(v.trim());
}

/**
 * The `rollout:` block the flags ask for: `undefined` when no flag is given (the caller keeps or
 * drops the existing block, see --reuse-values). Waves: `canary` (the --canary devices), then one
 * wave per --waves percentage; with neither, one wave of 100%. --health-seconds is every wave's
 * gate, --manual-gate the first wave's.
 *
 * @example
 * rolloutFromFlags({ canary: ['press-07'], waves: '25,100', healthSeconds: '600', manualGate: true });
 * // { waves: [{ name: 'canary', devices: ['press-07'], gate: { healthySeconds: 600, manual: true } },
 * //           { percent: 25, gate: { healthySeconds: 600 } }, { percent: 100, gate: { healthySeconds: 600 } }] }
 */
export function rolloutFromFlags(f: RolloutFlags): RolloutDoc | undefined {
  if (!hasRolloutFlags(f)) return undefined;
  const health =
    f.healthSeconds !== undefined ? number(f.healthSeconds, '--health-seconds', true) : undefined;
  const gate = (first: boolean) => {
    const g: { healthySeconds?: number; manual?: boolean } = {};
    if (health !== undefined) g.healthySeconds = health;
    if (first && f.manualGate) g.manual = true;
    return Object.keys(g).length ? { gate: g } : {};
  };
  const waves: RolloutDoc['waves'] = [];
  if (f.canary?.length) waves.push({ name: 'canary', devices: [...new Set(f.canary)], ...gate(true) });
  if (f.waves !== undefined) {
    const parts = f.waves.split(',').map((p) => p.trim().replace(/%$/, ''));
    if (parts.some((p) => p === ''))
      throw new MargoError(
        'USAGE_ERROR',
        `--waves expects percentages separated by commas, got "${f.waves}"`,
        {
          hint: 'e.g. --waves 10,50,100 (10% of the targets, then half of the rest, then all).',
        },
      );
    for (const p of parts) waves.push({ percent: number(p, '--waves', false), ...gate(waves.length === 0) });
  }
  if (!waves.length) waves.push({ percent: 100, ...gate(true) });
  const out: RolloutDoc = { waves };
  if (f.maxConcurrent !== undefined) out.maxConcurrent = number(f.maxConcurrent, '--max-concurrent', true);
  if (f.failureThreshold !== undefined) {
    const t = f.failureThreshold.trim();
    out.failureThreshold = t.endsWith('%')
      ? { percent: number(t.slice(0, -1), '--failure-threshold', false) }
      : { count: number(t, '--failure-threshold', true) };
  }
  if (f.onFailure !== undefined) {
    if (f.onFailure !== 'pause' && f.onFailure !== 'rollback')
      throw new MargoError('USAGE_ERROR', `--on-failure expects pause or rollback, got "${f.onFailure}"`);
    out.onFailure = f.onFailure;
  }
  return out;
}
