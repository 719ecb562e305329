import type { CodeTable } from './types.js';

/** Stable error codes owned by the orchestrator area. Add entries; never rename or remove one. */
export const orchestratorCodes = {
} as const satisfies CodeTable;
