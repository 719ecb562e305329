import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { isMargoError, type MargoError } from '@margo-gitops/spec';
import type { Connection } from '../client-config.js';
import { paint } from '../colour.js';
import type { CommandDeps } from '../context.js';
import { checkout } from '../git-remote.js';
import { memoryIo } from '../io.js';
import { examplesDir } from '../paths.js';
import { createProgress } from '../progress.js';
import type { Logger } from '../services.js';
import * as add from './device/add.js';
import * as deploy from './deploy.js';
import * as init from './init.js';
import * as publish from './app/publish.js';
import { startServe } from './serve.js';
import { toRows } from './status.js';

export interface QuickstartOptions {
  data: string;
  listen?: string;
  exitWhenInstalled: boolean;
  timeoutSeconds: number;
  /** Port of hello-world on this machine (its HOST_PORT parameter); default 18080. */
  appPort?: number;
}

export const QUICKSTART_DEVICE = 'local-device';
export const QUICKSTART_DEPLOYMENT = 'hello-world';
/**
 * The image examples/hello-world runs (examples/hello-world/resources/compose): the official
 * busybox image by its ordinary public reference. The testbed loads a local stand-in under this
 * exact reference (test/testbed/lib.sh PUBLIC_IMAGES), so nothing is pulled there.
 */
export const HELLO_IMAGE = 'busybox:1.36.1';
const ADMIN_TOKEN_FILE = 'state/quickstart-admin.token';

