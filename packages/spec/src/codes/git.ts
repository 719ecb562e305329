import type { CodeTable } from './types.js';

/** Stable error codes owned by the git area. Add entries; never rename or remove one. */
export const gitCodes = {
} as const satisfies CodeTable;
