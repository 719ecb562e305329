import { createHash } from 'node:crypto';
import {
  parseFleet,
  type ApplicationDescription,
  type Fleet,
  type FleetParseCache,
} from '@margo-gitops/spec';
import { parse } from 'yaml';
import {
  composeArtifact,
  componentRepository,
  LAYOUT_DIR,
  parseLayoutIndex,
  tagForVersion,
} from '@margo-gitops/oci';
import type { Catalog, CatalogEntry } from '../core/desired-state.js';
import type { ArtifactRef } from '../core/oci-components.js';
import { normaliseApplication } from '../spec-adapter.js';
import { packageRelativePath } from '../core/render-deployment.js';
import { listBlobsCli, readBlobsCli, readFilesCli, readObjectsCli, readRef, runGit } from './git-objects.js';

const MARGO_YAML = /^([^/]+)\/([^/]+)\/margo\.ya?ml$/;

/** Parses margo.yaml files by content hash so an unchanged package is parsed once. */
export class CatalogReader {
  private parsed = new Map<string, CatalogEntry>();
  /** Yanked versions at the last read, per application id (left out of the catalog itself). */
  yanked: ReadonlyMap<string, ReadonlySet<string>> = new Map();
  /** blob id -> digest and size (and the bytes of small files); blobs never change, so this is never stale. */
  private objects = new Map<string, { digest: string; size: number; text?: Buffer }>();

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
    await this.addArtifacts(gitdir, catalog, blobs);
    return catalog;
  }

  /**
   * Names every component of every package as an OCI artifact pinned by manifest digest: from the
   * package's `oci/` layout (written by `margo app publish`, checked by the Git server at push), or,
   * for a package-relative Compose tarball without one, the artifact the embedded registry
   * synthesises from it (`composeArtifact`: same bytes, same digest). A named file missing from the
   * catalog, or an unreadable layout, makes the package an error entry rather than an unverifiable
   * download. Entries are replaced, never changed (the parse cache shares them between reads).
   */
  private async addArtifacts(
    gitdir: string,
    catalog: Map<string, Map<string, CatalogEntry>>,
    blobs: ReadonlyMap<string, string>,
  ): Promise<void> {
    const plans: {
      versions: Map<string, CatalogEntry>;
      version: string;
      appId: string;
      app: ApplicationDescription;
      index?: string;
      tarballs: Map<string, string>; // component -> blob id of its package-relative tarball
    }[] = [];
    for (const [appId, versions] of catalog) {
      for (const [version, entry] of versions) {
        if (!('app' in entry)) continue;
        const index = blobs.get(`${appId}/${version}/${LAYOUT_DIR}/index.json`);
        const tarballs = new Map<string, string>();
        const missing: string[] = [];
        for (const profile of entry.app.profiles)
          for (const c of profile.components) {
            const loc = c.compose?.packageLocation;
            const rel = loc === undefined ? undefined : packageRelativePath(loc);
            if (rel === undefined) continue;
            const blob = blobs.get(`${appId}/${version}/${rel}`);
            if (blob) tarballs.set(c.name, blob);
            else missing.push(rel);
          }
        if (missing.length)
          versions.set(version, {
            error: `Compose package file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in the catalog under ${appId}/${version}/`,
          });
        else if (index || tarballs.size)
          plans.push({ versions, version, appId, app: entry.app, ...(index ? { index } : {}), tarballs });
      }
    }
    const wanted = new Set<string>();
    for (const p of plans) {
      if (p.index && !this.objects.has(p.index)) wanted.add(p.index);
      for (const b of p.tarballs.values()) if (!this.objects.has(b)) wanted.add(b);
    }
    for (const [b, o] of await readObjectsCli(gitdir, [...wanted])) {
      const sha256 = createHash('sha256').update(o.content).digest('hex');
      // Index files are small and parsed below; tarballs are kept only as digest and size.
      this.objects.set(b, {
        digest: `sha256:${sha256}`,
        size: o.content.length,
        ...(o.content.length < 1 << 20 ? { text: o.content } : {}),
      });
    }
    for (const p of plans) {
      const artifacts = new Map<string, ArtifactRef>();
      try {
        if (p.index) {
          const bytes = this.objects.get(p.index)?.text;
          if (!bytes) throw new Error(`${LAYOUT_DIR}/index.json is larger than 1 MiB`);
          for (const e of parseLayoutIndex(bytes, `${p.appId}/${p.version}/${LAYOUT_DIR}/index.json`)) {
            if (e.component === undefined) continue;
            artifacts.set(e.component, {
              repository: e.repository,
              tag: e.tag,
              digest: e.descriptor.digest,
              ...(e.registry !== undefined ? { registry: e.registry } : {}),
            });
          }
        }
        for (const [component, blob] of p.tarballs) {
          if (artifacts.has(component)) continue;
          const o = this.objects.get(blob)!;
          artifacts.set(component, {
            repository: componentRepository(p.appId, component),
            tag: tagForVersion(p.version),
            digest: composeArtifact(o.digest, o.size, p.app.version).digest,
          });
        }
        p.versions.set(p.version, { app: p.app, artifacts });
      } catch (e) {
        p.versions.set(p.version, { error: `OCI artifacts: ${e instanceof Error ? e.message : String(e)}` });
      }
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
    // windows/: maintenance windows of rollouts (docs/rollout.md); rollouts/ is read apart (rollout-store).
    (p) => p.startsWith('devices/') || p.startsWith('deployments/') || p.startsWith('windows/'),
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
