import { Command, Option } from 'commander';
import type { ConnectionFlags } from './client-config.js';
import { makeConnect, type CommandDeps } from './context.js';
import { dataDirDefault } from './data-dir.js';
import type { Io } from './io.js';
import type { OutputFormat } from './output.js';
import { addFleetCommands } from './program-fleet.js';
import { collect, outputOption, withConnection } from './program-options.js';
import type { Services } from './services.js';

/** A command's run function: `run(opts, deps)` returning the exit code. */
export type Runner<O> = (opts: O, deps: CommandDeps) => Promise<number>;

/** Every command's runner, loaded lazily so `margo --help` stays fast; tests replace them. */
export interface Runners {
  validate: (paths: string[], opts: { output?: 'text' | 'json' }, io?: Io) => Promise<number>;
  init: Runner<import('./commands/init.js').InitOptions>;
  serve: Runner<import('./commands/serve.js').ServeOptions>;
  agent: Runner<import('./commands/agent.js').AgentOptions>;
  agentHold: Runner<import('./commands/agent.js').AgentHoldOptions>;
  appPublish: Runner<import('./commands/app/publish.js').PublishOptions>;
  appList: Runner<import('./commands/app/list.js').ListOptions>;
  appShow: Runner<import('./commands/app/show.js').ShowOptions>;
  appYank: Runner<import('./commands/app/yank.js').YankOptions>;
  deviceAdd: Runner<import('./commands/device/add.js').AddOptions>;
  deviceList: Runner<import('./commands/device/list.js').ListOptions>;
  deviceShow: Runner<import('./commands/device/show.js').ShowOptions>;
  deviceLabel: Runner<import('./commands/device/label.js').LabelOptions>;
  deviceRevoke: Runner<import('./commands/device/revoke.js').RevokeOptions>;
  pkiRotateSigningKey: Runner<import('./commands/pki/rotate-signing-key.js').RotateSigningKeyOptions>;
  tokenCreate: Runner<import('./commands/token.js').TokenCreateOptions>;
  tokenList: Runner<import('./commands/token.js').TokenListOptions>;
  tokenRevoke: Runner<import('./commands/token.js').TokenRevokeOptions>;
  deploy: Runner<import('./commands/deploy.js').DeployOptions>;
  undeploy: Runner<import('./commands/undeploy.js').UndeployOptions>;
  rollback: Runner<import('./commands/rollback.js').RollbackOptions>;
  status: Runner<import('./commands/status.js').StatusOptions>;
  rollout: Runner<import('./commands/rollout.js').RolloutOptions>;
  quickstart: Runner<import('./commands/quickstart.js').QuickstartOptions>;
  completion: Runner<{ shell: string; program: Command }>;
}

export interface ProgramEnv {
  io: Io;
  env: NodeJS.ProcessEnv;
  cwd: string;
  services: Services;
  runners: Runners;
  untilStopped: () => Promise<string>;
  /** Receives the exit code of the command that ran. */
  setExitCode: (code: number) => void;
}

/**
 * Builds the `margo` command tree. Actions only turn arguments into an options object and hand it
 * to the runner with its deps (the gh habit), so parsing can be tested with stub runners.
 */
export function buildProgram(pe: ProgramEnv): Command {
  const deps = (flags: ConnectionFlags): CommandDeps => ({
    io: pe.io,
    env: pe.env,
    cwd: pe.cwd,
    services: pe.services,
    connect: makeConnect(
      {
        ...(flags.server ? { server: flags.server } : {}),
        ...(flags.token ? { token: flags.token } : {}),
        ...(flags.context ? { context: flags.context } : {}),
      },
      pe.env,
    ),
    untilStopped: pe.untilStopped,
  });
  const done = (code: number) => pe.setExitCode(code);
  const conn = (o: ConnectionFlags) =>
    ({ server: o.server, token: o.token, context: o.context }) as ConnectionFlags;
  const defaultData = dataDirDefault(pe.cwd, pe.env);

  const program = new Command('margo')
    .description('Margo workload orchestration for edge fleets, with Git as the source of truth')
    .version('0.1.0', '-v, --version')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (s) => pe.io.out(s), writeErr: (s) => pe.io.err(s), outputError: () => {} })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  margo init && margo serve               start a server with a new data folder
  margo app publish examples/hello-world  publish an application to the catalog
  margo deploy hello-world --name hello --device dev1 --set GREETING=hi
  margo status -o json                    fleet status as JSON

