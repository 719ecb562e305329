/**
 * Checks of rollout specs and maintenance windows that a JSON Schema does not express well
 * ("exactly one of", unique names across items, a real IANA time zone), and their normalisation.
 * Pure: positions come from the caller's `locate`, so findings carry file:line:col like every
 * other fleet finding.
 */
import type { Code } from '../codes/index.js';
import type { Finding, LabelMatchExpression } from '../model.js';
import type {
  FailureThreshold,
  MaintenanceWindow,
  RolloutSpec,
  RolloutWaveSpec,
  WeekDay,
} from './rollout-types.js';
import type { LabelSelector } from './types.js';

/** Source position of a JSON Pointer in the document being checked. */
export type Locate = (pointer: string) => { line?: number; column?: number };

/** A selector as parsed from YAML, with expression values as strings (YAML may give numbers). */
export function normaliseSelector(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelMatchExpression[];
}): LabelSelector {
  const out: LabelSelector = {};
  if (sel.matchLabels) out.matchLabels = { ...sel.matchLabels };
  if (sel.matchExpressions)
    out.matchExpressions = sel.matchExpressions.map((e) => ({
      ...e,
      ...(e.values ? { values: e.values.map(String) } : {}),
    }));
  return out;
}

const zoneCache = new Map<string, boolean>();
/** True when Intl knows `tz` as a time zone (IANA names, `UTC`). */
export function isKnownTimeZone(tz: string): boolean {
  let ok = zoneCache.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    zoneCache.set(tz, ok);
  }
  return ok;
}

function finder(locate: Locate, file: string | undefined) {
  return (code: Code, message: string, path: string): Finding => ({
    code,
    severity: 'error',
    message,
    path,
    ...(file ? { file } : {}),
    ...locate(path),
  });
}

/**
 * Normalises a schema-valid `rollout:` (found at JSON Pointer `at`, e.g. `/rollout`) and checks what
 * the schema cannot. Returns no value when there is an error.
 *
 * @example
 * normaliseRollout({ waves: [{ percent: 10 }, { percent: 100 }] }, '/rollout', () => ({})).value?.waves[0].name; // 'wave-1'
 */
export function normaliseRollout(
  raw: Record<string, any>,
  at: string,
  locate: Locate,
  file?: string,
): { value?: RolloutSpec; findings: Finding[] } {
  const find = finder(locate, file);
  const findings: Finding[] = [];
  const names = new Set<string>();
  const listed = new Map<string, number>();
  const waves: RolloutWaveSpec[] = [];
  (raw.waves as Record<string, any>[]).forEach((w, i) => {
    const path = `${at}/waves/${i}`;
    const ways = ['selector', 'devices', 'percent'].filter((k) => w[k] !== undefined);
    if (ways.length !== 1) {
      findings.push(
        find(
          'ROLLOUT_WAVE_INVALID',
          `wave ${i + 1} ${ways.length ? `names ${ways.join(' and ')}` : 'names no devices'}: give exactly one of selector, devices, percent`,
          path,
        ),
      );
    }
    const name = (w.name as string | undefined) ?? `wave-${i + 1}`;
    if (names.has(name)) {
      findings.push(
        find('ROLLOUT_WAVE_NAME_DUPLICATE', `wave name \`${name}\` is used twice`, `${path}/name`),
      );
    }
    names.add(name);
    for (const [j, d] of ((w.devices ?? []) as string[]).entries()) {
      const first = listed.get(d);
      if (first !== undefined) {
        findings.push(
          find(
            'ROLLOUT_WAVE_DEVICE_TWICE',
            `device ${d} is in wave ${first + 1} and wave ${i + 1}`,
            `${path}/devices/${j}`,
          ),
        );
      } else listed.set(d, i);
    }
    const wave: RolloutWaveSpec = {
      name,
      gate: { healthySeconds: w.gate?.healthySeconds ?? 0, manual: w.gate?.manual ?? false },
    };
    if (w.selector) wave.selector = normaliseSelector(w.selector);
    if (w.devices) wave.devices = [...w.devices];
    if (w.percent !== undefined) wave.percent = w.percent;
    waves.push(wave);
  });
  let failureThreshold: FailureThreshold = { count: 1 };
  if (raw.failureThreshold) {
    const t = raw.failureThreshold as { count?: number; percent?: number };
    if ((t.count === undefined) === (t.percent === undefined)) {
      findings.push(
        find(
          'ROLLOUT_THRESHOLD_INVALID',
          'failureThreshold: give exactly one of count, percent',
          `${at}/failureThreshold`,
        ),
      );
    } else failureThreshold = t.count !== undefined ? { count: t.count } : { percent: t.percent! };
  }
  if (findings.length) return { findings };
  const value: RolloutSpec = { waves, failureThreshold, onFailure: raw.onFailure ?? 'pause' };
  if (raw.maxConcurrent !== undefined) value.maxConcurrent = raw.maxConcurrent;
  return { value, findings };
}

/**
 * Normalises a schema-valid `windows/<name>.yaml` document and checks its time zone and slots.
 *
 * @example
 * normaliseWindow({ kind: 'MaintenanceWindow', name: 'nights', selector: {}, timeZone: 'UTC',
 *   schedule: [{ days: ['mon'], start: '22:00', end: '04:00' }] }, () => ({})).findings; // []
 */
export function normaliseWindow(
  raw: Record<string, any>,
  locate: Locate,
  file?: string,
): { value?: MaintenanceWindow; findings: Finding[] } {
  const find = finder(locate, file);
  const findings: Finding[] = [];
  if (!isKnownTimeZone(raw.timeZone)) {
    findings.push(
      find(
        'ROLLOUT_WINDOW_TIMEZONE_INVALID',
        `time zone \`${String(raw.timeZone)}\` is not known`,
        '/timeZone',
      ),
    );
  }
  (raw.schedule as { start: string; end: string }[]).forEach((s, i) => {
    if (s.start === s.end) {
      findings.push(
        find(
          'ROLLOUT_WINDOW_TIME_INVALID',
          `slot ${i + 1} starts and ends at ${s.start}`,
          `/schedule/${i}/end`,
        ),
      );
    }
  });
  if (findings.length) return { findings };
  const value: MaintenanceWindow = {
    kind: 'MaintenanceWindow',
    name: raw.name,
    selector: normaliseSelector(raw.selector),
    timeZone: raw.timeZone,
    schedule: (raw.schedule as { days: WeekDay[]; start: string; end: string }[]).map((s) => ({
      days: [...s.days],
      start: s.start,
      end: s.end,
    })),
  };
  if (typeof raw.description === 'string') value.description = raw.description;
  return { value, findings };
}
