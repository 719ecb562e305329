import { agentCodes } from './agent.js';
import { apiCodes } from './api.js';
import { cliCodes } from './cli.js';
import { commonCodes } from './common.js';
import { consoleCodes } from './console.js';
import { gitCodes } from './git.js';
import { ociCodes } from './oci.js';
import { orchestratorCodes } from './orchestrator.js';
import { rolloutCodes } from './rollout.js';
import { trustCodes } from './trust.js';
import type { CodeInfo } from './types.js';
import { validationCodes } from './validation.js';

export type { CodeInfo, CodeTable } from './types.js';

/** Every stable error code of margo-gitops, by area. The docs' error reference is generated from this. */
export const codeAreas = {
  common: commonCodes,
  validation: validationCodes,
  git: gitCodes,
  oci: ociCodes,
  orchestrator: orchestratorCodes,
  rollout: rolloutCodes,
  agent: agentCodes,
  trust: trustCodes,
  cli: cliCodes,
  api: apiCodes,
  console: consoleCodes,
} as const;

type Areas = typeof codeAreas;
export type Code = { [A in keyof Areas]: keyof Areas[A] }[keyof Areas] & string;

const all = new Map<string, CodeInfo>();
for (const table of Object.values(codeAreas)) {
  for (const [code, info] of Object.entries(table)) {
    if (all.has(code)) throw new Error(`duplicate error code ${code}`);
    all.set(code, info);
  }
}

/** Registered information for a code, or undefined for an unknown code. */
export function codeInfo(code: string): CodeInfo | undefined {
  return all.get(code);
}

/** All codes, sorted, with their area. */
export function allCodes(): { code: string; area: string; info: CodeInfo }[] {
  const out: { code: string; area: string; info: CodeInfo }[] = [];
  for (const [area, table] of Object.entries(codeAreas)) {
    for (const [code, info] of Object.entries(table)) out.push({ code, area, info });
  }
  return out.sort((a, b) => a.code.localeCompare(b.code));
}
