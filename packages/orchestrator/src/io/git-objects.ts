/**
 * A small, fast reader/writer of bare Git repositories for the orchestrator's hot path: it writes
 * loose objects and moves refs with Git's own lock-file protocol (`<ref>.lock`, compare-and-swap),
 * so stock git and the embedded server see exactly what git itself would have written. Objects it
 * cannot find loose (packed ones) are read through `git cat-file`. Internal to the orchestrator.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { MargoError } from '@margo-gitops/spec';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface GitObject {
  type: ObjectType;
  content: Buffer;
}

export interface TreeItem {
  mode: string;
  name: string;
  oid: string;
}

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
}

/** The oid and the serialised (uncompressed) form of an object. */
export function hashObject(type: ObjectType, content: Buffer): { oid: string; raw: Buffer } {
  const raw = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  return { oid: createHash('sha1').update(raw).digest('hex'), raw };
}

function objectPath(gitdir: string, oid: string): string {
  return join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
}

/** Writes a loose object unless it already exists; returns its oid. */
export async function writeObject(gitdir: string, type: ObjectType, content: Buffer): Promise<string> {
  const { oid, raw } = hashObject(type, content);
  const path = objectPath(gitdir, oid);
  try {
    await fs.access(path);
    return oid;
  } catch {
    /* not there yet */
  }
  const dir = join(gitdir, 'objects', oid.slice(0, 2));
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
  await fs.writeFile(tmp, deflateSync(raw, { level: 1 }), { mode: 0o444 });
  await fs.rename(tmp, path);
  return oid;
}

export function runGit(gitdir: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      ['--git-dir', gitdir, ...args],
      { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new MargoError(
              'ORCH_GIT_FAILED',
              `git ${args[0]} failed in ${gitdir}: ${stderr.toString().trim() || err.message}`,
              { cause: err },
            ),
          );
        } else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** The blobs of `git ls-tree -z` output: path -> blob id (trees and submodules left out). */
function lsTreeBlobs(output: Buffer, strip = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const rec of output.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [, type, oid] = rec.slice(0, tab).split(' ');
    if (type === 'blob') out.set(rec.slice(tab + 1 + strip.length), oid!);
  }
  return out;
}

/** Every file (blob) of the tree at `ref`: path -> blob id. */
export async function listBlobsCli(gitdir: string, ref: string): Promise<Map<string, string>> {
  return lsTreeBlobs(await runGit(gitdir, ['ls-tree', '-r', '-z', ref]));
}

/** The files directly in folder `dir` at `ref` (not below): file name -> blob id. */
export async function listDirCli(gitdir: string, ref: string, dir: string): Promise<Map<string, string>> {
  return lsTreeBlobs(await runGit(gitdir, ['ls-tree', '-z', ref, `${dir}/`]), `${dir}/`);
}

/** Reads objects in bulk through `git cat-file --batch` (handles packed objects). */
export async function readObjectsCli(gitdir: string, oids: string[]): Promise<Map<string, GitObject>> {
  const out = new Map<string, GitObject>();
  if (!oids.length) return out;
  const buf = await runGit(gitdir, ['cat-file', '--batch'], oids.join('\n') + '\n');
  let pos = 0;
  for (const oid of oids) {
    const nl = buf.indexOf(10, pos);
    const header = buf.subarray(pos, nl).toString();
    pos = nl + 1;
    const [, type, size] = header.split(' ');
    if (!size || header.endsWith('missing')) continue;
    const n = Number(size);
    out.set(oid, { type: type as ObjectType, content: buf.subarray(pos, pos + n) });
    pos += n + 1;
  }
  return out;
}

/** Reads one object: loose first, else through git (packed). Null when it does not exist. */
export async function readObject(gitdir: string, oid: string): Promise<GitObject | null> {
  let data: Buffer;
  try {
    data = await fs.readFile(objectPath(gitdir, oid));
  } catch {
    return (await readObjectsCli(gitdir, [oid])).get(oid) ?? null;
  }
  const raw = inflateSync(data);
  const sp = raw.indexOf(32);
  const nul = raw.indexOf(0, sp);
  return { type: raw.subarray(0, sp).toString() as ObjectType, content: raw.subarray(nul + 1) };
}

export function parseTree(content: Buffer): TreeItem[] {
  const items: TreeItem[] = [];
  let pos = 0;
  while (pos < content.length) {
    const sp = content.indexOf(32, pos);
    const nul = content.indexOf(0, sp);
    items.push({
      mode: content.subarray(pos, sp).toString(),
      name: content.subarray(sp + 1, nul).toString(),
      oid: content.subarray(nul + 1, nul + 21).toString('hex'),
    });
    pos = nul + 21;
  }
  return items;
}

