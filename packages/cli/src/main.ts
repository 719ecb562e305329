import { CommanderError } from 'commander';
import { MargoError } from '@margo-gitops/spec';
import { untilSignal } from './context.js';
import { ExitCode, reportError } from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { buildProgram, type Runners } from './program.js';
import type { Services } from './services.js';
import { defaultServices } from './wiring.js';

/** The real runners, imported when a command runs (keeps `margo --help` fast). */
export const defaultRunners: Runners = {
  validate: async (paths, opts, io) => (await import('./commands/validate.js')).run(paths, opts, io),

  init: async (o, d) => (await import('./commands/init.js')).run(o, d),
  serve: async (o, d) => (await import('./commands/serve.js')).run(o, d),
  agent: async (o, d) => (await import('./commands/agent.js')).run(o, d),
  agentHold: async (o, d) => (await import('./commands/agent.js')).runHold(o, d),
  appPublish: async (o, d) => (await import('./commands/app/publish.js')).run(o, d),
  appList: async (o, d) => (await import('./commands/app/list.js')).run(o, d),
  appShow: async (o, d) => (await import('./commands/app/show.js')).run(o, d),
  appYank: async (o, d) => (await import('./commands/app/yank.js')).run(o, d),
  deviceAdd: async (o, d) => (await import('./commands/device/add.js')).run(o, d),
  deviceList: async (o, d) => (await import('./commands/device/list.js')).run(o, d),
  deviceShow: async (o, d) => (await import('./commands/device/show.js')).run(o, d),
  deviceLabel: async (o, d) => (await import('./commands/device/label.js')).run(o, d),
  deviceRevoke: async (o, d) => (await import('./commands/device/revoke.js')).run(o, d),
  pkiRotateSigningKey: async (o, d) => (await import('./commands/pki/rotate-signing-key.js')).run(o, d),
  tokenCreate: async (o, d) => (await import('./commands/token.js')).runCreate(o, d),
  tokenList: async (o, d) => (await import('./commands/token.js')).runList(o, d),
  tokenRevoke: async (o, d) => (await import('./commands/token.js')).runRevoke(o, d),
  deploy: async (o, d) => (await import('./commands/deploy.js')).run(o, d),
  undeploy: async (o, d) => (await import('./commands/undeploy.js')).run(o, d),
  rollback: async (o, d) => (await import('./commands/rollback.js')).run(o, d),
  status: async (o, d) => (await import('./commands/status.js')).run(o, d),
  rollout: async (o, d) => (await import('./commands/rollout.js')).run(o, d),
  quickstart: async (o, d) => (await import('./commands/quickstart.js')).run(o, d),
  completion: async (o, d) => (await import('./commands/completion.js')).run(o, d),
};

export interface MainOptions {
  io?: Io;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  services?: Services;
  runners?: Partial<Runners>;
  untilStopped?: () => Promise<string>;
}

/**
 * Entry point of the `margo` command. Returns the process exit code; every error goes through
 * one handler that prints `error CODE: message` and a `hint:` on stderr.
 *
 * @example
 * process.exitCode = await main(process.argv);
 */
export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const io = opts.io ?? processIo(env);
  if (argv.includes('--no-color')) io.color = false;
  const args = argv.slice(2).filter((a) => a !== '--no-color');
  let exit: number = ExitCode.Ok;
  try {
    const program = buildProgram({
      io,
      env,
      cwd: opts.cwd ?? process.cwd(),
      services: opts.services ?? lazyServices(),
      runners: { ...defaultRunners, ...opts.runners },
      untilStopped: opts.untilStopped ?? untilSignal,
      setExitCode: (c) => (exit = c),
    });
    if (args.length === 0) {
      program.outputHelp();
      return ExitCode.Usage;
    }
    await program.parseAsync(args, { from: 'user' });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.exitCode === 0 ||
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return ExitCode.Ok;
      const msg = e.message.replace(/^error: /, '');
      return reportError(new MargoError('USAGE_ERROR', msg, { hint: 'See `margo <command> --help`.' }), io);
    }
    return reportError(e, io, { debug: Boolean(env.MARGO_DEBUG) });
  }
}

/** Services are created on first use, so usage errors never load the libraries. */
function lazyServices(): Services {
  let s: Services | undefined;
  const get = () => (s ??= defaultServices());
  return new Proxy({} as Services, {
    get: (_t, k) => (get() as unknown as Record<string | symbol, unknown>)[k],
  });
}