Exit codes: 0 ok, 1 failure/invalid, 2 usage, 3 not found, 4 auth/permission, 5 conflict, 10 internal.
Colours are off with NO_COLOR or when output is not a terminal.`,
    );

  program
    .command('validate')
    .description('validate Margo documents and application packages')
    .argument('<path...>', 'files or folders')
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], o: { output: 'text' | 'json' }) =>
      done(await pe.runners.validate(paths, { output: o.output }, pe.io)),
    );

  program
    .command('init')
    .description('create a data folder: catalog and fleet repositories, PKI, tokens (refuses to overwrite)')
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .option('--listen <addr>', 'address the server will listen on (host:port)')
    .option('--public-url <url>', 'URL devices and clients use to reach the server (default: from --listen)')
    .option(
      '--api-listen <addr>',
      'address of the mTLS Workload Management API (default: the next port, 127.0.0.1:8471)',
    )
    .option('--context-name <name>', 'name of the client context to write', 'local')
    .addOption(outputOption())
    .action(async (o) =>
      done(
        await pe.runners.init(
          {
            data: o.data,
            listen: o.listen,
            ...(o.apiListen ? { apiListen: o.apiListen } : {}),
            publicUrl: o.publicUrl,
            contextName: o.contextName,
            output: o.output,
          },
          deps({}),
        ),
      ),
    );

  program
    .command('serve')
    .description(
      'run the orchestrator, Git server, onboarding and status APIs on one port (stops on SIGTERM/SIGINT)',
    )
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .option('--listen <addr>', 'listen address (host:port; default: from the data folder)')
    .option(
      '--api-listen <addr>',
      'mTLS Workload Management API address (host:port or off; default: from the data folder)',
    )
    .option('--api-tls12', 'accept TLS 1.2 on the API as well (default: TLS 1.3 only)')
    .option(
      '--max-concurrent-changes <n>',
      'devices changing at once across every rollout (default: maxConcurrentChanges of config.json, else no cap)',
    )
    .option(
      '--otlp-endpoint <url>',
      'export traces over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318; default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, else otlpEndpoint of config.json, else none)',
    )
    .action(async (o) =>
      done(
        await pe.runners.serve(
          {
            data: o.data,
            listen: o.listen,
            ...(o.apiListen ? { apiListen: o.apiListen } : {}),
            ...(o.apiTls12 ? { apiTls12: true } : {}),
            ...(o.maxConcurrentChanges !== undefined ? { maxConcurrentChanges: o.maxConcurrentChanges } : {}),
            ...(o.otlpEndpoint !== undefined ? { otlpEndpoint: o.otlpEndpoint } : {}),
          },
          deps({}),
        ),
      ),
    );

  const agentCmd = program
    .command('agent')
    .description('run the device agent (first start enrols with the token; later starts resume from --state)')
    .option('--server <url>', 'margo server URL (needed for the first start)')
    .option(
      '--token-file <file>',
      'file holding the enrolment string, or - for standard input (first start only)',
    )
    .option('--token <string>', 'the enrolment string itself (visible in ps; prefer --token-file)')
    .option('--ca-fingerprint <hex>', 'SHA-256 of the root CA; must match the enrolment string')
    .option(
      '--transport <t>',
      'auto (rest when an API URL is known, else git), git or rest (env MARGO_AGENT_TRANSPORT)',
    )
    .option(
      '--api-url <url>',
      'Workload Management API, https://host:port (default: from the enrolment answer; env MARGO_AGENT_API_URL)',
    )
    .option(
      '--metrics-listen <addr>',
      'serve Prometheus metrics at http://<addr>/metrics: PORT (loopback) or HOST:PORT (env MARGO_AGENT_METRICS_LISTEN)',
    )
    .requiredOption('--state <dir>', 'state folder of this device (keys, enrolment, applied state)')
    .action(async (o) =>
      done(
        await pe.runners.agent(
          {
            server: o.server,
            token: o.token,
            tokenFile: o.tokenFile,
            caFingerprint: o.caFingerprint,
            transport: o.transport,
            apiUrl: o.apiUrl,
            metricsListen: o.metricsListen,
            state: o.state,
          },
          deps({}),
        ),
      ),
    );
  // `--state` is the agent command's own option (given before or after the verb).
  agentCmd
    .command('hold')
    .description(
      'on-site hold: the agent in --state applies no change until released (what runs keeps running; fleet status shows the reason)',
    )
    .option('--reason <text>', 'why (shown in fleet status; at most 200 characters)')
    .option('--status', 'show whether the device is held')
    .option('--json', 'with --status: JSON output')
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals();
      done(
        await pe.runners.agentHold(
          { verb: 'hold', state: o.state, reason: o.reason, status: o.status, json: o.json },
          deps({}),
        ),
      );
    });
  agentCmd
    .command('release')
    .description('lift the on-site hold: the agent in --state applies what is pending at once')
    .action(async (_o, cmd: Command) =>
      done(await pe.runners.agentHold({ verb: 'release', state: cmd.optsWithGlobals().state }, deps({}))),
    );

  const app = program.command('app').description('publish and inspect applications in the catalog');
  withConnection(
    app
      .command('publish')
      .description('publish an application package folder (a git push; server findings shown as-is)')
      .argument('<dir>', 'folder holding margo.yaml')
      .option(
        '--registry <oci://host[:port][/namespace]>',
        "push the package's OCI artifacts to this registry (default: the server's embedded registry)",
      )
      .option('--registry-username <user>', 'user name for --registry (or env MARGO_REGISTRY_USERNAME)')
      .option(
        '--registry-password-file <file|->',
        'file holding the password for --registry, - for stdin (or env MARGO_REGISTRY_PASSWORD)',
      )
      .option(
        '--image <ref>',
        'bundle this image from the local Docker engine as <id>/images/<name>:<tag> (repeatable)',
        (v: string, prev: string[] = []) => [...prev, v],
      ),
  )
    .addOption(outputOption())
    .action(async (dir: string, o) =>
      done(
        await pe.runners.appPublish(
          {
            dir,
            output: o.output,
            ...(o.registry ? { registry: o.registry } : {}),
            ...(o.registryUsername ? { registryUsername: o.registryUsername } : {}),
            ...(o.registryPasswordFile ? { registryPasswordFile: o.registryPasswordFile } : {}),
            ...(o.image?.length ? { images: o.image } : {}),
          },
          deps(conn(o)),
        ),
      ),
    );
  withConnection(app.command('list').alias('ls').description('list published applications'))
    .addOption(outputOption())
    .action(async (o) => done(await pe.runners.appList({ output: o.output }, deps(conn(o)))));
  withConnection(app.command('show').description('show one application').argument('<id>', 'ID or ID@VERSION'))
    .addOption(outputOption())
    .action(async (id: string, o) =>
      done(await pe.runners.appShow({ app: id, output: o.output }, deps(conn(o)))),
    );
  withConnection(
    app
      .command('yank')
      .description('withdraw a published version: ranges stop picking it (recorded in the catalog, once)')
      .argument('<id>', 'application id')
      .argument('<version>', 'published version')
      .requiredOption('--reason <text>', 'why (kept in the catalog and the commit message)'),
  )
    .addOption(outputOption())
    .action(async (id: string, version: string, o) =>
      done(await pe.runners.appYank({ app: id, version, reason: o.reason, output: o.output }, deps(conn(o)))),
    );

  const device = program.command('device').description('manage fleet devices');
  withConnection(
    device
      .command('add')
      .description('add a device to the fleet and print a one-time enrolment token')
      .argument('<id>', 'device id'),
  )
    .option('--role <role>', 'standalone-device (Compose), standalone-cluster or cluster-leader (Helm)')
    .option('--label <k=v>', 'label (repeatable)', collect)
    .option(
      '--svid-out <dir>',
      'issue an X.509-SVID for a third-party API client instead of an enrolment token: DIR/svid.pem, svid.key, bundle.pem',
    )
    .addOption(outputOption())
    .action(async (id: string, o) =>
      done(
        await pe.runners.deviceAdd(
          {
            id,
            role: o.role,
            label: o.label ?? [],
            output: o.output,
            ...(o.svidOut ? { svidOut: o.svidOut } : {}),
          },
          deps(conn(o)),
        ),
      ),
    );
  withConnection(device.command('list').alias('ls').description('list fleet devices'))
    .addOption(outputOption())
    .action(async (o) => done(await pe.runners.deviceList({ output: o.output }, deps(conn(o)))));
  withConnection(device.command('show').description('show one device').argument('<id>', 'device id'))
    .addOption(outputOption())
    .action(async (id: string, o) =>
      done(await pe.runners.deviceShow({ id, output: o.output }, deps(conn(o)))),
    );
  withConnection(
    device
      .command('label')
      .description('set (k=v) or remove (k-) labels of a device')
      .argument('<id>', 'device id')
      .argument('<labels...>', 'k=v or k-'),
  )
    .addOption(outputOption())
    .action(async (id: string, labels: string[], o) =>
      done(await pe.runners.deviceLabel({ id, labels, output: o.output }, deps(conn(o)))),
    );
  withConnection(
    device
      .command('revoke')
      .description("revoke a device's certificate and Git access (its repository is kept)")
      .argument('<id>', 'device id'),
  )
    .addOption(outputOption())
    .action(async (id: string, o) =>
      done(await pe.runners.deviceRevoke({ id, output: o.output }, deps(conn(o)))),
    );

  program
    .command('pki')
    .description("the orchestrator's keys (run on the server's machine)")
    .command('rotate-signing-key')
    .description('new desired-state signing key; --compromised also revokes the old one on every device')
    .option('--compromised', 'the old key may have leaked: list it as revoked in every manifest')
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .addOption(outputOption())
    .action(async (o) =>
      done(
        await pe.runners.pkiRotateSigningKey(
          { data: o.data, compromised: Boolean(o.compromised), output: o.output },
          deps({}),
        ),
      ),
    );

  const token = program.command('token').description("API and console tokens (run on the server's machine)");
  token
    .command('create')
    .description('issue a token and print it once (admin, publisher, operator or viewer)')
    .requiredOption('--role <role>', 'admin, publisher, operator or viewer (read-only)')
    .requiredOption('--name <name>', "the person or system it is for (author of the console's commits)")
    .option('--expires <duration>', 'refused after this long, e.g. 30d, 12h (default: never)')
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .addOption(outputOption())
    .action(async (o) =>
      done(
        await pe.runners.tokenCreate(
          { data: o.data, role: o.role, name: o.name, expires: o.expires, output: o.output },
          deps({}),
        ),
      ),
    );
  token
    .command('list')
    .alias('ls')
    .description('list tokens (ids, names, roles; never the tokens themselves)')
    .option('--all', 'also revoked and expired tokens')
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .addOption(outputOption())
    .action(async (o) =>
      done(await pe.runners.tokenList({ data: o.data, all: Boolean(o.all), output: o.output }, deps({}))),
    );
  token
    .command('revoke')
    .description('refuse a token from now on (console sessions signed in with it end too)')
    .argument('<id>', 'token id (from margo token list)')
    .option('--data <dir>', 'data folder (env MARGO_DATA)', defaultData)
    .addOption(outputOption())
    .action(async (id: string, o) =>
      done(await pe.runners.tokenRevoke({ data: o.data, id, output: o.output }, deps({}))),
    );

  addFleetCommands(program, { runners: pe.runners, deps, done, conn });

  program
    .command('quickstart')
    .description(
      'init ./margo-data if absent, serve, enrol a local agent, publish and deploy examples/hello-world',
    )
    .option('--data <dir>', 'data folder', defaultData)
    .option('--listen <addr>', 'listen address (host:port)')
    .option(
      '--exit-when-installed',
      'exit (0) once hello-world is installed, or 1 on failure (for CI; env MARGO_QUICKSTART_EXIT_WHEN_INSTALLED=1)',
    )
    .option('--once', 'same as --exit-when-installed')
    .option('--timeout <seconds>', 'give up waiting for installed after this long', (v) => Number(v), 300)
    .option('--app-port <port>', 'port of hello-world on this machine (default 18080)', (v) => Number(v))
    .action(async (o) =>
      done(
        await pe.runners.quickstart(
          {
            data: o.data,
            listen: o.listen,
            exitWhenInstalled: Boolean(
              o.exitWhenInstalled || o.once || pe.env.MARGO_QUICKSTART_EXIT_WHEN_INSTALLED === '1',
            ),
            timeoutSeconds: o.timeout,
            ...(o.appPort ? { appPort: o.appPort } : {}),
          },
          deps({}),
        ),
      ),
    );

  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .addHelpText(
      'after',
      '\nbash: source <(margo completion bash)\nzsh:  margo completion zsh > "${fpath[1]}/_margo"',
    )
    .argument('<shell>', 'bash or zsh')
    .action(async (shell: string) => done(await pe.runners.completion({ shell, program }, deps({}))));

  for (const c of allCommands(program)) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

export function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap((s) => allCommands(s as Command))];
}

export type { OutputFormat };
