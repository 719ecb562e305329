import type { CodeTable } from './types.js';

/** Stable error codes owned by the trust area. Add entries; never rename or remove one. */
export const trustCodes = {
} as const satisfies CodeTable;
