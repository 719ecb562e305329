import type { Connection, ConnectionFlags } from './client-config.js';
import { requireConnection } from './client-config.js';
import type { Io } from './io.js';
import type { Services } from './services.js';

/** What every command's `run(opts, deps)` receives besides its options. */
export interface CommandDeps {
  io: Io;
  env: NodeJS.ProcessEnv;
  cwd: string;
  services: Services;
  /** Resolves the server connection (flags > env > config file); throws CLI_NO_SERVER when none. */
  connect(): Promise<Connection>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM), or when `signal` aborts. */
  untilStopped(): Promise<string>;
}

export function makeConnect(flags: ConnectionFlags, env: NodeJS.ProcessEnv): () => Promise<Connection> {
  return () => requireConnection(flags, env);
}

/** Resolves on the first SIGINT or SIGTERM with the signal's name. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = () => on('SIGINT');
    const onTerm = () => on('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
