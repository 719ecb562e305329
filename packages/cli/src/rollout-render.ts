/**
 * Text views of rollouts for `margo rollout status` (pure): one rollout wave by wave with its
 * waiting and failed devices, or one line per rollout.
 */
import type {
  DeviceRolloutStatus,
  RolloutOverview,
  RolloutState,
  RolloutSummary,
  StepResult,
  WaveSummary,
} from '@margo-gitops/orchestrator';
import { paint, type Paint } from './colour.js';
import { renderTable } from './output.js';

/** One rollout as `margo rollout status NAME` shows it (json/yaml print this object). */
export interface RolloutDisplay {
  name: string;
  /** True when it comes from the server's live view; false: read from the fleet repository. */
  live: boolean;
  /** Why there is no live view (live: false). */
  unavailable?: string;
  commit: string | null;
  state: RolloutState;
  summary: RolloutSummary;
  waiting: StepResult['waiting'];
  gate?: StepResult['gate'];
  wakeAt?: number;
}

/** The list `margo rollout status` shows. */
export interface RolloutListDisplay {
  live: boolean;
  unavailable?: string;
  rollouts: RolloutOverview[];
}

const ORDER: DeviceRolloutStatus[] = [
  'healthy',
  'changing',
  'waiting',
  'failed',
  'reverting',
  'reverted',
  'revertFailed',
];

