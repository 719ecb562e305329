import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { DEFAULT_TRUST_DOMAIN, wfmIdFromFingerprint, writeSpiffeIdentity } from '@margo-gitops/trust';
import { apiListenFor, checkApiListen } from '../api-server.js';
import { configPath, saveToken, upsertContext } from '../client-config.js';
import type { CommandDeps } from '../context.js';
import { writeServerSettings } from '../data-dir.js';
import { formatOutput, type OutputFormat } from '../output.js';
import { DEFAULT_LISTEN, parseListen, reposTemplateDir, urlFor } from '../paths.js';
import { createProgress } from '../progress.js';
import type { TokenRole } from '../services.js';

export interface InitOptions {
  data: string;
  listen?: string;
  publicUrl?: string;
  /** The Workload Management API listener recorded (default: the --listen host, next port). */
  apiListen?: string;
  /** Name of the client context written to the CLI config (default: `local`). */
  contextName?: string;
  output: OutputFormat;
}

export interface InitResult {
  dataDir: string;
  server: string;
  context: string;
  tokens: Record<TokenRole, string>;
  adminTokenFile: string;
  /** `sha256:<hex>` of the root CA: devices pin it (every enrolment string carries it). */
  caFingerprint?: string;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/**
 * `margo init [--data DIR]`: a new data folder (bare catalog + fleet repositories seeded from
 * repos-template/, PKI, tokens) and a client context so later commands here need no flags.
 * Refuses to touch a folder that is not empty. Tokens are printed once.
 */
export async function run(opts: InitOptions, deps: CommandDeps): Promise<number> {
  const dataDir = resolve(deps.cwd, opts.data);
  const listen = opts.listen ?? DEFAULT_LISTEN;
  try {
    parseListen(listen);
  } catch (e) {
    throw new MargoError('USAGE_ERROR', `${(e as Error).message} (from --listen)`, {
      hint: 'Write host:port, e.g. 127.0.0.1:8470.',
    });
  }
  if (!(await isEmptyOrMissing(dataDir))) {
    throw new MargoError(
      'CLI_DATA_DIR_EXISTS',
      `${dataDir} already exists and is not empty; margo init will not overwrite it`,
      { data: { dataDir } },
    );
  }
  const apiListen = opts.apiListen ?? apiListenFor(listen);
  checkApiListen(apiListen);
  const server = (opts.publicUrl ?? urlFor(listen)).replace(/\/+$/, '');
  const pr = createProgress(deps.io);
  let task = pr.task(`create data folder ${dataDir}`);
  try {
    for (const sub of ['', 'repos', 'repos/devices', 'auth', 'pki', 'state'])
      await mkdir(join(dataDir, sub), { recursive: true, mode: 0o700 });
    await writeServerSettings(dataDir, {
      listen,
      publicUrl: server,
      reconcileIntervalSeconds: 60,
      api: { listen: apiListen },
    });
    task.done();
    task = pr.task('create catalog and fleet repositories');
    await deps.services.createRepos(dataDir, reposTemplateDir);
    task.done();
    task = pr.task('create root CA and signing key');
    const pki = await deps.services.createPki(join(dataDir, 'pki'));
    // The API identity is fixed now, so a later change of defaults cannot rename this fleet manager.
    if (pki)
      await writeSpiffeIdentity(join(dataDir, 'pki'), {
        trustDomain: DEFAULT_TRUST_DOMAIN,
        wfmId: wfmIdFromFingerprint(pki.caFingerprint),
      });
    task.done();
    task = pr.task('issue admin, publisher and operator tokens');
    const tokens = {} as Record<TokenRole, string>;
    for (const role of ['admin', 'publisher', 'operator'] as const)
      tokens[role] = await deps.services.issueToken(dataDir, role, `${role} (margo init)`);
    task.done();
    const context = opts.contextName ?? 'local';
    const cfg = configPath(deps.env);
    task = pr.task(`save client context "${context}"`);
    const adminTokenFile = await saveToken(cfg, `${context}-admin`, tokens.admin);
    await upsertContext(cfg, context, { server, tokenFile: adminTokenFile, dataDir });
    task.done(cfg);
    pr.stop();
    const out: InitResult = {
      dataDir,
      server,
      context,
      tokens,
      adminTokenFile,
      ...(pki ? { caFingerprint: `sha256:${pki.caFingerprint}` } : {}),
    };
    deps.io.out(
      formatOutput(out, opts.output, (r) =>
        [
          `margo data folder ready: ${r.dataDir}`,
          '',
          'Tokens (shown ONCE; only their hashes are stored):',
          `  admin      ${r.tokens.admin}`,
          `  publisher  ${r.tokens.publisher}`,
          `  operator   ${r.tokens.operator}`,
          '',
          `The admin token is saved for this machine in ${r.adminTokenFile} (mode 0600), as context "${r.context}".`,
          ...(r.caFingerprint
            ? [`Root CA fingerprint (devices pin it; every enrolment string carries it): ${r.caFingerprint}`]
            : []),
          `Next: margo serve --data ${relativeOrAbs(deps.cwd, r.dataDir)}`,
          '',
        ].join('\n'),
      ),
    );
    return 0;
  } catch (e) {
    task.fail();
    pr.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
}

function relativeOrAbs(cwd: string, p: string): string {
  return resolve(cwd, basename(p)) === p ? basename(p) : p;
}
