import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isLoopbackHost, parseOciRepository } from '@margo-gitops/oci';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import { readAppMeta } from '../../app-package.js';
import type { CommandDeps } from '../../context.js';
import { commitChange, remoteLines, type Checkout } from '../../git-remote.js';
import { formatOutput, type OutputFormat } from '../../output.js';
import { createProgress } from '../../progress.js';
import { planArtifacts, pushArtifacts, writeLayout, type ExternalRegistry } from './publish-oci.js';

export interface PublishOptions {
  dir: string;
  output: OutputFormat;
  /** `oci://host[:port][/namespace]`: push the artifacts there instead of committing their layers. */
  registry?: string;
  registryUsername?: string;
  /** File holding the registry password, or `-` for stdin (else env MARGO_REGISTRY_PASSWORD). */
  registryPasswordFile?: string;
  /** Container images from the local Docker engine to bundle (`<appId>/images/<name>:<tag>`). */
  images?: string[];
}

export interface PublishedArtifact {
  component?: string;
  kind: 'compose' | 'helm' | 'image';
  /** Repository below the registry root (`<appId>/<component>`). */
  repository: string;
  tags: string[];
  digest: string;
  /** External registry `host[:port][/namespace]`; absent = the server's embedded registry. */
  registry?: string;
}

export interface PublishResult {
  id: string;
  version: string;
  path: string;
  /** The catalog commit, or null when these exact bytes were already published (nothing to do). */
  commit: string | null;
  packed: string[];
  alreadyPublished: boolean;
  artifacts: PublishedArtifact[];
}

const SKIP = new Set(['.git', 'node_modules', '.DS_Store']);

/**
 * `margo app publish DIR`: clone the catalog, copy DIR to `<id>/<version>/`, pack each relative
 * Compose `packageLocation` that names a missing `X.tar.gz` from the folder `X/`, write the OCI
 * image layout `oci/` of the package's artifacts (publish-oci.ts), commit, push. The server
 * validates the push; its findings are shown as they come. With `--registry` the artifacts are
 * pushed to that registry first and only their manifests and configs are committed.
 *
 * Nothing is written through a link: the package may hold no symlinks, and no component of
 * `<id>/<version>` in the catalog clone may be a symlink or submodule (someone with push access to
 * the Git host could plant `<id> -> /somewhere`). Success is reported only with a commit, or when
 * the catalog already holds exactly these bytes.
 */
export async function run(opts: PublishOptions, deps: CommandDeps): Promise<number> {
  const { io } = deps;
  const src = resolve(deps.cwd, opts.dir);
  const meta = await readAppMeta(src, opts.dir);
  const files = await packageFiles(src, opts.dir);
  // Packed before anything is cloned or pushed: a bad package fails here, with nothing written.
  const plan = await planArtifacts(src, meta, opts.dir, { images: opts.images ?? [], env: deps.env });
  for (const w of plan.warnings) io.err(`warning: ${w}\n`);
  const external = opts.registry ? await externalRegistry(opts, deps) : undefined;
  const conn = await deps.connect();
  const target = `${meta.id}/${meta.version}`;
  const packed = [...plan.tarballs.keys()];
  let alreadyPublished = false;
  let res;
  const progress = createProgress(io);
  const task = progress.task(`publish ${meta.id} ${meta.version}`);
  try {
    if (external) await pushArtifacts(external, plan, (s) => task.update(s));
    res = await commitChange(
      conn,
      'catalog',
      `publish ${meta.id} ${meta.version}`,
      async (co) => {
        alreadyPublished = false;
        await refuseLinksOnPath(co, target);
        const dest = join(co.dir, target);
        const existed = await present(dest);
        // Rewritten from scratch so that `git status` below compares exactly the package's bytes.
        if (existed) await rm(dest, { recursive: true, force: true });
        await mkdir(dest, { recursive: true });
        await copyPackage(src, dest, files);
        for (const [rel, bytes] of plan.tarballs) await writeFile(join(dest, rel), bytes, { flag: 'wx' });
        await writeLayout(dest, plan, external);
        // --force: a .gitignore someone put into the catalog must not leave files out.
        await co.git(['add', '--force', '-A', '--', target]);
        if (!existed) return true;
        if ((await co.git(['status', '--porcelain', '--', target])).stdout.trim()) {
          throw new MargoError(
            'CLI_APP_EXISTS',
            `${meta.id} version ${meta.version} is already in the catalog with different content`,
            { data: { id: meta.id, version: meta.version } },
          );
        }
        alreadyPublished = true;
        return false;
      },
      { onStep: (s) => task.update(s) },
    );
    task.done();
    progress.stop();
  } catch (e) {
    task.fail();
    progress.stop();
    if (
      isMargoError(e) &&
      (e.code === 'CLI_GIT_FAILED' || e.code === 'CLI_AUTH_FAILED') &&
      typeof e.data?.output === 'string'
    ) {
      const lines = remoteLines(e.data.output);
      if (lines.length && e.code === 'CLI_GIT_FAILED') {
        for (const l of lines) io.err(l + '\n');
        throw new MargoError(
          'CLI_PUBLISH_REJECTED',
          `the server refused ${meta.id} ${meta.version} (${opts.dir})`,
          { cause: e, data: { findings: lines } },
        );
      }
    }
    throw e;
  }
  if (!res.commit && !alreadyPublished) {
    throw new MargoError(
      'CLI_PUBLISH_EMPTY',
      `publishing ${meta.id} ${meta.version} changed nothing in the catalog; nothing was published`,
      { data: { id: meta.id, version: meta.version } },
    );
  }
  for (const l of res.remote) io.err(`server: ${l}\n`);
  const out: PublishResult = {
    id: meta.id,
    version: meta.version,
    path: target,
    commit: res.commit ?? null,
    packed,
    alreadyPublished,
    artifacts: plan.artifacts.map((a) => ({
      ...(a.component !== undefined ? { component: a.component } : {}),
      kind: a.kind,
      repository: a.repository,
      tags: a.tags,
      digest: a.packed.manifest.digest,
      ...(external ? { registry: external.annotation } : {}),
    })),
  };
  io.out(
    formatOutput(out, opts.output, (r) =>
      r.commit
        ? `published ${r.id} ${r.version} to the catalog (${r.path}, commit ${r.commit.slice(0, 12)})\n`
        : `${r.id} ${r.version} is already published with exactly these files; nothing to do\n`,
    ),
  );
  return 0;
}

