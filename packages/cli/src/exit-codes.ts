import { codeInfo, isMargoError, MargoError, toMargoError } from '@margo-gitops/spec';
import { paint } from './colour.js';
import type { Io } from './io.js';

/** The documented exit codes of `margo`. */
export const ExitCode = {
  Ok: 0,
  /** The command failed, or what it checked is invalid. */
  Failure: 1,
  /** Wrong or missing arguments. */
  Usage: 2,
  /** The thing named does not exist. */
  NotFound: 3,
  /** Authentication or permission refused. */
  Auth: 4,
  /** Conflict with what exists (already there, concurrent change). */
  Conflict: 5,
  /** A bug in margo-gitops. */
  Internal: 10,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Codes whose exit code is not derived from their name. */
const explicit: Record<string, ExitCode> = {
  USAGE_ERROR: ExitCode.Usage,
  CLI_NO_SERVER: ExitCode.Usage,
  CLI_AGENT_STATE_INVALID: ExitCode.Usage,
  INTERNAL_ERROR: ExitCode.Internal,
  CLI_NOT_AVAILABLE: ExitCode.Internal,
  CLI_AUTH_FAILED: ExitCode.Auth,
  CLI_DATA_DIR_EXISTS: ExitCode.Conflict,
  CLI_PUSH_CONFLICT: ExitCode.Conflict,
  CLI_NOTHING_TO_ROLLBACK: ExitCode.Failure,
  // What the orchestrator would refuse, checked by the CLI before it writes the fleet repository
  // (fleet-checks.ts): "what it checked is invalid", like every other refused change.
  ORCH_APP_NOT_FOUND: ExitCode.Failure,
  ORCH_VERSION_NOT_FOUND: ExitCode.Failure,
  ORCH_PARAMETER_UNKNOWN: ExitCode.Failure,
  ORCH_FLEET_UNKNOWN_DEPENDENCY: ExitCode.Failure,
};

/**
 * Maps an error code to an exit code: an explicit entry, else by the code's words
 * (`NOT_FOUND`/`UNKNOWN` -> 3, `AUTH`/`DENIED`/`FORBIDDEN`/`UNAUTHORI`/`PERMISSION`/`REVOKED` -> 4,
 * `EXISTS`/`CONFLICT`/`ALREADY` -> 5, `USAGE` -> 2), else 1.
 */
export function exitCodeFor(code: string): ExitCode {
  const e = explicit[code];
  if (e !== undefined) return e;
  if (/USAGE/.test(code)) return ExitCode.Usage;
  if (/NOT_FOUND|(^|_)UNKNOWN(_|$)/.test(code)) return ExitCode.NotFound;
  if (/AUTH|DENIED|FORBIDDEN|UNAUTHORI|PERMISSION|REVOKED/.test(code)) return ExitCode.Auth;
  if (/EXISTS|CONFLICT|ALREADY/.test(code)) return ExitCode.Conflict;
  return ExitCode.Failure;
}

/**
 * The one top-level error report: `error CODE: message`, then `hint: ...`. Anything that is not a
 * MargoError (or is INTERNAL_ERROR) is a bug and says so, with its stack when MARGO_DEBUG is set.
 * Returns the exit code.
 */
export function reportError(e: unknown, io: Io, opts: { debug?: boolean } = {}): ExitCode {
  const p = paint(io.color);
  const known = isMargoError(e) && codeInfo((e as MargoError).code) !== undefined;
  const err = known ? (e as MargoError) : toMargoError(e);
  const code = exitCodeFor(err.code);
  io.err(`${p.red(p.bold('error'))} ${err.code}: ${err.message}\n`);
  if (code === ExitCode.Internal && err.code === 'INTERNAL_ERROR') {
    io.err(
      `${p.yellow('hint:')} this is a bug in margo-gitops; please report it with the command you ran and this output.\n`,
    );
    const stack = (err.cause instanceof Error ? err.cause.stack : err.stack) ?? '';
    if (opts.debug) io.err(p.dim(stack) + '\n');
    else io.err(p.dim('(set MARGO_DEBUG=1 for the stack trace)') + '\n');
  } else if (err.hint) {
    io.err(`${p.yellow('hint:')} ${err.hint}\n`);
  }
  return code;
}
