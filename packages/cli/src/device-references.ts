/**
 * What a device's desired state references, read from `deployments/` on its repository's `main`
 * and cached by commit id (a device downloads several files per commit): the `/catalog/` files it
 * may download and the `oci://` repositories it may pull. Shared by the catalog files handler and
 * the embedded registry, so both decide from the same reading.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

interface Refs {
  commit: string;
  catalog: Set<string>;
  oci: Set<string>;
}

/** `/catalog/<rel>` URLs in a text, as catalog-relative paths (fragment and query cut off). */
export function catalogReferences(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\/catalog\/([^\s"'#?<>\\]+)/g)) {
    let rel: string;
    try {
      rel = decodeURIComponent(m[1]!);
    } catch {
      continue;
    }
    out.add(rel);
    // obtainPackage looks for a detached signature beside the package.
    out.add(`${rel}.sig`);
    out.add(`${rel}.asc`);
  }
  return out;
}

/**
 * `oci://<host>/<repository>` references in a text, as `<host>/<repository>` (host lower-cased; a
 * `:tag` or `@digest` written into the reference is cut off).
 */
export function ociReferences(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/oci:\/\/([^\s"'#?<>\\/]+)\/([^\s"'#?<>\\]+)/g)) {
    const repo = m[2]!.replace(/@sha256:[0-9a-f]*$/, '').replace(/:[^/]*$/, '');
    out.add(`${m[1]!.toLowerCase()}/${repo}`);
  }
  return out;
}

export class DeviceReferences {
  private readonly cache = new Map<string, Refs>();
  constructor(private readonly devicesDir: string) {}

  /** May the device download catalog file `rel`? */
  async allowsCatalogFile(deviceId: string, rel: string): Promise<boolean> {
    return (await this.refs(deviceId))?.catalog.has(rel) ?? false;
  }

  /** The `<host>/<repository>` OCI references of the device's desired state (empty when none). */
  async ociRepositories(deviceId: string): Promise<ReadonlySet<string>> {
    return (await this.refs(deviceId))?.oci ?? new Set();
  }

  private async refs(deviceId: string): Promise<Refs | undefined> {
    const gitDir = join(this.devicesDir, `${deviceId}.git`);
    const commit = (await gitBytes(['--git-dir', gitDir, 'rev-parse', '--verify', '-q', 'main^{commit}']))
      ?.toString()
      .trim();
    if (!commit) return undefined;
    let hit = this.cache.get(deviceId);
    if (hit?.commit !== commit) {
      const files = await gitBytes([
        '--git-dir',
        gitDir,
        'grep',
        '-h',
        '-I',
        '-o',
        '-e',
        '/catalog/[^ "\'#]*',
        '-e',
        'oci://[^ "\'#]*',
        commit,
        '--',
        'deployments/',
      ]);
      const text = files?.toString('utf8') ?? '';
      hit = { commit, catalog: catalogReferences(text), oci: ociReferences(text) };
      this.cache.set(deviceId, hit);
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    }
    return hit;
  }
}

/** Stdout of a git command, or undefined when it fails. */
export function gitBytes(args: string[]): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
  });
}
