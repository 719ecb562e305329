/**
 * Pre-receive rules for the OCI image layouts (`<appId>/<version>/oci/`) of a catalog push, so
 * the embedded registry only ever finds layouts it can serve: every blob's sha256 is its name
 * (OCI_DIGEST_MISMATCH), every manifest named by index.json and every blob named by a manifest
 * is there (OCI_BLOB_MISSING; layers of entries pushed to an external registry excepted),
 * index.json and manifests parse (OCI_LAYOUT_INVALID), and no layer is over the server's limit
 * (OCI_LAYER_TOO_LARGE). Blobs are hashed as streams: a layer may be hundreds of MiB.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  isDigest,
  LAYOUT_DIR,
  OCI_LAYOUT_FILE,
  parseLayoutIndex,
  parseManifest,
  type Descriptor,
} from '@margo-gitops/oci';
import { baseGitEnv, execGit } from '../exec-git.js';
import type { ChangedFile, PushFinding, QuarantineEnv } from './push-validation.js';
import { envOf, readBlob } from './push-validation.js';

export interface OciLayoutLimits {
  /** Largest layer blob. Default 512 MiB. */
  maxLayerBytes: number;
}

export const DEFAULT_OCI_LIMITS: OciLayoutLimits = { maxLayerBytes: 512 * 1024 * 1024 };

/** A manifest larger than this is not read (registries use 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const LAYOUT_RE = new RegExp(`^([^/]+/[^/]+/${LAYOUT_DIR})/(.+)$`);
const BLOB_RE = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** Is `path` a blob of a catalog package's OCI layout? (Those are limited by maxLayerBytes instead.) */
export function isOciBlobPath(path: string): boolean {
  const m = LAYOUT_RE.exec(path);
  return m !== null && BLOB_RE.test(m[2]!);
}

/** Every OCI layout touched by `changes`, checked as it is at `commit`. */
export async function ociLayoutFindings(
  q: QuarantineEnv,
  commit: string,
  changes: readonly ChangedFile[],
  limits: OciLayoutLimits = DEFAULT_OCI_LIMITS,
): Promise<PushFinding[]> {
  const touched = new Set<string>();
  const added = new Set<string>(); // paths of blobs this push adds or changes
  for (const c of changes) {
    const m = LAYOUT_RE.exec(c.path);
    if (!m) continue;
    touched.add(m[1]!);
    if (c.status !== 'deleted') added.add(c.path);
  }
  const out: PushFinding[] = [];
  for (const dir of [...touched].sort()) {
    out.push(...(await layoutFindings(q, commit, dir, added, limits)));
    if (out.length >= 20) break; // enough to explain the refusal
  }
  return out;
}

