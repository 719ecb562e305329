import type { CodeTable } from './types.js';

/** Stable error codes owned by the agent area. Add entries; never rename or remove one. */
export const agentCodes = {
} as const satisfies CodeTable;
