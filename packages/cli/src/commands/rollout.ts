import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  abortRollout,
  formatRolloutState,
  pauseRollout,
  promoteWave,
  readRolloutState,
  resumeRollout,
  rolloutOverview,
  rolloutStatePath,
  summariseRollout,
  ROLLOUTS_DIR,
  type RolloutOverview,
  type RolloutState,
} from '@margo-gitops/orchestrator';
import { MargoError } from '@margo-gitops/spec';
import type { Connection } from '../client-config.js';
import type { CommandDeps } from '../context.js';
import { checkDeploymentName } from '../fleet-docs.js';
import { checkout, commitChange, type Checkout, type CommitAuthor } from '../git-remote.js';
import { formatOutput, type OutputFormat } from '../output.js';
import {
  renderRollout,
  renderRolloutList,
  type RolloutDisplay,
  type RolloutListDisplay,
} from '../rollout-render.js';
import { fetchRolloutsHttp } from '../status-client.js';
import { redrawUntilStopped } from '../watch.js';

export type RolloutAction = 'status' | 'pause' | 'resume' | 'promote' | 'abort';

export interface RolloutOptions {
  action: RolloutAction;
  /** The rollout (= deployment) name; optional for `status` only. */
  name?: string;
  /** `promote --wave W`: approve a later wave ahead. */
  wave?: string;
  output: OutputFormat;
  watch?: boolean;
  /** Seconds between redraws with --watch. */
  interval?: number;
}

/** What `margo rollout pause|resume|promote|abort` committed (json/yaml print this). */
export interface RolloutChangeResult {
  name: string;
  action: Exclude<RolloutAction, 'status'>;
  /** Phase after the change. */
  phase: RolloutState['phase'];
  wave?: string;
  by: string;
  commit: string | null;
  file: string;
}

function notFound(name: string): MargoError {
  return new MargoError('CLI_ROLLOUT_NOT_FOUND', `no rollout "${name}" in the fleet repository`, {
    data: { name, file: rolloutStatePath(name) },
  });
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The person a commit of this checkout is attributed to (its author name, without the ` (margo cli)` tag). */
async function authorOf(co: Checkout): Promise<string> {
  const ident = (await co.git(['var', 'GIT_AUTHOR_IDENT'])).stdout.trim();
  const name = ident.replace(/\s*<.*$/, '').replace(/ \(margo cli\)$/, '');
  return name || 'unknown';
}

/** Reads one state file or all of them at the head of the fleet repository (no live view). */
async function readFleetRollouts(
  conn: Connection,
  name: string | undefined,
  warn: (text: string) => void,
): Promise<{ commit: string; states: RolloutState[] }> {
  const co = await checkout(conn, 'fleet', { depth: 1 });
  try {
    const commit = (await co.git(['rev-parse', 'HEAD'])).stdout.trim();
    const files = name
      ? [rolloutStatePath(name)]
      : (await readdir(join(co.dir, ROLLOUTS_DIR)).catch(() => [] as string[]))
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => `${ROLLOUTS_DIR}/${f}`);
    const states: RolloutState[] = [];
    for (const file of files) {
      const text = await readText(join(co.dir, file));
      if (text === undefined) throw notFound(name!);
      try {
        states.push(readRolloutState(text, file));
      } catch (e) {
        if (name || !(e instanceof MargoError)) throw e;
        warn(`warning: ${file} left out: ${e.code} ${e.message}\n`);
      }
    }
    return { commit, states };
  } finally {
    await co.cleanup();
  }
}

/** One rollout: the server's live view, else the state file with summariseRollout (no waiting reasons). */
export async function loadRollout(conn: Connection, name: string): Promise<RolloutDisplay> {
  const live = await fetchRolloutsHttp(conn, name);
  if (live.live) {
    const v = live.body.rollout as Omit<RolloutDisplay, 'live' | 'summary'> & {
      summary?: RolloutDisplay['summary'];
    };
    const waiting = v.waiting ?? [];
    return {
      ...v,
      name: v.name ?? name,
      live: true,
      waiting,
      summary: v.summary ?? summariseRollout(v.state, { waiting, ...(v.gate ? { gate: v.gate } : {}) }),
    };
  }
  const { commit, states } = await readFleetRollouts(conn, name, () => {});
  const state = states[0]!;
  return {
    name,
    live: false,
    unavailable: live.why,
    commit,
    state,
    summary: summariseRollout(state),
    waiting: [],
  };
}

/** Every rollout: the server's list, else one overview per state file. */
export async function loadRolloutList(
  conn: Connection,
  warn: (text: string) => void,
): Promise<RolloutListDisplay> {
  const live = await fetchRolloutsHttp(conn);
  if (live.live) return { live: true, rollouts: live.body.rollouts as RolloutOverview[] };
  const { commit, states } = await readFleetRollouts(conn, undefined, warn);
  return {
    live: false,
    unavailable: live.why,
    rollouts: states.map((s) => rolloutOverview(s, { commit })),
  };
}