async function layoutFindings(
  q: QuarantineEnv,
  commit: string,
  dir: string,
  added: ReadonlySet<string>,
  limits: OciLayoutLimits,
): Promise<PushFinding[]> {
  const res = await execGit(['ls-tree', '-r', '-z', '-l', '--full-tree', commit, '--', `${dir}/`], {
    env: envOf(q),
    cwd: q.gitDir,
  });
  const files = new Map<string, { oid: string; size: number }>();
  for (const entry of res.stdout.toString('utf8').split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const [, type, oid, size] = entry.slice(0, tab).split(/\s+/);
    if (type === 'blob')
      files.set(entry.slice(tab + 1).slice(dir.length + 1), { oid: oid!, size: Number(size) });
  }
  if (!files.size) return []; // the layout was deleted (immutability rules speak for published ones)
  const out: PushFinding[] = [];
  const invalid = (file: string, message: string) =>
    out.push({ code: 'OCI_LAYOUT_INVALID', file: `${dir}/${file}`, message });
  const blobs = new Map<string, { oid: string; size: number; path: string }>();
  for (const [rel, f] of files) {
    const b = BLOB_RE.exec(rel);
    if (b) {
      blobs.set(`sha256:${b[1]}`, { ...f, path: `${dir}/${rel}` });
      continue;
    }
    if (rel === 'index.json') continue;
    if (rel === 'oci-layout') {
      const text = (await readBlob(q, f.oid)).toString('utf8');
      let v: unknown;
      try {
        v = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch {
        /* reported below */
      }
      if (typeof v !== 'string') invalid(rel, `must be ${OCI_LAYOUT_FILE}`);
      continue;
    }
    invalid(rel, 'an OCI layout holds only oci-layout, index.json and blobs/sha256/<64 hex digits>');
  }
  // Sizes first (cheap), then the digest of every blob this push adds, streamed.
  for (const [digest, b] of blobs) {
    if (b.size > limits.maxLayerBytes) {
      out.push({
        code: 'OCI_LAYER_TOO_LARGE',
        file: b.path,
        message: `blob is ${b.size} bytes; this server accepts layers of at most ${limits.maxLayerBytes} bytes`,
      });
      continue;
    }
    if (!added.has(b.path)) continue;
    const got = await streamDigest(q, b.oid);
    if (got !== digest)
      out.push({
        code: 'OCI_DIGEST_MISMATCH',
        file: b.path,
        message: `the content's digest is ${got}; a blob is named by the sha256 of its bytes`,
      });
  }
  const indexFile = files.get('index.json');
  if (!indexFile) {
    invalid('index.json', 'missing: an OCI layout needs index.json');
    return out;
  }
  let entries;
  try {
    entries = parseLayoutIndex(await readBlob(q, indexFile.oid), `${dir}/index.json`);
  } catch (e) {
    out.push({ code: 'OCI_LAYOUT_INVALID', file: `${dir}/index.json`, message: (e as Error).message });
    return out;
  }
  const missing = (d: Descriptor, what: string, file: string) => {
    const b = blobs.get(d.digest);
    if (!b) {
      out.push({
        code: 'OCI_BLOB_MISSING',
        file,
        message: `${what} ${d.digest} is not in ${dir}/blobs/sha256/`,
      });
      return true;
    }
    if (b.size !== d.size) {
      out.push({
        code: 'OCI_LAYOUT_INVALID',
        file,
        message: `${what} ${d.digest} has ${b.size} bytes but is described with size ${d.size}`,
      });
      return true;
    }
    return false;
  };
  const checkManifest = async (d: Descriptor, external: boolean, from: string, depth: number) => {
    if (missing(d, 'manifest', from)) return;
    const b = blobs.get(d.digest)!;
    if (b.size > MAX_MANIFEST_BYTES) {
      out.push({ code: 'OCI_LAYOUT_INVALID', file: b.path, message: 'a manifest may have at most 4 MiB' });
      return;
    }
    let m;
    try {
      m = parseManifest(await readBlob(q, b.oid), b.path);
    } catch (e) {
      out.push({ code: 'OCI_LAYOUT_INVALID', file: b.path, message: (e as Error).message });
      return;
    }
    if (m.manifests) {
      if (depth >= 2) {
        out.push({ code: 'OCI_LAYOUT_INVALID', file: b.path, message: 'image indexes nest too deep' });
        return;
      }
      for (const child of m.manifests) await checkManifest(child, external, b.path, depth + 1);
      return;
    }
    if (m.config) missing(m.config, 'config', b.path);
    for (const layer of m.layers) {
      if (!isDigest(layer.digest)) continue;
      if (layer.size > limits.maxLayerBytes)
        out.push({
          code: 'OCI_LAYER_TOO_LARGE',
          file: b.path,
          message: `layer ${layer.digest} is ${layer.size} bytes; this server accepts layers of at most ${limits.maxLayerBytes} bytes`,
        });
      else if (!external) missing(layer, 'layer', b.path);
    }
  };
  for (const e of entries)
    await checkManifest(e.descriptor, e.registry !== undefined, `${dir}/index.json`, 0);
  return out;
}

/** sha256 of a blob (in quarantine or stored), streamed out of `git cat-file`. */
function streamDigest(q: QuarantineEnv, oid: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', 'blob', oid], {
      cwd: q.gitDir,
      env: { ...baseGitEnv(), ...envOf(q) } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const hash = createHash('sha256');
    child.stdout.on('data', (d: Buffer) => hash.update(d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(`sha256:${hash.digest('hex')}`)
        : reject(new Error(`git cat-file blob ${oid} exited ${code}`)),
    );
  });
}
