/** What a command may touch of the terminal: data goes to `out`, diagnostics to `err`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (tables may be wide, --watch may redraw). */
  outIsTTY: boolean;
  /** stderr is a terminal (progress may redraw in place). */
  errIsTTY: boolean;
  /** Colours allowed on stderr/stdout (off with NO_COLOR or when not a terminal). */
  color: boolean;
  /** Terminal width in columns (80 when unknown). */
  columns: number;
  /** Reads standard input to its end, at most `limit` bytes (a secret piped in: `--secret NAME=-`). */
  readStdin?(limit: number): Promise<Buffer>;
}

/** Builds the Io of the real process. Colours are off with NO_COLOR (any value) or without a TTY. */
export function processIo(env: NodeJS.ProcessEnv = process.env): Io {
  const outIsTTY = Boolean(process.stdout.isTTY);
  const errIsTTY = Boolean(process.stderr.isTTY);
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    outIsTTY,
    errIsTTY,
    color: colorAllowed(env, errIsTTY),
    columns: process.stdout.columns || 80,
    readStdin: async (limit) => {
      if (process.stdin.isTTY)
        process.stderr.write('(reading the value from the terminal; end with Ctrl-D)\n');
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of process.stdin) {
        chunks.push(c as Buffer);
        size += (c as Buffer).length;
        if (size >= limit) break;
      }
      return Buffer.concat(chunks).subarray(0, limit);
    },
  };
}

/** NO_COLOR (https://no-color.org) wins; FORCE_COLOR turns colours on; otherwise only on a TTY. */
export function colorAllowed(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

/** An Io that records everything, for tests. */
export function memoryIo(
  opts: Partial<Omit<Io, 'out' | 'err' | 'readStdin'>> & { stdin?: string } = {},
): Io & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  const { stdin, ...rest } = opts;
  return {
    out: (t) => void (o += t),
    err: (t) => void (e += t),
    outIsTTY: false,
    errIsTTY: false,
    color: false,
    columns: 100,
    ...(stdin !== undefined ? { readStdin: async () => Buffer.from(stdin) } : {}),
    ...rest,
    stdout: () => o,
    stderr: () => e,
  };
}
