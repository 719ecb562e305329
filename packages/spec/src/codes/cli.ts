import type { CodeTable } from './types.js';

/** Stable error codes owned by the cli area. Add entries; never rename or remove one. */
export const cliCodes = {
} as const satisfies CodeTable;
