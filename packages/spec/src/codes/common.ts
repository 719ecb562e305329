import type { CodeTable } from './types.js';

/** Stable error codes shared by every area. Add entries; never rename or remove one. */
export const commonCodes = {
  INTERNAL_ERROR: {
    summary: 'An unexpected internal error (a bug in margo-gitops).',
    hint: 'Please report it with the log lines around it.',
    retry: 'backoff',
  },
  USAGE_ERROR: { summary: 'A command was called with wrong or missing arguments.', hint: 'See --help.' },
  IO_ERROR: { summary: 'A file could not be read or written.', retry: 'backoff' },
} as const satisfies CodeTable;
