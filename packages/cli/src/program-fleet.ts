import { Option, type Command } from 'commander';
import { collect, outputOption, withConnection, type CommandCtx } from './program-options.js';

/**
 * The commands that change or follow what the fleet runs: deploy, undeploy, rollback, status and
 * rollout (status, pause, resume, promote, abort). Each change is one commit to the fleet repository.
 */
export function addFleetCommands(program: Command, { runners, deps, done, conn }: CommandCtx): void {
  withConnection(
    program
      .command('deploy')
      .description('create or replace a deployment (one commit to the fleet repository)')
      .argument('<app>', 'APP or APP@VERSION (a version or semver range; default: newest)')
      .requiredOption('--name <name>', 'deployment name'),
  )
    .option('--device <id>', 'target device (repeatable)', collect)
    .option('--selector <k=v>', 'target devices by label (repeatable, all must match)', collect)
    .option('--set <k=v>', 'parameter value (repeatable; true/false/numbers are typed)', collect)
    .option('--set-string <k=v>', 'parameter value kept as a string (repeatable)', collect)
    .option(
      '--secret <k=v>',
      'secret parameter, sealed to each target device (repeatable; k=- reads it from standard input; a value here is visible in ps)',
      collect,
    )
    .option('--secret-file <k=path>', "secret parameter read from a file's content (repeatable)", collect)
    .addOption(new Option('--profile <type>', 'preferred profile').choices(['helm.v3', 'compose']))
    .option('--namespace <ns>', 'Kubernetes namespace / Compose project (default: the name)')
    .option('--depends-on <name>', 'deployment to install first (repeatable)', collect)
    .option(
      '--reuse-values',
      "keep the existing deployment's values that --set does not override (and its rollout, unless rollout flags are given)",
    )
    .option('--canary <id>', 'rollout: first wave `canary` of these devices (repeatable)', collect)
    .option('--waves <p1,p2,...>', 'rollout: waves of these percentages of the targets left')
    .option('--max-concurrent <n>', 'rollout: devices of this deployment changing at once')
    .option('--health-seconds <s>', "rollout: every wave's gate: installed and healthy this long")
    .option('--manual-gate', 'rollout: the canary (or first) wave also needs `margo rollout promote`')
    .option('--failure-threshold <n|p%>', 'rollout: failed devices (or percent of targets) that stop it')
    .addOption(
      new Option('--on-failure <what>', 'rollout: when the threshold trips').choices(['pause', 'rollback']),
    )
    .option(
      '--force',
      'write it even when the orchestrator will refuse it (unknown app or device, bad values)',
    )
    .addOption(outputOption())
    .action(async (appRef: string, o) =>
      done(
        await runners.deploy(
          {
            app: appRef,
            name: o.name,
            device: o.device ?? [],
            selector: o.selector ?? [],
            set: o.set ?? [],
            setString: o.setString ?? [],
            secret: o.secret ?? [],
            secretFile: o.secretFile ?? [],
            profile: o.profile,
            namespace: o.namespace,
            dependsOn: o.dependsOn ?? [],
            reuseValues: Boolean(o.reuseValues),
            rollout: {
              canary: o.canary ?? [],
              waves: o.waves,
              maxConcurrent: o.maxConcurrent,
              healthSeconds: o.healthSeconds,
              manualGate: Boolean(o.manualGate),
              failureThreshold: o.failureThreshold,
              onFailure: o.onFailure,
            },
            force: Boolean(o.force),
            output: o.output,
          },
          deps(conn(o)),
        ),
      ),
    );
  withConnection(
    program
      .command('undeploy')
      .description('remove a deployment (one commit)')
      .argument('<name>', 'deployment name'),
  )
    .option('--force', 'remove it even when other deployments depend on it')
    .addOption(outputOption())
    .action(async (name: string, o) =>
      done(await runners.undeploy({ name, force: Boolean(o.force), output: o.output }, deps(conn(o)))),
    );
  withConnection(
    program
      .command('rollback')
      .description("undo a deployment's last change, or restore it as of --to REVISION (one commit)")
      .argument('<name>', 'deployment name')
      .option('--to <revision>', 'fleet repository revision to restore'),
  )
    .option('--force', 'write it even when the orchestrator will refuse what is restored')
    .addOption(outputOption())
    .action(async (name: string, o) =>
      done(
        await runners.rollback({ name, to: o.to, force: Boolean(o.force), output: o.output }, deps(conn(o))),
      ),
    );
  withConnection(
    program
      .command('status')
      .description('fleet and per-deployment status')
      .argument('[name]', 'deployment name'),
  )
    .addOption(outputOption())
    .option('-w, --watch', 'redraw until Ctrl-C')
    .option('--interval <seconds>', 'seconds between refreshes with --watch', (v) => Number(v), 2)
    .action(async (name: string | undefined, o) =>
      done(
        await runners.status(
          { name, output: o.output, watch: Boolean(o.watch), interval: o.interval },
          deps(conn(o)),
        ),
      ),
    );

  const rollout = program
    .command('rollout')
    .description('follow and steer progressive rollouts (pause, resume, promote, abort: one commit each)');
  withConnection(
    rollout
      .command('status')
      .description('a rollout wave by wave (waiting and failed devices), or every rollout')
      .argument('[name]', 'rollout (= deployment) name'),
  )
    .addOption(outputOption())
    .option('-w, --watch', 'redraw until Ctrl-C')
    .option('--interval <seconds>', 'seconds between refreshes with --watch', (v) => Number(v), 2)
    .action(async (name: string | undefined, o) =>
      done(
        await runners.rollout(
          { action: 'status', name, output: o.output, watch: Boolean(o.watch), interval: o.interval },
          deps(conn(o)),
        ),
      ),
    );
  const steps = [
    ['pause', 'tell no new device until resume (devices already told finish)'],
    ['resume', 'carry on after a pause (failures so far are accepted)'],
    ['promote', 'approve the manual gate of the wave in progress, or of --wave ahead'],
    ['abort', 'stop and send every device already told back to the previous revision'],
  ] as const;
  for (const [action, what] of steps) {
    const cmd = withConnection(
      rollout
        .command(action)
        .description(`${what} (one commit)`)
        .argument('<name>', 'rollout (= deployment) name'),
    );
    if (action === 'promote')
      cmd.option('--wave <wave>', 'the wave to approve (default: the wave in progress)');
    cmd
      .addOption(outputOption())
      .action(async (name: string, o) =>
        done(
          await runners.rollout(
            { action, name, output: o.output, ...(o.wave ? { wave: o.wave } : {}) },
            deps(conn(o)),
          ),
        ),
      );
  }
}
