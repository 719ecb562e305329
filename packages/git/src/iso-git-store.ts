import * as fs from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { MargoError, isMargoError } from '@margo-gitops/spec';
import { authorizationHeader, redactUrl } from './auth-header.js';
import {
  ZERO_OID,
  assertFilePath,
  assertRefName,
  buildMessage,
  fullRef,
  isOid,
  normalisePrefix,
  shortRef,
  toBuffer,
} from './paths.js';
import { isoFs } from './iso-fs.js';
import { casUpdateRef, readAllRefs, readRef } from './refs-fs.js';
import type {
  CommitFilesInput,
  CommitResult,
  CompactOptions,
  CompactResult,
  FetchOptions,
  FetchResult,
  GitAuth,
  GitStore,
  PushOptions,
  RemoteOptions,
  TreeEntry,
} from './store.js';

type IsoTreeEntry = { mode: string; path: string; oid: string; type: 'blob' | 'tree' | 'commit' };

/** Maps an isomorphic-git HTTP failure to a MargoError. */
function remoteError(e: unknown, url: string, action: string): MargoError {
  if (isMargoError(e)) return e;
  const err = e as { code?: string; data?: { statusCode?: number; response?: string }; message?: string };
  const where = redactUrl(url);
  if (err.code === 'HttpError') {
    const status = err.data?.statusCode;
    if (status === 401)
      return new MargoError(
        'GIT_AUTH_FAILED',
        `${action} ${where}: the server refused the credentials (401)`,
        { cause: e },
      );
    if (status === 403)
      return new MargoError(
        'GIT_ACCESS_DENIED',
        `${action} ${where}: access denied (403) ${err.data?.response?.trim() ?? ''}`.trim(),
        { cause: e },
      );
    if (status === 429)
      return new MargoError('GIT_RATE_LIMITED', `${action} ${where}: rate limited (429)`, { cause: e });
    return new MargoError('GIT_REMOTE_UNREACHABLE', `${action} ${where}: HTTP ${status}`, {
      cause: e,
      data: { status },
    });
  }
  if (err.code === 'GitPushError' || err.code === 'PushRejectedError') {
    return new MargoError('GIT_PUSH_REJECTED', `${action} ${where}: ${err.message}`, { cause: e });
  }
  const msg = err.message ?? String(e);
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|socket hang up/.test(msg)) {
    return new MargoError('GIT_REMOTE_UNREACHABLE', `${action} ${where}: ${msg}`, { cause: e });
  }
  return new MargoError('GIT_COMMAND_FAILED', `${action} ${where}: ${msg}`, { cause: e });
}

function headersFor(auth?: GitAuth, extra?: Record<string, string>): Record<string, string> {
  return { ...(extra ?? {}), ...(auth ? { Authorization: authorizationHeader(auth) } : {}) };
}

function isNotFound(e: unknown): boolean {
  return (e as { code?: string }).code === 'NotFoundError';
}

/**
 * GitStore on isomorphic-git: pure JavaScript, no git binary needed (the default on devices).
 * Works on bare repositories and on work trees (it then uses `<dir>/.git` and never touches files
 * in the work tree).
 *
 * @example
 * const store = new IsoGitStore('/var/lib/margo/repo.git');
 * await store.clone('http://host/git/devices/d1.git', { auth: { token } });
 * const files = await store.readFiles('main', 'deployments/');
 */
export class IsoGitStore implements GitStore {
  readonly dir: string;
  private readonly cache: object = {};

  constructor(dir: string) {
    this.dir = dir;
  }

  private get gitdir(): string {
    const dotgit = join(this.dir, '.git');
    return fs.existsSync(dotgit) ? dotgit : this.dir;
  }

