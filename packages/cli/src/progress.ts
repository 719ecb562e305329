import { paint } from './colour.js';
import type { Io } from './io.js';

export type TaskState = 'running' | 'done' | 'failed' | 'skipped';

export interface Task {
  /** Changes the detail shown after the title (e.g. `installing (2/3)`). */
  update(detail: string): void;
  done(detail?: string): void;
  fail(detail?: string): void;
  skip(detail?: string): void;
}

export interface Progress {
  task(title: string): Task;
  /** A free line of information (printed above the live list on a TTY). */
  note(text: string): void;
  /** Stops redrawing; leaves the final list on screen. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Progress on stderr: a live task list redrawn in place on a TTY, plain lines otherwise
 * (`title...`, `ok title: detail`), so logs and CI stay readable.
 *
 * @example
 * const pr = createProgress(io); const t = pr.task('clone catalog'); ...; t.done();
 */
export function createProgress(io: Io, opts: { live?: boolean; intervalMs?: number } = {}): Progress {
  const live = opts.live ?? io.errIsTTY;
  return live ? liveProgress(io, opts.intervalMs ?? 100) : plainProgress(io);
}

function plainProgress(io: Io): Progress {
  const p = paint(io.color);
  const mark = { done: p.green('ok'), failed: p.red('FAILED'), skipped: p.dim('skipped') } as const;
  return {
    task(title) {
      io.err(`${title}...\n`);
      let last = '';
      let ended = false;
      const end = (s: 'done' | 'failed' | 'skipped', detail?: string) => {
        if (ended) return;
        ended = true;
        io.err(`${mark[s]} ${title}${detail ? `: ${detail}` : ''}\n`);
      };
      return {
        update(detail) {
          if (detail === last || ended) return;
          last = detail;
          io.err(`  ${title}: ${detail}\n`);
        },
        done: (d) => end('done', d),
        fail: (d) => end('failed', d),
        skip: (d) => end('skipped', d),
      };
    },
    note: (text) => io.err(text + '\n'),
    stop() {},
  };
}

function liveProgress(io: Io, intervalMs: number): Progress {
  const p = paint(io.color);
  const tasks: { title: string; detail: string; state: TaskState }[] = [];
  let drawn = 0;
  let frame = 0;
  let stopped = false;
  const icon = (s: TaskState) =>
    s === 'running'
      ? p.cyan(FRAMES[frame % FRAMES.length]!)
      : s === 'done'
        ? p.green('✔')
        : s === 'failed'
          ? p.red('✖')
          : p.dim('–');
  const draw = () => {
    let s = drawn > 0 ? `\u001b[${drawn}A` : '';
    for (const t of tasks)
      s += `\u001b[2K${icon(t.state)} ${t.title}${t.detail ? p.dim(` ${t.detail}`) : ''}\n`;
    drawn = tasks.length;
    io.err(s);
  };
  const timer = setInterval(() => {
    frame++;
    if (tasks.some((t) => t.state === 'running')) draw();
  }, intervalMs);
  timer.unref();
  return {
    task(title) {
      const t = { title, detail: '', state: 'running' as TaskState };
      tasks.push(t);
      draw();
      const set = (state: TaskState, detail?: string) => {
        if (t.state !== 'running') return;
        t.state = state;
        if (detail !== undefined) t.detail = detail;
        if (!stopped) draw();
      };
      return {
        update(detail) {
          if (t.state !== 'running') return;
          t.detail = detail;
          if (!stopped) draw();
        },
        done: (d) => set('done', d),
        fail: (d) => set('failed', d),
        skip: (d) => set('skipped', d),
      };
    },
    note(text) {
      // Print above the list: clear it, print, redraw.
      let s = drawn > 0 ? `\u001b[${drawn}A` : '';
      for (let i = 0; i < drawn; i++) s += '\u001b[2K\n';
      s += drawn > 0 ? `\u001b[${drawn}A` : '';
      io.err(s + text + '\n');
      drawn = 0;
      if (!stopped) draw();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      draw();
    },
  };
}
