import type { CodeTable } from './types.js';

/** Stable error codes owned by the validation area. Add entries; never rename or remove one. */
export const validationCodes = {
} as const satisfies CodeTable;