const linkError = (path: string, what: string) =>
  new MargoError('CLI_PUBLISH_LINK', `refusing to publish: ${path} is ${what}`, { data: { path } });

/**
 * Every component of `target` inside the clone (`<id>`, `<id>/<version>`) must be absent or a
 * real directory: checked with lstat (never followed) and against the committed tree's modes
 * (120000 symlink, 160000 submodule).
 */
export async function refuseLinksOnPath(co: Checkout, target: string): Promise<void> {
  const parts = target.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  for (const rel of prefixes) {
    const st = await lstat(join(co.dir, rel)).catch(() => undefined);
    if (!st) break;
    if (st.isSymbolicLink()) throw linkError(`${rel} (in the catalog)`, 'a symbolic link');
    if (!st.isDirectory()) throw linkError(`${rel} (in the catalog)`, 'not a folder');
  }
  const listed = (await co.git(['ls-tree', '-z', 'HEAD', '--', ...prefixes])).stdout;
  for (const entry of listed.split('\0').filter(Boolean)) {
    const [mode, , , ...rest] = entry.split(/[ \t]/);
    const path = rest.join(' ');
    if (mode === '120000') throw linkError(`${path} (in the catalog)`, 'a symbolic link');
    if (mode === '160000') throw linkError(`${path} (in the catalog)`, 'a submodule (gitlink)');
  }
}

/**
 * The package's files and folders (relative, `/`-separated, parents first), without .git,
 * node_modules and .DS_Store. A symlink anywhere is refused: it would publish a link (or,
 * followed, files from outside the package).
 */
export async function packageFiles(src: string, label: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of (await readdir(join(src, rel), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (SKIP.has(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink())
        throw linkError(`${label}/${r}`, 'a symbolic link (packages may hold only files)');
      if (e.isDirectory()) {
        dirs.push(r);
        await walk(r);
      } else if (e.isFile()) files.push(r);
      else
        throw new MargoError('CLI_APP_DIR_INVALID', `${label}/${r} is not a regular file or folder`, {
          data: { path: `${label}/${r}` },
        });
    }
  };
  await walk('');
  return { dirs, files };
}

/** Copies the listed package entries into the (new, link-free) `dest`; never overwrites. */
async function copyPackage(
  src: string,
  dest: string,
  list: { dirs: string[]; files: string[] },
): Promise<void> {
  for (const d of list.dirs) await mkdir(join(dest, d));
  for (const f of list.files) await copyFile(join(src, f), join(dest, f), constants.COPYFILE_EXCL);
}

/** Resolves `--registry` and its credentials (the password never comes from argv). */
async function externalRegistry(opts: PublishOptions, deps: CommandDeps): Promise<ExternalRegistry> {
  const { host, name } = parseOciRepository(opts.registry!, { allowEmptyName: true });
  let password: string | undefined;
  if (opts.registryPasswordFile === '-') {
    if (!deps.io.readStdin)
      throw new MargoError('USAGE_ERROR', '--registry-password-file -: standard input cannot be read here');
    password = (await deps.io.readStdin(64 * 1024)).toString('utf8');
  } else if (opts.registryPasswordFile) {
    password = await readFile(resolve(deps.cwd, opts.registryPasswordFile), 'utf8').catch(
      (e: NodeJS.ErrnoException) => {
        throw new MargoError(
          'USAGE_ERROR',
          `--registry-password-file: cannot read ${opts.registryPasswordFile} (${e.code ?? e.message})`,
        );
      },
    );
  } else password = deps.env.MARGO_REGISTRY_PASSWORD;
  password = password?.replace(/\r?\n$/, '');
  const username = opts.registryUsername ?? deps.env.MARGO_REGISTRY_USERNAME;
  if (password !== undefined && !username)
    throw new MargoError('USAGE_ERROR', 'a registry password was given without --registry-username');
  return {
    target: {
      host,
      // Test registries on loopback speak plain http; anything else is https.
      plainHttp: isLoopbackHost(host),
      timeoutMs: 120_000,
      ...(username && password !== undefined ? { credentials: { username, password } } : {}),
    },
    namespace: name,
    annotation: name ? `${host}/${name}` : host,
  };
}

/** Present without following a link. */
async function present(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}