  async init(opts: { bare?: boolean; defaultBranch?: string } = {}): Promise<void> {
    const branch = opts.defaultBranch ?? 'main';
    if (fs.existsSync(join(this.gitdir, 'HEAD'))) return;
    await mkdir(this.dir, { recursive: true });
    try {
      if (opts.bare ?? true)
        await git.init({ fs: isoFs, gitdir: this.dir, bare: true, defaultBranch: branch });
      else await git.init({ fs: isoFs, dir: this.dir, defaultBranch: branch });
    } catch (e) {
      throw new MargoError(
        'GIT_COMMAND_FAILED',
        `cannot create repository ${this.dir}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  async clone(url: string, opts: RemoteOptions = {}): Promise<FetchResult> {
    await this.init({ bare: true, defaultBranch: shortRef(fullRef(opts.ref ?? 'main')) });
    const res = await this.fetch(url, opts);
    const ref = fullRef(opts.ref ?? 'main');
    if (ref.startsWith('refs/heads/')) await writeFile(join(this.gitdir, 'HEAD'), `ref: ${ref}\n`);
    return res;
  }

  async fetch(url: string, opts: FetchOptions = {}): Promise<FetchResult> {
    const remoteRef = fullRef(opts.ref ?? 'main');
    const into = fullRef(opts.into ?? remoteRef);
    assertRefName(remoteRef);
    assertRefName(into);
    let oid: string | null;
    const before = await readRef(this.gitdir, into);
    // isomorphic-git records remote-tracking refs and needs a refspec for that.
    const spec = await git.getConfig({ fs: isoFs, gitdir: this.gitdir, path: 'remote.origin.fetch' });
    if (!spec)
      await git.setConfig({
        fs: isoFs,
        gitdir: this.gitdir,
        path: 'remote.origin.fetch',
        value: '+refs/heads/*:refs/remotes/origin/*',
      });
    const headers = headersFor(opts.auth, opts.headers);
    // An up-to-date poll costs one ref advertisement (GET info/refs) and nothing else: isomorphic-git
    // would otherwise always post an upload-pack request, which makes the server start git.
    let advertised: string | undefined;
    try {
      const refs = await git.listServerRefs({ http, url, headers, protocolVersion: 1, prefix: remoteRef });
      advertised = refs.find((r) => r.ref === remoteRef)?.oid;
    } catch (e) {
      throw remoteError(e, url, 'fetch from');
    }
    if (!advertised) return { oid: null, changed: false };
    if (!opts.depth && (await this.hasCommit(advertised))) {
      if (before === advertised) return { oid: advertised, changed: false };
      await casUpdateRef(this.gitdir, into, advertised, before, { force: true });
      return { oid: advertised, changed: true };
    }
    try {
      const res = await git.fetch({
        fs: isoFs,
        http,
        gitdir: this.gitdir,
        url,
        ref: remoteRef,
        remoteRef,
        singleBranch: true,
        tags: false,
        cache: this.cache,
        headers,
        ...(opts.depth ? { depth: opts.depth } : {}),
      });
      oid = res.fetchHead ?? null;
    } catch (e) {
      if (isNotFound(e)) oid = null;
      else throw remoteError(e, url, 'fetch from');
    }
    if (!oid) return { oid: null, changed: false };
    if (before === oid) return { oid, changed: false };
    await casUpdateRef(this.gitdir, into, oid, before, { force: true });
    return { oid, changed: true };
  }

  private async hasCommit(oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs: isoFs, gitdir: this.gitdir, oid, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  async push(url: string, ref: string, opts: PushOptions = {}): Promise<void> {
    const local = fullRef(ref);
    const remote = fullRef(opts.remoteRef ?? ref);
    const messages: string[] = [];
    try {
      await git.push({
        fs: isoFs,
        http,
        gitdir: this.gitdir,
        url,
        ref: local,
        remoteRef: remote,
        force: opts.force ?? false,
        headers: headersFor(opts.auth, opts.headers),
        onMessage: (m: string) => {
          messages.push(m);
        },
        cache: this.cache,
      });
    } catch (e) {
      const err = remoteError(e, url, 'push to');
      if (messages.length && err.code === 'GIT_PUSH_REJECTED') {
        const remoteMessages = messages
          .join('')
          .split('\n')
          .map((l) => l.trimEnd())
          .filter(Boolean);
        throw new MargoError('GIT_PUSH_REJECTED', `${err.message}\n${remoteMessages.join('\n')}`, {
          cause: e,
          data: { remoteMessages },
        });
      }
      throw err;
    }
  }

  async resolveRef(ref: string): Promise<string | null> {
    if (isOid(ref)) return ref;
    return readRef(this.gitdir, fullRef(ref));
  }

  async listRefs(): Promise<Map<string, string>> {
    return (await readAllRefs(this.gitdir)).refs;
  }

  private async commitOf(ref: string): Promise<string> {
    const oid = await this.resolveRef(ref);
    if (!oid)
      throw new MargoError('GIT_REF_NOT_FOUND', `ref ${ref} not found in ${this.dir}`, { data: { ref } });
    return oid;
  }

  private async treeOf(commit: string): Promise<string> {
    try {
      const { commit: c } = await git.readCommit({
        fs: isoFs,
        gitdir: this.gitdir,
        oid: commit,
        cache: this.cache,
      });
      return c.tree;
    } catch (e) {
      throw new MargoError('GIT_REF_NOT_FOUND', `commit ${commit} not found in ${this.dir}`, { cause: e });
    }
  }

  private async readTreeObject(oid: string): Promise<IsoTreeEntry[]> {
    const { tree } = await git.readTree({ fs: isoFs, gitdir: this.gitdir, oid, cache: this.cache });
    return tree as IsoTreeEntry[];
  }

  async readFile(ref: string, path: string): Promise<Buffer | null> {
    const commit = await this.commitOf(ref);
    try {
      const { blob } = await git.readBlob({
        fs: isoFs,
        gitdir: this.gitdir,
        oid: commit,
        filepath: path,
        cache: this.cache,
      });
      return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'NotFoundError' || code === 'ObjectTypeError') return null;
      throw new MargoError('GIT_COMMAND_FAILED', `cannot read ${path} at ${ref}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async readTree(ref: string, prefix?: string): Promise<Map<string, TreeEntry>> {
    const root = await this.treeOf(await this.commitOf(ref));
    const want = normalisePrefix(prefix);
    const out = new Map<string, TreeEntry>();
    const walk = async (treeOid: string, base: string): Promise<void> => {
      for (const e of await this.readTreeObject(treeOid)) {
        const p = base + e.path;
        if (e.type === 'tree') {
          const dir = `${p}/`;
          if (want.startsWith(dir) || dir.startsWith(want)) await walk(e.oid, dir);
        } else if (e.type === 'blob' && p.startsWith(want)) {
          out.set(p, { oid: e.oid, mode: e.mode });
        }
      }
    };
    await walk(root, '');
    return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async listEntries(ref: string): Promise<Map<string, TreeEntry>> {
    const out = new Map<string, TreeEntry>();
    const walk = async (treeOid: string, base: string): Promise<void> => {
      for (const e of await this.readTreeObject(treeOid)) {
        if (e.type === 'tree') await walk(e.oid, `${base}${e.path}/`);
        else out.set(base + e.path, { oid: e.oid, mode: e.mode });
      }
    };
    await walk(await this.treeOf(await this.commitOf(ref)), '');
    return out;
  }

  async readFiles(ref: string, prefix?: string): Promise<Map<string, Buffer>> {
    const tree = await this.readTree(ref, prefix);
    const out = new Map<string, Buffer>();
    for (const [p, e] of tree) {
      const { blob } = await git.readBlob({ fs: isoFs, gitdir: this.gitdir, oid: e.oid, cache: this.cache });
      out.set(p, Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength));
    }
    return out;
  }

  /** Applies changes (paths relative to this tree) to a tree; returns the new tree oid or null when empty. */
  private async applyToTree(
    treeOid: string | null,
    changes: Map<string, Buffer | null>,
  ): Promise<string | null> {
    const entries = new Map<string, IsoTreeEntry>();
    if (treeOid) for (const e of await this.readTreeObject(treeOid)) entries.set(e.path, e);
    let dirty = false;
    const sub = new Map<string, Map<string, Buffer | null>>();
    for (const [p, content] of changes) {
      const i = p.indexOf('/');
      if (i >= 0) {
        const d = p.slice(0, i);
        if (!sub.has(d)) sub.set(d, new Map());
        sub.get(d)!.set(p.slice(i + 1), content);
        continue;
      }
      const existing = entries.get(p);
      if (content === null) {
        if (existing && existing.type !== 'tree') {
          entries.delete(p);
          dirty = true;
        }
        continue;
      }
      const oid = await git.hashBlob({ object: content }).then((r) => r.oid);
      if (existing && existing.type === 'blob' && existing.oid === oid) continue;
      await git.writeBlob({ fs: isoFs, gitdir: this.gitdir, blob: content });
      const mode = existing && existing.type === 'blob' ? existing.mode : '100644';
      entries.set(p, { mode, path: p, oid, type: 'blob' });
      dirty = true;
    }
    for (const [d, subChanges] of sub) {
      const existing = entries.get(d);
      const existingTree = existing && existing.type === 'tree' ? existing.oid : null;
      const hasAdds = [...subChanges.values()].some((v) => v !== null);
      if (existing && existing.type !== 'tree') {
        if (!hasAdds) continue;
        entries.delete(d); // a file is replaced by a folder
      }
      const next = await this.applyToTree(existingTree, subChanges);
      if (next === existingTree) continue;
      if (next === null) entries.delete(d);
      else entries.set(d, { mode: '040000', path: d, oid: next, type: 'tree' });
      dirty = true;
    }
    if (!dirty) return treeOid;
    if (entries.size === 0) return null;
    return git.writeTree({ fs: isoFs, gitdir: this.gitdir, tree: [...entries.values()] });
  }

  async commitFiles(input: CommitFilesInput): Promise<CommitResult> {
    const ref = fullRef(input.ref);
    assertRefName(ref);
    const changes = new Map<string, Buffer | null>();
    for (const [p, v] of input.changes) {
      assertFilePath(p);
      changes.set(p, v === null ? null : toBuffer(v));
    }
    const gitdir = this.gitdir;
    const current = await readRef(gitdir, ref);
    const expected = input.expectedOid === ZERO_OID ? null : input.expectedOid;
    if (current !== expected) {
      throw new MargoError(
        'GIT_CAS_CONFLICT',
        `ref ${ref} moved: expected ${expected ?? 'no ref'}, found ${current ?? 'no ref'}`,
        {
          data: { ref, expected, current },
        },
      );
    }
    const parentTree = current ? await this.treeOf(current) : null;
    let tree = await this.applyToTree(parentTree, changes);
    if (current && tree === parentTree) return { oid: current, changed: false };
    if (tree === null) tree = await git.writeTree({ fs: isoFs, gitdir, tree: [] });
    const who = {
      name: input.author.name,
      email: input.author.email,
      timestamp: input.author.timestamp ?? Math.floor(Date.now() / 1000),
      timezoneOffset: input.author.timezoneOffset ?? 0,
    };
    const oid = await git.writeCommit({
      fs: isoFs,
      gitdir,
      commit: {
        tree,
        parent: current ? [current] : [],
        author: who,
        committer: who,
        message: buildMessage(input.message, input.trailers),
      },
    });
    await casUpdateRef(gitdir, ref, oid, current);
    return { oid, changed: true };
  }

  async compact(ref: string, opts: CompactOptions): Promise<CompactResult> {
    const name = fullRef(ref);
    const keep = Math.max(1, Math.floor(opts.keep));
    const head = opts.expectedOid ?? (await this.commitOf(name));
    const chain: string[] = [];
    const commits = new Map<string, Awaited<ReturnType<typeof git.readCommit>>['commit']>();
    let cur: string | undefined = head;
    let total = 0;
    while (cur) {
      const { commit } = await git.readCommit({
        fs: isoFs,
        gitdir: this.gitdir,
        oid: cur,
        cache: this.cache,
      });
      total++;
      if (chain.length < keep) {
        chain.push(cur);
        commits.set(cur, commit);
      }
      cur = commit.parent[0];
    }
    if (total <= keep) return { oid: head, dropped: 0 };
    let parent: string | undefined;
    for (let i = chain.length - 1; i >= 0; i--) {
      const { gpgsig: _signature, ...c } = commits.get(chain[i]!)!;
      const rest = c.parent.slice(1);
      parent = await git.writeCommit({
        fs: isoFs,
        gitdir: this.gitdir,
        commit: { ...c, parent: parent ? [parent, ...rest] : [] },
      });
    }
    await casUpdateRef(this.gitdir, name, parent!, head);
    return { oid: parent!, dropped: total - keep };
  }
}
