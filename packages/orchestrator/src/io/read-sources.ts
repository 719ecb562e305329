import { createHash } from 'node:crypto';
import {
  parseFleet,
  type ApplicationDescription,
  type Fleet,
  type FleetParseCache,
} from '@margo-gitops/spec';
import { parse } from 'yaml';
import type { Catalog, CatalogEntry } from '../core/desired-state.js';
import { normaliseApplication } from '../spec-adapter.js';
import { packageRelativePath } from '../core/render-deployment.js';
import { listBlobsCli, readBlobsCli, readFilesCli, readObjectsCli, readRef, runGit } from './git-objects.js';

const MARGO_YAML = /^([^/]+)\/([^/]+)\/margo\.ya?ml$/;

/** Parses margo.yaml files by content hash so an unchanged package is parsed once. */
export class CatalogReader {
  private parsed = new Map<string, CatalogEntry>();
  /** Yanked versions at the last read, per application id (left out of the catalog itself). */
  yanked: ReadonlyMap<string, ReadonlySet<string>> = new Map();
  /** blob id -> SHA-256 hex of its content (blobs never change, so this cache is never stale). */
  private sha256ByBlob = new Map<string, string>();

  /**
   * Reads every `<appId>/<version>/margo.yaml` at `oid` of the catalog repository. A package
   * whose folder does not match its own id and version, or that cannot be parsed, becomes an
   * error entry (deployments naming it are held, with the reason).
   */
  async read(gitdir: string, oid: string): Promise<Catalog> {
    const blobs = await listBlobsCli(gitdir, oid);
    const files = await readBlobsCli(
      gitdir,
      [...blobs].filter(([p]) => MARGO_YAML.test(p)),
    );
    const catalog = new Map<string, Map<string, CatalogEntry>>();
    const seen = new Map<string, CatalogEntry>();
    for (const [path, content] of files) {
      const [, appId, version] = MARGO_YAML.exec(path)!;
      const key = createHash('sha1').update(path).update('\0').update(content).digest('hex');
      let entry = this.parsed.get(key);
      if (!entry) {
        entry = parseCatalogEntry(appId!, version!, content);
      }
      seen.set(key, entry);
      let versions = catalog.get(appId!);
      if (!versions) catalog.set(appId!, (versions = new Map()));
      versions.set(version!, entry);
    }
    this.parsed = seen;
    this.yanked = dropYanked(catalog, blobs);
    await this.addDigests(gitdir, catalog, blobs);
    return catalog;
  }

  /**
   * Pins every package-relative Compose file (`packageLocation`, `keyLocation`) by SHA-256, so
   * the signed desired state names the exact bytes a device may run. A location naming no file in
   * the catalog makes the package an error entry rather than an unverifiable download. Entries are
   * replaced, never changed (the parse cache shares them between reads).
   */
  private async addDigests(
    gitdir: string,
    catalog: Map<string, Map<string, CatalogEntry>>,
    blobs: ReadonlyMap<string, string>,
  ): Promise<void> {
    const pinned: {
      versions: Map<string, CatalogEntry>;
      version: string;
      app: ApplicationDescription;
      rels: Map<string, string>;
    }[] = [];
    for (const [appId, versions] of catalog) {
      for (const [version, entry] of versions) {
        if (!('app' in entry)) continue;
        const rels = new Map<string, string>(); // package-relative path -> blob id
        const missing: string[] = [];
        for (const profile of entry.app.profiles)
          for (const c of profile.components)
            for (const loc of [c.compose?.packageLocation, c.compose?.keyLocation]) {
              const rel = loc === undefined ? undefined : packageRelativePath(loc);
              if (rel === undefined) continue;
              const blob = blobs.get(`${appId}/${version}/${rel}`);
              if (blob) rels.set(rel, blob);
              else missing.push(rel);
            }
        if (missing.length)
          versions.set(version, {
            error: `Compose package file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in the catalog under ${appId}/${version}/`,
          });
        else if (rels.size) pinned.push({ versions, version, app: entry.app, rels });
      }
    }
    const unknown = [...new Set(pinned.flatMap((p) => [...p.rels.values()]))].filter(
      (b) => !this.sha256ByBlob.has(b),
    );
    for (const [b, o] of await readObjectsCli(gitdir, unknown))
      this.sha256ByBlob.set(b, createHash('sha256').update(o.content).digest('hex'));
    for (const { versions, version, app, rels } of pinned) {
      const digests = new Map([...rels].map(([rel, b]) => [rel, this.sha256ByBlob.get(b)!]));
      versions.set(version, { app, digests });
    }
  }
}

/** `<appId>/<version>/yanked.yaml`: the version was yanked (a record the Git server accepts once, never changed). */
const YANKED = /^([^/]+)\/([^/]+)\/yanked\.yaml$/;

/**
 * Yanked versions are left out of the catalog the orchestrator resolves against, so no range
 * picks them for a new resolution; a deployment naming a yanked version exactly is held
 * (ORCH_VERSION_YANKED) and its devices keep what was last signed for them. Returns them.
 */
function dropYanked(
  catalog: Map<string, Map<string, CatalogEntry>>,
  blobs: ReadonlyMap<string, string>,
): Map<string, Set<string>> {
  const yanked = new Map<string, Set<string>>();
  for (const path of blobs.keys()) {
    const m = YANKED.exec(path);
    if (!m) continue;
    catalog.get(m[1]!)?.delete(m[2]!);
    let set = yanked.get(m[1]!);
    if (!set) yanked.set(m[1]!, (set = new Set()));
    set.add(m[2]!);
  }
  return yanked;
}

function parseCatalogEntry(appId: string, version: string, content: Buffer): CatalogEntry {
  try {
    const data: unknown = parse(content.toString('utf8'), { maxAliasCount: 100 });
    const app = normaliseApplication(data);
    if (app.id !== appId) return { error: `margo.yaml declares id ${app.id}, but its folder is ${appId}/` };
    if (app.version !== version)
      return { error: `margo.yaml declares version ${app.version}, but its folder is ${appId}/${version}/` };
    if (!app.profiles.length) return { error: 'margo.yaml has no deployment profiles' };
    return { app };
  } catch (e) {
    return { error: `margo.yaml cannot be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Reads and parses the fleet repository at `oid`. */
export async function readFleet(gitdir: string, oid: string, cache?: FleetParseCache): Promise<Fleet> {
  const files = await readFilesCli(
    gitdir,
    oid,
    (p) => p.startsWith('devices/') || p.startsWith('deployments/'),
  );
  return parseFleet(files, cache);
}

/** Head of `main` of a repository, null when the repository or branch does not exist. */
export async function headOf(gitdir: string): Promise<string | null> {
  return readRef(gitdir, 'main');
}

/** Who last changed `path` in the fleet repository up to `oid` (the author of that commit). */
export async function lastAuthorOf(
  gitdir: string,
  oid: string,
  path: string,
): Promise<{ name: string; email: string; commit: string } | undefined> {
  const out = (await runGit(gitdir, ['log', '-1', '--format=%an%x00%ae%x00%H', oid, '--', path]))
    .toString('utf8')
    .trim();
  if (!out) return undefined;
  const [name, email, commit] = out.split('\0');
  return name && email && commit ? { name, email, commit } : undefined;
}