function sortKey(i: TreeItem): string {
  return i.mode === '40000' ? `${i.name}/` : i.name;
}

export function serialiseTree(items: TreeItem[]): Buffer {
  const sorted = [...items].sort((a, b) => {
    const x = sortKey(a);
    const y = sortKey(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return Buffer.concat(
    sorted.flatMap((i) => [Buffer.from(`${i.mode} ${i.name}\0`), Buffer.from(i.oid, 'hex')]),
  );
}

/**
 * Hashes (and with `write`, stores) the tree of a set of files; returns the root tree oid, or null
 * for an empty set. `subtrees` receives the oid of every folder by path.
 */
export async function buildTree(
  gitdir: string | null,
  files: ReadonlyMap<string, Buffer>,
  subtrees?: Map<string, string>,
): Promise<string | null> {
  type Dir = { files: Map<string, Buffer>; dirs: Map<string, Dir> };
  const root: Dir = { files: new Map(), dirs: new Map() };
  for (const [path, content] of files) {
    const parts = path.split('/');
    let d = root;
    for (const p of parts.slice(0, -1)) {
      let n = d.dirs.get(p);
      if (!n) d.dirs.set(p, (n = { files: new Map(), dirs: new Map() }));
      d = n;
    }
    d.files.set(parts[parts.length - 1]!, content);
  }
  const put = async (type: ObjectType, content: Buffer) =>
    gitdir ? writeObject(gitdir, type, content) : hashObject(type, content).oid;
  const walk = async (d: Dir, prefix: string): Promise<string | null> => {
    const items: TreeItem[] = [];
    for (const [name, content] of d.files)
      items.push({ mode: '100644', name, oid: await put('blob', content) });
    for (const [name, sub] of d.dirs) {
      const oid = await walk(sub, `${prefix}${name}/`);
      if (oid) items.push({ mode: '40000', name, oid });
    }
    if (!items.length) return null;
    const oid = await put('tree', serialiseTree(items));
    subtrees?.set(prefix.replace(/\/$/, ''), oid);
    return oid;
  };
  return walk(root, '');
}

/** The tree oid and parents of a commit. */
export function parseCommit(content: Buffer): {
  tree: string;
  parents: string[];
  author?: Signature;
  message: string;
} {
  const text = content.toString('utf8');
  const end = text.indexOf('\n\n');
  const head = text.slice(0, end < 0 ? text.length : end).split('\n');
  const out: { tree: string; parents: string[]; author?: Signature; message: string } = {
    tree: '',
    parents: [],
    message: end < 0 ? '' : text.slice(end + 2),
  };
  for (const line of head) {
    if (line.startsWith('tree ')) out.tree = line.slice(5);
    else if (line.startsWith('parent ')) out.parents.push(line.slice(7));
    else if (line.startsWith('author ')) {
      const m = /^author (.*) <(.*)> (\d+) [+-]\d{4}$/.exec(line);
      if (m) out.author = { name: m[1]!, email: m[2]!, timestamp: Number(m[3]) };
    } else if (line.startsWith('committer ') && !out.author) {
      /* author comes first in valid commits */
    }
  }
  return out;
}

/** Committer time of a commit in seconds (for "last report" of status branches). */
export function commitTime(content: Buffer): number | undefined {
  const m = /\ncommitter .* (\d+) [+-]\d{4}\n/.exec(`\n${content.toString('utf8')}`);
  return m ? Number(m[1]) : undefined;
}

function sig(s: Signature): string {
  const clean = (x: string) => x.replace(/[<>\n]/g, '');
  return `${clean(s.name)} <${clean(s.email)}> ${Math.floor(s.timestamp)} +0000`;
}

export async function writeCommit(
  gitdir: string,
  c: { tree: string; parents: string[]; author: Signature; committer: Signature; message: string },
): Promise<string> {
  const lines = [
    `tree ${c.tree}`,
    ...c.parents.map((p) => `parent ${p}`),
    `author ${sig(c.author)}`,
    `committer ${sig(c.committer)}`,
    '',
    c.message.endsWith('\n') ? c.message : `${c.message}\n`,
  ];
  return writeObject(gitdir, 'commit', Buffer.from(lines.join('\n'), 'utf8'));
}

function fullRef(ref: string): string {
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

/** The commit a ref points at (loose ref, else packed-refs), or null. */
export async function readRef(gitdir: string, ref: string): Promise<string | null> {
  const name = fullRef(ref);
  try {
    const s = (await fs.readFile(join(gitdir, name), 'utf8')).trim();
    if (s.startsWith('ref: ')) return readRef(gitdir, s.slice(5));
    return s || null;
  } catch {
    /* maybe packed */
  }
  let packed: string;
  try {
    packed = await fs.readFile(join(gitdir, 'packed-refs'), 'utf8');
  } catch {
    return null;
  }
  for (const line of packed.split('\n')) {
    if (line.endsWith(` ${name}`) && !line.startsWith('#') && !line.startsWith('^')) return line.slice(0, 40);
  }
  return null;
}

/**
 * Moves `ref` to `newOid` only if it still points at `expectedOid` (null = must not exist), with
 * git's lock-file protocol. Throws ORCH_REF_CONFLICT when it moved or is locked.
 */
export async function updateRef(
  gitdir: string,
  ref: string,
  expectedOid: string | null,
  newOid: string,
): Promise<void> {
  const name = fullRef(ref);
  const path = join(gitdir, name);
  const lock = `${path}.lock`;
  await fs.mkdir(join(path, '..'), { recursive: true });
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(lock, 'wx');
  } catch (e) {
    throw new MargoError('ORCH_REF_CONFLICT', `${name} in ${gitdir} is locked by another writer`, {
      cause: e,
    });
  }
  try {
    const current = await readRef(gitdir, name);
    if (current !== expectedOid) {
      throw new MargoError(
        'ORCH_REF_CONFLICT',
        `${name} in ${gitdir} moved (expected ${expectedOid ?? 'none'}, found ${current ?? 'none'})`,
      );
    }
    await fh.writeFile(`${newOid}\n`);
    await fh.close();
    await fs.rename(lock, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(lock, { force: true });
    throw e;
  }
}

/** Creates a bare repository (HEAD -> main) unless one exists. Same layout as `git init --bare`. */
export async function initBare(gitdir: string): Promise<void> {
  try {
    await fs.access(join(gitdir, 'HEAD'));
    return;
  } catch {
    /* create */
  }
  await fs.mkdir(join(gitdir, 'objects', 'info'), { recursive: true });
  await fs.mkdir(join(gitdir, 'objects', 'pack'), { recursive: true });
  await fs.mkdir(join(gitdir, 'refs', 'heads'), { recursive: true });
  await fs.mkdir(join(gitdir, 'refs', 'tags'), { recursive: true });
  await fs.writeFile(
    join(gitdir, 'config'),
    '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n',
  );
  await fs.writeFile(join(gitdir, 'description'), 'margo-gitops device repository\n');
  await fs.writeFile(join(gitdir, 'HEAD'), 'ref: refs/heads/main\n');
}

/** Every file under `prefix` in a tree, recursively (loose objects read directly). */
export async function readTreeFiles(
  gitdir: string,
  treeOid: string,
  prefix = '',
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (oid: string, path: string) => {
    const t = await readObject(gitdir, oid);
    if (!t) throw new MargoError('ORCH_GIT_FAILED', `tree ${oid} missing in ${gitdir}`);
    for (const item of parseTree(t.content)) {
      const p = path ? `${path}/${item.name}` : item.name;
      if (prefix && !(p.startsWith(prefix) || prefix.startsWith(`${p}/`))) continue;
      if (item.mode === '40000') await walk(item.oid, p);
      else if (item.mode !== '160000') {
        const b = await readObject(gitdir, item.oid);
        if (b) out.set(p, b.content);
      }
    }
  };
  await walk(treeOid, '');
  return out;
}

/** All files at a ref through git itself (for large, packed repositories such as the catalog). */
export async function readFilesCli(
  gitdir: string,
  ref: string,
  filter: (path: string) => boolean = () => true,
): Promise<Map<string, Buffer>> {
  return readBlobsCli(
    gitdir,
    [...(await listBlobsCli(gitdir, ref))].filter(([path]) => filter(path)),
  );
}

/** Contents of listed blobs (`[path, blob id]`, e.g. from listBlobsCli): path -> bytes. */
export async function readBlobsCli(
  gitdir: string,
  wanted: readonly (readonly [string, string])[],
): Promise<Map<string, Buffer>> {
  const objs = await readObjectsCli(
    gitdir,
    wanted.map(([, oid]) => oid),
  );
  const out = new Map<string, Buffer>();
  for (const [path, oid] of wanted) {
    const o = objs.get(oid);
    if (o) out.set(path, o.content);
  }
  return out;
}

/** Author of a commit read through git (works for packed commits too). */
export async function readCommit(gitdir: string, oid: string) {
  const o = await readObject(gitdir, oid);
  if (!o || o.type !== 'commit')
    throw new MargoError('ORCH_GIT_FAILED', `commit ${oid} missing in ${gitdir}`);
  return { ...parseCommit(o.content), time: commitTime(o.content) };
}