async function status(opts: RolloutOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  const warn = (t: string) => deps.io.err(t);
  const draw = async () =>
    opts.name
      ? formatOutput(await loadRollout(conn, opts.name), opts.output, (d) => renderRollout(d, deps.io.color))
      : formatOutput(await loadRolloutList(conn, warn), opts.output, (l) =>
          renderRolloutList(l, deps.io.color),
        );
  if (!opts.watch) {
    deps.io.out(await draw());
    return 0;
  }
  await redrawUntilStopped(
    deps,
    { output: opts.output, interval: opts.interval, what: 'rollout status' },
    draw,
  );
  return 0;
}

const PAST: Record<RolloutChangeResult['action'], string> = {
  pause: 'paused',
  resume: 'resumed',
  promote: 'promoted',
  abort: 'aborted',
};

/**
 * `margo rollout pause|resume|promote|abort NAME`: ONE commit to rollouts/<name>.json applying the
 * operator decision (the orchestrator's own pure transition) to the state at the head of fleet
 * `main`; after a lost race it is applied again to the new head's state, so it never overwrites a
 * step the orchestrator committed meanwhile.
 */
async function change(opts: RolloutOptions, deps: CommandDeps): Promise<number> {
  const { result, after } = await changeRollout(await deps.connect(), {
    name: opts.name!,
    action: opts.action as RolloutChangeResult['action'],
    ...(opts.wave ? { wave: opts.wave } : {}),
  });
  deps.io.out(formatOutput(result, opts.output, (r) => changeText(r, after)));
  return 0;
}

/**
 * The commit behind `margo rollout pause|resume|promote|abort NAME` (shared with the console):
 * `author` and `trailers` name who made it when it is not the local user.
 */
export async function changeRollout(
  conn: Connection,
  req: {
    name: string;
    action: RolloutChangeResult['action'];
    wave?: string;
    author?: CommitAuthor;
    trailers?: string[];
  },
): Promise<{ result: RolloutChangeResult; after: RolloutState }> {
  const { name, action } = req;
  const file = rolloutStatePath(name);
  let by = '';
  let after!: RolloutState;
  let wave: string | undefined;
  const message = () => {
    const what = action === 'promote' ? `wave ${wave} promoted by ${by}` : `${PAST[action]} by ${by}`;
    return (
      `rollout ${name}: ${what}\n\n` +
      `Margo-Rollout: ${name}\nMargo-Rollout-Phase: ${after.phase}\n` +
      (action === 'promote' ? `Margo-Rollout-Wave: ${wave}\n` : '') +
      (req.trailers?.length ? `${req.trailers.join('\n')}\n` : '')
    );
  };
  const res = await commitChange(
    conn,
    'fleet',
    message,
    async (co) => {
      const text = await readText(join(co.dir, file));
      if (text === undefined) throw notFound(name);
      const state = readRolloutState(text, file);
      by ||= await authorOf(co);
      const now = Date.now();
      if (action === 'pause') after = pauseRollout(state, now, by);
      else if (action === 'resume') after = resumeRollout(state, now, by);
      else if (action === 'abort') after = abortRollout(state, now, by);
      else {
        after = promoteWave(state, now, by, req.wave);
        wave = req.wave ?? state.waves[state.current]?.name;
      }
      await writeFile(join(co.dir, file), formatRolloutState(after));
    },
    req.author ? { author: req.author } : {},
  );
  const out: RolloutChangeResult = {
    name,
    action,
    phase: after.phase,
    ...(wave ? { wave } : {}),
    by,
    commit: res.commit ?? null,
    file,
  };
  return { result: out, after };
}

function changeText(r: RolloutChangeResult, s: RolloutState): string {
  const at = r.commit ? ` (commit ${r.commit.slice(0, 12)} to ${r.file})` : ' (nothing to commit)';
  const head =
    r.action === 'promote'
      ? `rollout ${r.name}: wave ${r.wave} promoted by ${r.by}`
      : `rollout ${r.name} ${PAST[r.action]} by ${r.by}`;
  const w = s.waves.find((x) => x.name === r.wave);
  const then =
    r.action === 'pause'
      ? 'no new device is told; devices already told finish'
      : r.action === 'resume'
        ? `waves advance again; the ${s.acceptedFailures} failure(s) so far are accepted, the threshold counts new ones`
        : r.action === 'abort'
          ? `every device already told goes back to ${s.from ?? 'nothing (the deployment is removed from them)'}`
          : w?.gate.healthySeconds
            ? `its devices must still be healthy for ${w.gate.healthySeconds}s before the next wave`
            : 'the next wave starts once its devices are installed';
  return `${head}${at}\n${then}\nfollow it with: margo rollout status ${r.name} --watch\n`;
}

/** `margo rollout status [NAME] [--watch]` and `margo rollout pause|resume|promote|abort NAME`. */
export async function run(opts: RolloutOptions, deps: CommandDeps): Promise<number> {
  if (opts.name !== undefined) {
    try {
      checkDeploymentName(opts.name);
    } catch {
      throw new MargoError('USAGE_ERROR', `"${opts.name}" is not a valid rollout name`, {
        hint: 'A rollout is named after its deployment: `margo rollout status` lists them.',
      });
    }
  }
  if (opts.action === 'status') return status(opts, deps);
  if (opts.name === undefined)
    throw new MargoError('USAGE_ERROR', `rollout ${opts.action} needs a rollout name`);
  return change(opts, deps);
}
