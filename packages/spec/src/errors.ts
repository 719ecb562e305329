import { codeInfo, type Code } from './codes/index.js';

/** How the caller should react to a failure (the Flux idea): retry with backoff, later, or never (needs a human). */
export type Retry = 'backoff' | 'later' | 'never';

export interface MargoErrorOptions {
  /** What to do next, shown to people. Defaults to the hint registered for the code. */
  hint?: string;
  /** Secret-free structured details (paths, ids, counts). Never credentials. */
  data?: Record<string, unknown>;
  retry?: Retry;
  cause?: unknown;
}

/**
 * The one error base class of margo-gitops. `code` is a stable API (see codes/): it is what
 * appears in DeploymentStatus `error.code`, CLI output and logs.
 *
 * @example
 * throw new MargoError('GIT_AUTH_FAILED', 'the server refused the token for device-7');
 */
export class MargoError extends Error {
  readonly code: Code;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown> | undefined;
  readonly retry: Retry;

  constructor(code: Code, message: string, opts: MargoErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    const info = codeInfo(code);
    this.hint = opts.hint ?? info?.hint;
    this.data = opts.data;
    this.retry = opts.retry ?? info?.retry ?? 'never';
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.data ? { data: this.data } : {}),
      retry: this.retry,
    };
  }
}

/** True when `e` is a MargoError (also across duplicated module instances). */
export function isMargoError(e: unknown): e is MargoError {
  return (
    e instanceof MargoError ||
    (typeof e === 'object' &&
      e !== null &&
      typeof (e as { code?: unknown }).code === 'string' &&
      (e as { name?: unknown }).name !== undefined &&
      codeInfo((e as { code: string }).code) !== undefined)
  );
}

/** Wraps anything thrown into a MargoError, keeping the original as `cause`. */
export function toMargoError(e: unknown, fallback: Code = 'INTERNAL_ERROR'): MargoError {
  if (e instanceof MargoError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new MargoError(fallback, message, { cause: e });
}