function phaseColour(p: Paint, phase: RolloutState['phase']): string {
  if (phase === 'done') return p.green(phase);
  if (phase === 'paused') return p.yellow(phase);
  if (phase === 'rollingBack' || phase === 'rolledBack') return p.red(phase);
  return phase;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
const short = (s: string | null | undefined) => (s ? s.slice(0, 12) : '-');

/** `healthy 3, changing 2`: device counts in a fixed order, zeros left out. */
export function countsText(counts: Partial<Record<DeviceRolloutStatus, number>>): string {
  return (
    ORDER.filter((s) => counts[s])
      .map((s) => `${s} ${counts[s]}`)
      .join(', ') || '-'
  );
}

function gateText(w: WaveSummary): string {
  const parts = [
    ...(w.gate.manual ? ['promote'] : []),
    ...(w.gate.healthySeconds ? [`healthy ${w.gate.healthySeconds}s`] : []),
  ];
  return parts.join(' + ') || '-';
}

/** done / in progress / waiting for gate (health until T, promote) / later. */
export function waveProgress(w: WaveSummary, phase: RolloutState['phase'], name: string): string {
  if (w.progress === 'passed') return `done${w.passedAt ? ` ${w.passedAt.replace(/\.000Z$/, 'Z')}` : ''}`;
  if (w.progress === 'later') return w.promotedAt ? 'later (promoted ahead)' : 'later';
  if (phase === 'rollingBack' || phase === 'rolledBack') return 'stopped (rolling back)';
  if (phase === 'paused') return 'paused';
  if (w.gateWaitsFor === 'health')
    return `waiting for gate (health until ${w.gateUntil ? w.gateUntil.replace(/\.000Z$/, 'Z') : '?'})`;
  if (w.gateWaitsFor === 'promote') return `waiting for gate (promote: margo rollout promote ${name})`;
  return 'in progress';
}

function who(x: { at: string; by?: string; reason: string }): string {
  return `${x.by ? `by ${x.by} ` : ''}at ${x.at.replace(/\.000Z$/, 'Z')} (${x.reason})`;
}

function waitingText(w: StepResult['waiting'][number]): string {
  if (w.reason === 'window')
    return `maintenance window (opens ${w.until !== undefined ? iso(w.until) : '?'})`;
  if (w.reason === 'hold') return `on-site hold: ${w.hold ?? '(no reason given)'}`;
  return 'cap (too many devices changing at once)';
}

/** At most this many devices are listed per section; the rest are counted. */
const LIST_LIMIT = 20;

function limited<T>(items: readonly T[], line: (x: T) => string): string {
  const shown = items.slice(0, LIST_LIMIT).map((x) => `  ${line(x)}\n`);
  if (items.length > LIST_LIMIT)
    shown.push(`  ... and ${items.length - LIST_LIMIT} more (-o json lists all)\n`);
  return shown.join('');
}

/** `margo rollout status NAME` as text. */
export function renderRollout(d: RolloutDisplay, color: boolean): string {
  const p = paint(color);
  const s = d.summary;
  const st = d.state;
  const versions =
    st.fromVersion || st.toVersion ? ` (version ${st.fromVersion ?? '-'} -> ${st.toVersion ?? '-'})` : '';
  const lines = [
    `rollout ${p.bold(d.name)}  ${phaseColour(p, s.phase)}  (fleet commit ${short(d.commit)})`,
    `  revision ${s.from ?? '(none: first installation)'} -> ${s.to}${versions}`,
    `  started ${st.startedAt.replace(/\.000Z$/, 'Z')}${st.finishedAt ? `, finished ${st.finishedAt.replace(/\.000Z$/, 'Z')}` : ''}; failures ${s.failures} (stops at ${s.failureLimit + s.acceptedFailures}${s.acceptedFailures ? `, ${s.acceptedFailures} accepted on resume` : ''})`,
  ];
  if (s.pause) lines.push(`  paused ${who(s.pause)}`);
  if (s.rollback)
    lines.push(
      `  ${s.phase === 'rolledBack' ? 'rolled back' : 'rolling back'} ${who(s.rollback)}: devices told go back to ${s.from ?? 'nothing (the deployment is removed)'}`,
    );
  if (d.wakeAt !== undefined) lines.push(`  next look on its own: ${iso(d.wakeAt)}`);
  let out = lines.join('\n') + '\n\n';
  out += renderTable(s.waves, [
    { header: 'wave', get: (w) => w.name },
    { header: 'status', get: (w) => waveProgress(w, s.phase, d.name) },
    { header: 'gate', get: gateText },
    { header: 'devices', get: (w) => w.devices },
    { header: 'by status', get: (w) => countsText(w.counts) },
  ]);
  if (d.waiting.length) {
    out += `\n${p.yellow('devices waiting')}\n`;
    out += limited(d.waiting, (w) => `${w.deviceId}  ${waitingText(w)}`);
  }
  const failed = s.waves.flatMap((w) => w.failed.map((f) => ({ ...f, wave: w.name })));
  if (failed.length) {
    out += `\n${p.red('failed devices')}\n`;
    out += limited(
      failed,
      (f) =>
        `${f.deviceId}  (wave ${f.wave}, ${st.devices[f.deviceId]?.status ?? 'failed'})  ${f.error || '(no error reported)'}`,
    );
  }
  if (!d.live)
    out += `\n${p.dim(`live view unavailable (${d.unavailable ?? 'unknown reason'}); shown from rollouts/${d.name}.json`)}\n`;
  return out;
}

/** `margo rollout status` (no name) as text. */
export function renderRolloutList(l: RolloutListDisplay, color: boolean): string {
  const p = paint(color);
  let out = renderTable(
    l.rollouts,
    [
      { header: 'rollout', get: (r) => r.name },
      { header: 'phase', get: (r) => phaseColour(p, r.phase) },
      { header: 'wave', get: (r) => r.wave ?? '(all passed)' },
      { header: 'waves done', get: (r) => `${r.wavesPassed}/${r.waves}` },
      { header: 'healthy', get: (r) => `${r.counts.healthy ?? 0}/${r.total}` },
      { header: 'failed', get: (r) => r.failures },
      { header: 'waiting', get: (r) => r.waiting },
      { header: 'next look', get: (r) => r.wakeAt?.replace(/\.000Z$/, 'Z') },
    ],
    { empty: 'no rollouts (a rollout starts when a deployment with `rollout:` changes)' },
  );
  if (!l.live)
    out += `${p.dim(`live view unavailable (${l.unavailable ?? 'unknown reason'}); shown from the fleet repository`)}\n`;
  return out;
}
