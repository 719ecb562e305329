import { stat, readFile } from 'node:fs/promises';
import { MargoError } from '@margo-gitops/spec';

/** Where the enrolment string may come from (first start only). */
export interface EnrolmentInput {
  /** `--token STRING`: visible to every user in `ps` while the agent enrols; warned about. */
  token?: string;
  /** `--token-file PATH`, or `-` for standard input. */
  tokenFile?: string;
}

export interface EnrolmentInputIo {
  /** Reads standard input to its end (for `--token-file -`). */
  readStdin(): Promise<string>;
  warn(msg: string, fields?: Record<string, unknown>): void;
  env: NodeJS.ProcessEnv;
}

/** Set to 1 to refuse an enrolment string given on the command line instead of warning. */
export const REFUSE_ARGV_TOKEN_ENV = 'MARGO_AGENT_REFUSE_ARGV_TOKEN';
const MAX_BYTES = 4096;

function firstLine(text: string, from: string): string {
  if (Buffer.byteLength(text) > MAX_BYTES)
    throw new MargoError(
      'USAGE_ERROR',
      `${from} is larger than ${MAX_BYTES} bytes; it should hold one enrolment string`,
    );
  const line = text
    .split(/\r?\n/)
    .find((l) => l.trim() !== '')
    ?.trim();
  if (!line) throw new MargoError('USAGE_ERROR', `${from} holds no enrolment string`);
  return line;
}

/**
 * The enrolment string from `--token-file` (a file or `-` for standard input) or `--token`. Only
 * called when the device is not enrolled yet, so a later start never waits on standard input.
 * A string on the command line is readable by every local user through `ps` and
 * /proc/<pid>/cmdline: it is warned about, or refused when MARGO_AGENT_REFUSE_ARGV_TOKEN=1.
 * A token file readable by group or others is warned about.
 *
 * @example
 * const s = await readEnrolmentString({ tokenFile: '-' }, { readStdin, warn, env: process.env });
 */
export async function readEnrolmentString(
  input: EnrolmentInput,
  io: EnrolmentInputIo,
): Promise<string | undefined> {
  if (input.token !== undefined && input.tokenFile !== undefined)
    throw new MargoError('USAGE_ERROR', 'give the enrolment string with --token or --token-file, not both');
  if (input.tokenFile === '-') return firstLine(await io.readStdin(), 'standard input');
  if (input.tokenFile !== undefined) {
    let text: string;
    try {
      const st = await stat(input.tokenFile);
      if (st.mode & 0o077)
        io.warn('the enrolment token file is readable by other users; chmod 600 it', {
          file: input.tokenFile,
        });
      text = await readFile(input.tokenFile, 'utf8');
    } catch (e) {
      throw new MargoError(
        'USAGE_ERROR',
        `cannot read the enrolment token file ${input.tokenFile}: ${(e as Error).message}`,
      );
    }
    return firstLine(text, input.tokenFile);
  }
  if (input.token === undefined) return undefined;
  if (io.env[REFUSE_ARGV_TOKEN_ENV] === '1') {
    throw new MargoError('USAGE_ERROR', 'an enrolment string on the command line is refused here', {
      hint: `Other users can read a command line (ps). Pass it with --token-file PATH or --token-file - (standard input), or unset ${REFUSE_ARGV_TOKEN_ENV}.`,
    });
  }
  io.warn(
    'the enrolment string on the command line is visible to other users (ps); prefer --token-file PATH or --token-file -',
  );
  return input.token;
}

/** Reads a whole stream as UTF-8 (for readStdin), at most 4 KiB. */
export async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    size += b.length;
    chunks.push(b);
    if (size > MAX_BYTES) break; // firstLine refuses it
  }
  return Buffer.concat(chunks).toString('utf8');
}
