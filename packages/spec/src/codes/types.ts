import type { Retry } from '../errors.js';

export interface CodeInfo {
  /** One sentence: what went wrong. */
  summary: string;
  /** What a person should do next. */
  hint?: string;
  /** Default retry behaviour for errors with this code. */
  retry?: Retry;
}

/** A table of stable codes. Codes are API: add, never rename or remove. */
export type CodeTable = Record<string, CodeInfo>;
