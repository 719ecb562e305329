/**
 * Helpers for the embedded registry suites: a real `margo serve` (run from the sources), catalog
 * pushes with stock `git`, and OCI image layouts built the way `margo app publish` lays them out
 * (docs/oci.md), from real artifacts (a chart packaged by helm, an image copied from the testbed
 * registry).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  layoutIndex,
  OCI_LAYOUT_FILE,
  sha256Digest,
  type Descriptor,
  type IndexEntry,
} from '../../../packages/oci/src/index.js';
import { freePort, json, MargoCli, repoRoot, stop } from '../../e2e/cli/harness.js';

/** The CLI launcher that runs the TypeScript sources (see margo-src.mjs). */
export const srcLauncher = join(repoRoot, 'test/integration/registry/margo-src.mjs');
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface Served {
  dir: string;
  dataDir: string;
  port: number;
  url: string;
  /** host:port as clients name the registry. */
  host: string;
  tokens: { admin: string; publisher: string; operator: string };
  cli: MargoCli;
  server: ChildProcess;
  close(): Promise<void>;
}

/**
 * `margo init` + `margo serve` on a free port of 127.0.0.1, in a temporary folder; `settings` are
 * merged into the data folder's config.json before the server starts.
 */
export async function startMargo(
  env: NodeJS.ProcessEnv = process.env,
  settings: Record<string, unknown> = {},
): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'margo-registry-'));
  const port = await freePort();
  const cli = new MargoCli(
    dir,
    {
      ...env,
      NODE_OPTIONS: `--conditions=source --import ${tsxLoader}`,
      MARGO_CONFIG: join(dir, 'config.json'),
    },
    srcLauncher,
  );
  const init = json<{ tokens: Served['tokens'] }>(
    await cli.run('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'),
  );
  const configFile = join(dir, 'margo-data', 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  await writeFile(configFile, JSON.stringify({ ...config, ...settings }, null, 2));
  const server = await cli.start(
    'serve',
    ['serve', '--data', 'margo-data'],
    /status\s+http:\/\/\S+\/api\/v1\/status/,
  );
  return {
    dir,
    dataDir: join(dir, 'margo-data'),
    port,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    tokens: init.tokens,
    cli,
    server,
    close: async () => {
      await stop(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const basic = (token: string) => `Basic ${Buffer.from(`margo:${token}`).toString('base64')}`;

/** Environment for stock git with the token as Basic password, through config (never argv). */
export function gitEnv(token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: ${basic(token)}`,
    GIT_AUTHOR_NAME: 'test',
    GIT_AUTHOR_EMAIL: 'test@example.invalid',
    GIT_COMMITTER_NAME: 'test',
    GIT_COMMITTER_EMAIL: 'test@example.invalid',
  };
}

/**
 * Clones the catalog with stock git, writes `files` (path -> bytes), commits and pushes to main.
 * Resolves with git's exit code and output (the pre-receive findings are in it).
 */
export async function pushCatalog(
  s: Served,
  files: Record<string, Buffer | string>,
  message: string,
): Promise<{ ok: boolean; output: string }> {
  const work = await mkdtemp(join(s.dir, 'clone-'));
  const env = gitEnv(s.tokens.publisher);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', work, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });
  try {
    execFileSync('git', ['clone', '-q', `${s.url}/git/catalog.git`, work], { env, stdio: 'pipe' });
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, p)), { recursive: true });
      await writeFile(join(work, p), content);
    }
    git('add', '-A');
    git('commit', '-q', '-m', message);
    try {
      git('push', '-q', 'origin', 'HEAD:main');
      return { ok: true, output: '' };
    } catch (e) {
      const err = e as { stderr?: Buffer; stdout?: Buffer };
      return { ok: false, output: `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}` };
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface LayoutArtifact {
  repository: string;
  tag: string;
  component?: string;
  registry?: string;
  /** The exact manifest bytes and their media type. */
  manifest: Buffer;
  mediaType: string;
  artifactType?: string;
  /** Config and layer blobs to commit (left out: a missing blob). */
  blobs: Buffer[];
}

/** The files of `<folder>/oci/` holding `artifacts` (index.json written by layoutIndex). */
export function layoutFiles(folder: string, artifacts: LayoutArtifact[]): Record<string, Buffer> {
  const files: Record<string, Buffer> = { [`${folder}/oci/oci-layout`]: Buffer.from(OCI_LAYOUT_FILE) };
  const entries: IndexEntry[] = [];
  for (const a of artifacts) {
    const descriptor: Descriptor = {
      mediaType: a.mediaType,
      digest: sha256Digest(a.manifest),
      size: a.manifest.length,
      ...(a.artifactType ? { artifactType: a.artifactType } : {}),
    };
    entries.push({
      descriptor,
      repository: a.repository,
      tag: a.tag,
      ...(a.component ? { component: a.component } : {}),
      ...(a.registry ? { registry: a.registry } : {}),
    });
    for (const b of [a.manifest, ...a.blobs])
      files[`${folder}/oci/blobs/sha256/${sha256Digest(b).slice(7)}`] = b;
  }
  files[`${folder}/oci/index.json`] = layoutIndex(entries);
  return files;
}

/** A descriptor of `bytes`. */
export function descriptor(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

/**
 * The exact manifest, config and layers of `<registry>/<name>:<tag>` (a single-platform image),
 * read over the Distribution API of an open registry.
 */
export async function copyImage(
  registry: string,
  name: string,
  tag: string,
): Promise<{ manifest: Buffer; mediaType: string; blobs: Buffer[]; configDigest: string }> {
  const accept = [
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
  ].join(', ');
  const res = await fetch(`http://${registry}/v2/${name}/manifests/${tag}`, { headers: { accept } });
  if (!res.ok) throw new Error(`${registry}/${name}:${tag}: HTTP ${res.status}`);
  const manifest = Buffer.from(await res.arrayBuffer());
  const m = JSON.parse(manifest.toString('utf8')) as {
    mediaType: string;
    config: Descriptor;
    layers: Descriptor[];
  };
  const blobs: Buffer[] = [];
  for (const d of [m.config, ...m.layers]) {
    const b = await fetch(`http://${registry}/v2/${name}/blobs/${d.digest}`);
    if (!b.ok) throw new Error(`${registry}/${name} blob ${d.digest}: HTTP ${b.status}`);
    blobs.push(Buffer.from(await b.arrayBuffer()));
  }
  return { manifest, mediaType: m.mediaType, blobs, configDigest: m.config.digest };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