/** True when `docker info` answers within 5 s (the docker binary the agent uses: MARGO_AGENT_DOCKER_PATH or docker). */
export function dockerAvailable(env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const child = spawn(env.MARGO_AGENT_DOCKER_PATH || 'docker', ['info', '--format', '{{.ServerVersion}}'], {
      stdio: 'ignore',
      env,
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolvePromise(false);
    }, 5000);
    child.on('error', () => {
      clearTimeout(timer);
      resolvePromise(false);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise(code === 0);
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Runs a command's run() with its output captured (quickstart prints its own summary). What the
 * command said on stderr (e.g. the server's findings) is shown only when it fails with a code
 * the caller does not expect.
 */
async function quiet<O>(
  runner: (o: O, d: CommandDeps) => Promise<number>,
  o: O,
  deps: CommandDeps,
  expected: string[] = [],
): Promise<string> {
  const io = memoryIo({ errIsTTY: false });
  try {
    await runner(o, { ...deps, io });
  } catch (e) {
    if (!(isMargoError(e) && expected.includes(e.code))) deps.io.err(io.stderr());
    throw e;
  }
  return io.stdout();
}

/**
 * `margo quickstart` (what `npm start` runs): init ./margo-data if absent, serve, enrol a local
 * agent, publish examples/hello-world and deploy it, wait for `installed`, keep serving.
 */
export async function run(opts: QuickstartOptions, deps: CommandDeps): Promise<number> {
  const { io } = deps;
  const p = paint(io.color);
  const dataDir = resolve(deps.cwd, opts.data);
  const pr = createProgress(io);
  let t = pr.task(`data folder ${relative(deps.cwd, dataDir) || dataDir}`);
  let adminToken: string;
  if (await exists(join(dataDir, 'config.json'))) {
    adminToken = (await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').catch(() => '')).trim();
    t.done('reusing the existing one');
    if (!adminToken)
      deps.io.err(`note: ${join(dataDir, ADMIN_TOKEN_FILE)} is missing; using the client context's token\n`);
  } else {
    const text = await quiet(
      init.run,
      {
        data: dataDir,
        ...(opts.listen ? { listen: opts.listen } : {}),
        contextName: 'local',
        output: 'json',
      },
      deps,
    );
    const r = JSON.parse(text) as init.InitResult;
    adminToken = r.tokens.admin;
    await writeFile(join(dataDir, ADMIN_TOKEN_FILE), adminToken + '\n', { mode: 0o600 });
    t.done('created');
    pr.note(
      `tokens (shown once): admin ${r.tokens.admin}\n                     publisher ${r.tokens.publisher}\n                     operator ${r.tokens.operator}`,
    );
  }

  t = pr.task('start server');
  const logDir = join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const srv = await startServe({ data: dataDir, ...(opts.listen ? { listen: opts.listen } : {}) }, deps, {
    logTo: join(logDir, 'server.log'),
    log: fileLogger(join(logDir, 'server.log'), 'server'),
  });
  t.done(srv.url);
  const conn: Connection = {
    server: srv.url,
    dataDir,
    source: 'quickstart',
    ...(adminToken ? { token: adminToken } : {}),
  };
  const qdeps: CommandDeps = {
    ...deps,
    connect: async () => (adminToken ? conn : { ...(await deps.connect()), dataDir }),
  };

  let agent: { stop(): Promise<void> } | undefined;
  const shutdown = async () => {
    await agent?.stop().catch(() => {});
    await srv.close();
  };
  try {
    const stateDir = join(dataDir, 'agent');
    t = pr.task(`device ${QUICKSTART_DEVICE}`);
    let enrolToken: string | undefined;
    const enrolled = await exists(stateDir).then(async (e) => e && (await readdir(stateDir)).length > 0);
    if (!enrolled) {
      try {
        const r = JSON.parse(
          await quiet(
            add.run,
            { id: QUICKSTART_DEVICE, role: 'standalone-device', label: ['site=local'], output: 'json' },
            qdeps,
            ['CLI_DEVICE_EXISTS'],
          ),
        ) as add.AddResult;
        enrolToken = r.enrolmentToken;
      } catch (e) {
        if (!isMargoError(e) || e.code !== 'CLI_DEVICE_EXISTS') throw e;
        enrolToken = (await deps.services.issueEnrolmentToken(conn, QUICKSTART_DEVICE)).token;
      }
      t.done('added to the fleet');
    } else t.done('already enrolled');

    t = pr.task(enrolToken ? 'enrol the local agent' : 'start the local agent');
    agent = await deps.services.startAgent({
      server: srv.url,
      ...(enrolToken ? { token: enrolToken } : {}),
      stateDir,
      log: fileLogger(join(logDir, 'agent.log'), 'agent'),
      logTo: join(logDir, 'agent.log'),
    });
    t.done(`state in ${relative(deps.cwd, stateDir)}`);

    t = pr.task('publish examples/hello-world');
    try {
      await quiet(publish.run, { dir: join(examplesDir, 'hello-world'), output: 'json' }, qdeps, [
        'CLI_APP_EXISTS',
      ]);
      t.done('published');
    } catch (e) {
      if (!isMargoError(e) || e.code !== 'CLI_APP_EXISTS') throw e;
      t.done('already in the catalog');
    }

    t = pr.task(`deploy hello-world to ${QUICKSTART_DEVICE}`);
    const dr = JSON.parse(
      await quiet(
        deploy.run,
        {
          app: 'hello-world',
          name: QUICKSTART_DEPLOYMENT,
          device: [QUICKSTART_DEVICE],
          selector: [],
          set: opts.appPort ? [`HOST_PORT=${opts.appPort}`] : [],
          setString: ['GREETING=Hello from margo'],
          secret: [],
          dependsOn: [],
          output: 'json',
        },
        qdeps,
      ),
    ) as deploy.DeployResult;
    t.done(dr.commit ? `fleet commit ${dr.commit.slice(0, 12)}` : 'unchanged');

    t = pr.task('desired state rendered into the device repository');
    const rendered = await waitFor(
      opts.timeoutSeconds,
      () => readRendered(conn),
      (x) => x !== undefined,
    );
    if (!rendered) {
      t.fail('not rendered in time; see the server log above');
      if (opts.exitWhenInstalled) return (await shutdown(), 1);
    } else t.done(`devices/${QUICKSTART_DEVICE}.git: ${rendered.file}`);

    const docker = await dockerAvailable(deps.env);
    if (!docker) {
      pr.stop();
      io.err(
        `\n${p.yellow('No Docker engine answers here (`docker info` failed)')}, so the agent cannot run the container.\n`,
      );
      io.err(
        'The desired state is in place all the same: this is the ApplicationDeployment the orchestrator committed for the device:\n\n',
      );
      if (rendered) io.out(rendered.text + '\n');
      if (opts.exitWhenInstalled) return (await shutdown(), rendered ? 0 : 1);
    } else {
      t = pr.task('hello-world on local-device');
      let last: { state: string; error?: { code: string; message: string } } | undefined;
      const ok = await waitFor(
        opts.timeoutSeconds,
        async () => {
          const rows = toRows(
            await deps.services.fetchStatus(conn, QUICKSTART_DEPLOYMENT).catch(() => undefined),
          );
          last = rows
            .find((r) => r.name === QUICKSTART_DEPLOYMENT)
            ?.devices.find((d) => d.deviceId === QUICKSTART_DEVICE);
          if (last) t.update(last.state);
          return last?.state;
        },
        (s) => s === 'installed' || s === 'failed',
      );
      if (ok === 'installed') t.done('installed');
      else {
        t.fail(
          last?.error
            ? `${last.state}: ${last.error.code} ${last.error.message}`
            : (last?.state ?? 'no status reported in time'),
        );
        pr.stop();
        io.err(
          `\nhint: hello-world runs the public image ${HELLO_IMAGE}; Docker pulls it on first use, which needs internet access (or \`docker load\` it from a machine that has it). The agent's log is ${relative(deps.cwd, logDir) || logDir}/agent.log.\n`,
        );
        if (opts.exitWhenInstalled) return (await shutdown(), 1);
      }
      pr.stop();
    }

    io.out(
      [
        '',
        opts.exitWhenInstalled
          ? p.bold(
              `hello-world is ${docker ? 'installed' : 'rendered'}; the server is stopping (--once). Run \`npm start\` to keep it serving.`,
            )
          : p.bold(`margo is serving on ${srv.url}`),
        `Logs: ${relative(deps.cwd, logDir) || logDir}/server.log and agent.log`,
        '',
        opts.exitWhenInstalled
          ? 'Then try (in another terminal, in this folder):'
          : 'Try next (in another terminal, in this folder):',
        '  npx margo status                 fleet status (-o json for scripts)',
        '  npx margo deploy hello-world --name hello-world --device local-device --set-string GREETING=Hi',
        '  npx margo app list               the catalog',
        '  npx margo device list            the fleet',
        '  npx margo rollback hello-world   undo the last change',
        docker ? `  curl -s http://127.0.0.1:${opts.appPort ?? 18080}/cgi-bin/env | grep GREETING` : '',
        '',
      ]
        .filter((l, i, a) => l !== '' || i === 0 || a[i - 1] !== '')
        .join('\n'),
    );
    if (opts.exitWhenInstalled) return (await shutdown(), 0);
    io.err('Ctrl-C to stop.\n');
    await deps.untilStopped();
    io.err('stopping\n');
    await shutdown();
    return 0;
  } catch (e) {
    pr.stop();
    await shutdown();
    throw e as MargoError;
  }
}

/** JSON log lines appended to a file (quickstart keeps the terminal for progress). */
function fileLogger(file: string, component: string): Logger {
  const line = (level: string, msg: string, fields?: Record<string, unknown>) =>
    appendFileSync(
      file,
      JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields }) + '\n',
    );
  return { info: (m, f) => line('info', m, f), error: (m, f) => line('error', m, f) };
}

/** Polls `get` every 500 ms until `done(value)` or the timeout; returns the last value. */
async function waitFor<T>(
  timeoutSeconds: number,
  get: () => Promise<T>,
  done: (v: T) => boolean,
): Promise<T | undefined> {
  const until = Date.now() + timeoutSeconds * 1000;
  let v: T | undefined;
  while (Date.now() < until) {
    try {
      v = await get();
      if (done(v)) return v;
    } catch {
      /* keep polling */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return v;
}

/** The ApplicationDeployment committed for the quickstart device, if any. */
async function readRendered(conn: Connection): Promise<{ file: string; text: string } | undefined> {
  const co = await checkout(conn, `devices/${QUICKSTART_DEVICE}`, { depth: 1 }).catch(() => undefined);
  if (!co) return undefined;
  try {
    const dir = join(co.dir, 'deployments');
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml'));
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8');
      if (text.includes('hello-world')) return { file: `deployments/${f}`, text };
    }
    return undefined;
  } finally {
    await co.cleanup();
  }
}
