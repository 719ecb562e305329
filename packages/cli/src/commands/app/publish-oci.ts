/**
 * The OCI side of `margo app publish`: which components of a package become OCI artifacts, packing
 * them (deterministically: same package -> same digests), writing the package's `oci/` image layout
 * and pushing to an external registry.
 *
 * - A Compose component whose `packageLocation` is a package-relative tarball: the tarball is the
 *   artifact's single layer (packed from the folder of the same name when missing), so the layer
 *   blob in `oci/` and the tarball are the same bytes and Git stores them once.
 * - A Helm component whose `repository` is a package-relative chart folder (`charts/hello`): the
 *   chart is packed as `helm package` + `helm push` would, tagged with the package version and
 *   the chart version.
 * Artifacts live at `<appId>/<component>` below the registry root (docs/oci.md).
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix, relative, resolve } from 'node:path';
import { list as tarList } from 'tar';
import { MargoError } from '@margo-gitops/spec';
import {
  componentRepository,
  composeArtifactOf,
  layoutIndex,
  LAYOUT_DIR,
  OCI_LAYOUT_FILE,
  ociName,
  packCompose,
  packHelmChart,
  packImage,
  pushBlob,
  pushManifest,
  tagForVersion,
  type IndexEntry,
  type PackedArtifact,
  type RegistryTarget,
} from '@margo-gitops/oci';
import type { AppMeta } from '../../app-package.js';

export interface PlannedArtifact {
  kind: 'compose' | 'helm' | 'image';
  /** The component the artifact installs (none for a bundled container image). */
  component?: string;
  /** Repository below the registry root: `<appId>/<component>`. */
  repository: string;
  tags: string[];
  /** Package-relative source: the tarball or the chart folder. */
  source: string;
  packed: PackedArtifact;
}

export interface OciPlan {
  artifacts: PlannedArtifact[];
  /** Tarballs packed from their folder: package-relative path -> bytes (written into the package). */
  tarballs: Map<string, Buffer>;
  warnings: string[];
}

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s);

/** A package-relative path inside `root`, or OCI_PACK_PATH_OUTSIDE. */
function inside(root: string, rel: string, what: string, label: string): string {
  const abs = resolve(root, rel);
  const r = relative(root, abs);
  if (!r || r.startsWith('..') || resolve(root, r) !== abs)
    throw new MargoError(
      'OCI_PACK_PATH_OUTSIDE',
      `${label}: ${what} ${JSON.stringify(rel)} is outside the package`,
      {
        data: { path: rel },
      },
    );
  return abs;
}

async function kind(p: string): Promise<'file' | 'dir' | undefined> {
  const st = await stat(p).catch(() => undefined);
  return st?.isDirectory() ? 'dir' : st?.isFile() ? 'file' : undefined;
}

/**
 * Checks a Compose tarball someone packed themselves: no absolute path, no `..`, no link leaving
 * it, only files, folders and links (the same rules a device applies before extracting).
 */
export async function checkComposeTarball(file: string, label: string): Promise<void> {
  const problems: string[] = [];
  const links = new Set<string>();
  const out = (p: string) => {
    const n = posix.normalize(p.replace(/\\/g, '/'));
    return p.startsWith('/') || /^[A-Za-z]:/.test(p) || n === '..' || n.startsWith('../');
  };
  let count = 0;
  await tarList({
    file,
    strict: true,
    onReadEntry: (e) => {
      count++;
      const p = e.path;
      if (out(p)) problems.push(`entry ${JSON.stringify(p)} is outside the archive folder`);
      else if (e.type === 'SymbolicLink' || e.type === 'Link') {
        const target = e.linkpath ?? '';
        const base = e.type === 'SymbolicLink' ? posix.dirname(p) : '.';
        if (!target || target.startsWith('/') || out(posix.join(base, target)))
          problems.push(`link ${JSON.stringify(p)} points outside the archive (${JSON.stringify(target)})`);
        links.add(posix.normalize(p));
      } else if (!['File', 'OldFile', 'ContiguousFile', 'Directory'].includes(e.type))
        problems.push(`entry ${JSON.stringify(p)} is a ${e.type}`);
      else if ([...links].some((l) => posix.normalize(p).startsWith(`${l}/`)))
        problems.push(`entry ${JSON.stringify(p)} goes through a link of the archive`);
    },
  }).catch((e: Error) => {
    throw new MargoError('OCI_PACK_INVALID', `${label} is not a tar.gz archive: ${e.message}`, {
      data: { path: label },
    });
  });
  if (!count)
    throw new MargoError('OCI_PACK_INVALID', `${label} is not a tar.gz archive (no entries)`, {
      data: { path: label },
    });
  if (problems.length)
    throw new MargoError('OCI_PACK_PATH_OUTSIDE', `${label}: ${problems[0]}`, {
      data: { path: label, problems },
    });
}

/**
 * Decides and packs the package's artifacts (reads `src`, writes nothing). `images` are container
 * images from the local Docker engine bundled as `<appId>/images/<name>:<tag>`.
 */
