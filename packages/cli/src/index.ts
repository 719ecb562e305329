export { main, defaultRunners, type MainOptions } from './main.js';
export { buildProgram, type Runners, type ProgramEnv } from './program.js';
export { defaultServices } from './wiring.js';
export { exitCodeFor, ExitCode, reportError } from './exit-codes.js';
export { renderErrorCodesDoc } from './gen-error-docs.js';
export type { Services, RunningServer, RunningAgent, Logger, TokenRole } from './services.js';
export type { Io } from './io.js';
