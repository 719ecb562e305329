/**
 * The embedded registry's LayoutSource over the catalog's bare repository (branch main): every
 * `<appId>/<version>/oci/` layout as committed by `margo app publish`, plus, for legacy packages
 * (no artifact for a Compose component whose `packageLocation` is a package-relative tarball), the
 * artifact synthesised from that tarball with `composeArtifact()`, the same bytes the orchestrator
 * pins by digest. Blobs stream out of `git cat-file`; nothing large is held in memory.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  composeArtifact,
  componentRepository,
  COMPOSE_ARTIFACT,
  EMPTY_CONFIG,
  LAYOUT_DIR,
  layoutIndex,
  OCI_EMPTY_DIGEST,
  OCI_MANIFEST,
  parseLayoutIndex,
  tagForVersion,
  type IndexEntry,
  type LayoutSource,
  type SourceLayout,
} from '@margo-gitops/oci';
import { readRef } from '@margo-gitops/git';
import { packageRelativePath } from '@margo-gitops/orchestrator';
import { normaliseApplicationDescription, parseSource } from '@margo-gitops/spec';

type BlobAt = { oid: string } | { bytes: Buffer };

interface RevisionState {
  layouts: SourceLayout[];
  blobs: Map<string, Map<string, BlobAt>>; // layout name -> digest -> where
}

const LAYOUT_FILE_RE = new RegExp(
  `^([^/]+)/([^/]+)/${LAYOUT_DIR}/(index\\.json|blobs/sha256/([0-9a-f]{64}))$`,
);
const MARGO_YAML_RE = /^([^/]+)\/([^/]+)\/margo\.ya?ml$/;

export class CatalogLayoutSource implements LayoutSource {
  private readonly states = new Map<string, Promise<RevisionState>>();
  /** git blob id -> sha256 digest (blob ids name content, so this never goes stale). */
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly gitDir: string,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  async revision(): Promise<string | undefined> {
    // Read from the ref files, not with a git process: this runs on every registry request.
    return (await readRef(this.gitDir, 'refs/heads/main').catch(() => null)) ?? undefined;
  }

  async layouts(revision: string): Promise<SourceLayout[]> {
    return (await this.state(revision)).layouts;
  }

  async readBlob(revision: string, layout: string, digest: string): Promise<Buffer> {
    const at = await this.blobAt(revision, layout, digest);
    return 'bytes' in at ? at.bytes : git(this.gitDir, ['cat-file', 'blob', at.oid]);
  }

  async openBlob(revision: string, layout: string, digest: string): Promise<Readable> {
    const at = await this.blobAt(revision, layout, digest);
    if ('bytes' in at) return Readable.from([at.bytes]);
    const child = spawn('git', ['--git-dir', this.gitDir, 'cat-file', 'blob', at.oid], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    // A failing git ends the stream short; the caller's digest check refuses it.
    return child.stdout;
  }

  private async blobAt(revision: string, layout: string, digest: string): Promise<BlobAt> {
    const at = (await this.state(revision)).blobs.get(layout)?.get(digest);
    if (!at) throw new Error(`${layout}: no blob ${digest} at ${revision}`);
    return at;
  }

  private state(revision: string): Promise<RevisionState> {
    let s = this.states.get(revision);
    if (!s) {
      s = this.read(revision);
      this.states.set(revision, s);
      s.catch(() => this.states.delete(revision));
      // The registry asks about the newest revision (and briefly the one before).
      while (this.states.size > 2) this.states.delete(this.states.keys().next().value as string);
    }
    return s;
  }

  private async read(revision: string): Promise<RevisionState> {
    const listing = await git(this.gitDir, ['ls-tree', '-r', '-z', '-l', '--full-tree', revision]);
    const oci = new Map<string, { index?: string; blobs: Map<string, { oid: string; size: number }> }>();
    const specs = new Map<string, string>(); // `<app>/<version>` -> margo.yaml blob
    const files = new Map<string, { oid: string; size: number }>();
    for (const entry of listing.toString('utf8').split('\0')) {
      const tab = entry.indexOf('\t');
      if (tab < 0) continue;
      const [mode, type, oid, size] = entry.slice(0, tab).split(/\s+/);
      const path = entry.slice(tab + 1);
      if (type !== 'blob' || mode === '120000') continue;
      files.set(path, { oid: oid!, size: Number(size) });
      const m = LAYOUT_FILE_RE.exec(path);
      if (m) {
        const name = `${m[1]}/${m[2]}/${LAYOUT_DIR}`;
        let l = oci.get(name);
        if (!l) oci.set(name, (l = { blobs: new Map() }));
        if (m[4]) l.blobs.set(`sha256:${m[4]}`, { oid: oid!, size: Number(size) });
        else l.index = oid!;
        continue;
      }
      const y = MARGO_YAML_RE.exec(path);
      if (y) specs.set(`${y[1]}/${y[2]}`, oid!);
    }
    const small = await catFiles(this.gitDir, [
      ...[...oci.values()].flatMap((l) => (l.index ? [l.index] : [])),
      ...specs.values(),
    ]);
    const state: RevisionState = { layouts: [], blobs: new Map() };
    const covered = new Map<string, Set<string>>(); // `<app>/<version>` -> components with an artifact
    for (const [name, l] of oci) {
      if (!l.index) continue;
      const index = small.get(l.index)!;
      state.layouts.push({ name, index, blobs: new Map([...l.blobs].map(([d, b]) => [d, b.size])) });
      state.blobs.set(name, new Map([...l.blobs].map(([d, b]) => [d, { oid: b.oid }])));
      try {
        const comps = new Set(parseLayoutIndex(index).flatMap((e) => (e.component ? [e.component] : [])));
        covered.set(name.slice(0, -LAYOUT_DIR.length - 1), comps);
      } catch {
        /* the registry index reports it */
      }
    }
    for (const [folder, oid] of specs) {
      try {
        const legacy = await this.legacyLayout(folder, small.get(oid)!, files, covered.get(folder));
        if (legacy) {
          state.layouts.push(legacy.layout);
          state.blobs.set(legacy.layout.name, legacy.blobs);
        }
      } catch (e) {
        this.warn(`${folder}: no artifact synthesised: ${(e as Error).message}`);
      }
    }
    return state;
  }

  /** The synthesised layout of a legacy package's package-relative Compose tarballs, if any. */
  private async legacyLayout(
    folder: string,
    margoYaml: Buffer,
    files: ReadonlyMap<string, { oid: string; size: number }>,
    covered: ReadonlySet<string> | undefined,
  ): Promise<{ layout: SourceLayout; blobs: Map<string, BlobAt> } | undefined> {
    const [appId, version] = folder.split('/') as [string, string];
    const src = parseSource(margoYaml, { file: `${folder}/margo.yaml` });
    if (!src.data || typeof src.data !== 'object') return undefined;
    const app = normaliseApplicationDescription(src.data);
    const entries: IndexEntry[] = [];
    const blobs = new Map<string, BlobAt>([[OCI_EMPTY_DIGEST, { bytes: EMPTY_CONFIG }]]);
    const sizes = new Map<string, number>([[OCI_EMPTY_DIGEST, EMPTY_CONFIG.length]]);
    for (const profile of app.profiles)
      for (const c of profile.components) {
        const loc = c.compose?.packageLocation;
        const rel = loc === undefined ? undefined : packageRelativePath(loc);
        const file = rel === undefined ? undefined : files.get(`${folder}/${rel}`);
        if (!file || covered?.has(c.name)) continue;
        const layerDigest = await this.digestOf(file.oid);
        const m = composeArtifact(layerDigest, file.size, app.version);
        blobs.set(layerDigest, { oid: file.oid });
        sizes.set(layerDigest, file.size);
        blobs.set(m.digest, { bytes: m.bytes });
        sizes.set(m.digest, m.bytes.length);
        entries.push({
          descriptor: {
            mediaType: OCI_MANIFEST,
            digest: m.digest,
            size: m.bytes.length,
            artifactType: COMPOSE_ARTIFACT,
          },
          repository: componentRepository(appId, c.name),
          tag: tagForVersion(version),
          component: c.name,
        });
      }
    if (!entries.length) return undefined;
    return { layout: { name: `${folder}/(synthesised)`, index: layoutIndex(entries), blobs: sizes }, blobs };
  }

  /** sha256 of a Git blob, streamed (a package tarball may be large). */
  private async digestOf(oid: string): Promise<string> {
    let d = this.digests.get(oid);
    if (!d) {
      const hash = createHash('sha256');
      const child = spawn('git', ['--git-dir', this.gitDir, 'cat-file', 'blob', oid], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      for await (const chunk of child.stdout) hash.update(chunk as Buffer);
      const code = await new Promise<number | null>((r) =>
        child.exitCode !== null ? r(child.exitCode) : child.once('close', r),
      );
      if (code !== 0) throw new Error(`cannot read blob ${oid}`);
      d = `sha256:${hash.digest('hex')}`;
      this.digests.set(oid, d);
    }
    return d;
  }
}

/** Stdout of a git command in `gitDir` (rejects on a non-zero exit). */
function git(gitDir: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`git ${args[0]} exited ${code}`)),
    );
    child.stdin.end(input);
  });
}

/** Contents of small blobs by id, in one `git cat-file --batch`. */
async function catFiles(gitDir: string, oids: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (!oids.length) return out;
  const buf = await git(gitDir, ['cat-file', '--batch'], oids.join('\n') + '\n');
  let pos = 0;
  for (const oid of oids) {
    const nl = buf.indexOf(10, pos);
    const [, type, size] = buf.subarray(pos, nl).toString('utf8').split(' ');
    pos = nl + 1;
    if (type === undefined || size === undefined || type === 'missing') continue;
    out.set(oid, buf.subarray(pos, pos + Number(size)));
    pos += Number(size) + 1;
  }
  return out;
}