export async function planArtifacts(
  src: string,
  meta: AppMeta,
  label: string,
  o: { images?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<OciPlan> {
  const plan: OciPlan = { artifacts: [], tarballs: new Map(), warnings: [] };
  const version = tagForVersion(meta.version);
  for (const c of meta.components) {
    const where = `${label}: component ${JSON.stringify(c.name)}`;
    if (c.packageLocation !== undefined && !isUrl(c.packageLocation)) {
      const rel = posix.normalize(c.packageLocation.replace(/^\.\//, ''));
      if (!/\.(tar\.gz|tgz)$/.test(rel)) continue;
      const file = inside(src, rel, 'packageLocation', where);
      let layer: Buffer;
      if ((await kind(file)) === 'file') {
        await checkComposeTarball(file, `${label}/${rel}`);
        layer = await readFile(file);
      } else if (plan.tarballs.has(rel)) {
        layer = plan.tarballs.get(rel)!;
      } else {
        const folder = file.replace(/\.(tar\.gz|tgz)$/, '');
        if ((await kind(folder)) !== 'dir') continue; // the server reports the missing file
        const packed = await packCompose(folder, c.name, meta.version, `${label}/${relative(src, folder)}`);
        plan.warnings.push(...packed.warnings);
        layer = packed.layers[0]!.bytes;
        plan.tarballs.set(rel, layer);
      }
      add(plan, {
        kind: 'compose',
        component: c.name,
        repository: componentRepository(meta.id, c.name),
        tags: [version],
        source: rel,
        packed: composeArtifactOf(layer, meta.version),
      });
    } else if (c.repository !== undefined && !isUrl(c.repository) && /^helm/.test(c.profileType)) {
      const rel = posix.normalize(c.repository.replace(/^\.\//, '').replace(/\/+$/, ''));
      const folder = inside(src, rel, 'repository', where);
      if ((await kind(folder)) !== 'dir')
        throw new MargoError(
          'OCI_PACK_INVALID',
          `${where}: repository ${JSON.stringify(c.repository)} is not a chart folder in the package`,
          {
            data: { path: rel },
          },
        );
      const packed = await packHelmChart(folder, `${label}/${rel}`);
      if (c.revision !== undefined && c.revision !== packed.chart.version && c.revision !== meta.version)
        throw new MargoError(
          'OCI_PACK_INVALID',
          `${where}: revision ${c.revision} is neither the chart's version (${packed.chart.version} in ${rel}/Chart.yaml) nor the package version`,
          { data: { path: rel } },
        );
      const tags = [...new Set([version, tagForVersion(packed.chart.version)])];
      add(plan, {
        kind: 'helm',
        component: c.name,
        repository: componentRepository(meta.id, c.name),
        tags,
        source: rel,
        packed,
      });
    }
  }
  for (const ref of o.images ?? []) {
    const img = await packImage(ref, { env: o.env ?? process.env });
    add(plan, {
      kind: 'image',
      repository: `${ociName(meta.id)}/images/${img.name}`,
      tags: [img.tag],
      source: ref,
      packed: img,
    });
  }
  return plan;
}

/** Adds an artifact; the same component twice (two profiles) must be the same artifact. */
function add(plan: OciPlan, a: PlannedArtifact): void {
  const same = plan.artifacts.find(
    (x) => x.repository === a.repository && x.tags.some((t) => a.tags.includes(t)),
  );
  if (!same) return void plan.artifacts.push(a);
  if (same.packed.manifest.digest !== a.packed.manifest.digest)
    throw new MargoError(
      'OCI_PACK_INVALID',
      `two different artifacts would be published as ${a.repository} (${same.source} and ${a.source}): give the components different names`,
      { data: { repository: a.repository } },
    );
}

/** `oci://host[:port][/namespace]` of `--registry`, resolved. */
export interface ExternalRegistry {
  target: RegistryTarget;
  namespace: string;
  /** The `io.margo-gitops.registry` annotation value: `host[:port][/namespace]`. */
  annotation: string;
}

/** Pushes every artifact (blobs, then the manifest under each tag) to the external registry. */
export async function pushArtifacts(
  reg: ExternalRegistry,
  plan: OciPlan,
  onStep: (s: string) => void = () => {},
): Promise<void> {
  for (const a of plan.artifacts) {
    const name = reg.namespace ? `${reg.namespace}/${a.repository}` : a.repository;
    onStep(`pushing ${name} to ${reg.target.host}`);
    await pushBlob(reg.target, name, a.packed.config.bytes);
    for (const l of a.packed.layers) await pushBlob(reg.target, name, l.bytes);
    for (const tag of a.tags)
      await pushManifest(reg.target, name, tag, a.packed.manifest.bytes, a.packed.manifest.mediaType);
  }
}

/**
 * Writes `<pkgDir>/oci/` (replacing any that was copied from the source folder): oci-layout,
 * index.json and the blobs. With an external registry the layer blobs stay out (they are there).
 */
export async function writeLayout(pkgDir: string, plan: OciPlan, external?: ExternalRegistry): Promise<void> {
  const dir = join(pkgDir, LAYOUT_DIR);
  await rm(dir, { recursive: true, force: true });
  if (!plan.artifacts.length) return;
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = (digest: string, bytes: Buffer) =>
    writeFile(join(blobs, digest.slice('sha256:'.length)), bytes);
  const entries: IndexEntry[] = [];
  for (const a of plan.artifacts) {
    await put(a.packed.manifest.digest, a.packed.manifest.bytes);
    await put(a.packed.config.digest, a.packed.config.bytes);
    if (!external) for (const l of a.packed.layers) await put(l.digest, l.bytes);
    for (const tag of a.tags) {
      const e: IndexEntry = {
        descriptor: {
          mediaType: a.packed.manifest.mediaType,
          digest: a.packed.manifest.digest,
          size: a.packed.manifest.bytes.length,
          ...(a.packed.manifest.artifactType ? { artifactType: a.packed.manifest.artifactType } : {}),
        },
        repository: a.repository,
        tag,
      };
      if (a.component !== undefined) e.component = a.component;
      if (external) e.registry = external.annotation;
      entries.push(e);
    }
  }
  await writeFile(join(dir, 'oci-layout'), OCI_LAYOUT_FILE);
  await writeFile(join(dir, 'index.json'), layoutIndex(entries));
}
