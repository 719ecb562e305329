import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MargoError, isMargoError } from '@margo-gitops/spec';
import { redactUrl } from './auth-header.js';
import { authConfig, configEnv, execGit, type ExecOptions, type ExecResult } from './exec-git.js';
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
import { IsoGitStore } from './iso-git-store.js';
import { readAllRefs, readRef, removeStaleRefLock } from './refs-fs.js';
import type {
  CommitFilesInput,
  CommitResult,
  CompactOptions,
  CompactResult,
  FetchOptions,
  FetchResult,
  GitStore,
  PushOptions,
  RemoteOptions,
  TreeEntry,
} from './store.js';

/** Git's blob id for content, computed without writing anything. */
export function blobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function parseLsTree(out: Buffer): Map<string, TreeEntry & { type: string }> {
  const map = new Map<string, TreeEntry & { type: string }>();
  for (const rec of out.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid] = rec.slice(0, tab).split(' ');
    map.set(rec.slice(tab + 1), { mode: mode!, type: type!, oid: oid! });
  }
  return map;
}

/** Maps a failed network git command (fetch/push/ls-remote) to a MargoError. */
function networkError(e: unknown, url: string, action: string): MargoError {
  const msg = isMargoError(e) || e instanceof Error ? e.message : String(e);
  const where = redactUrl(url);
  if (/ 401|Authentication failed|could not read Username/i.test(msg))
    return new MargoError('GIT_AUTH_FAILED', `${action} ${where}: the server refused the credentials`, {
      cause: e,
    });
  if (/ 403/.test(msg))
    return new MargoError('GIT_ACCESS_DENIED', `${action} ${where}: access denied (403)`, { cause: e });
  if (/ 429/.test(msg))
    return new MargoError('GIT_RATE_LIMITED', `${action} ${where}: rate limited (429)`, { cause: e });
  if (/Could not resolve|Failed to connect|Connection refused|timed out/i.test(msg))
    return new MargoError('GIT_REMOTE_UNREACHABLE', `${action} ${where}: unreachable`, { cause: e });
  return isMargoError(e)
    ? e
    : new MargoError('GIT_COMMAND_FAILED', `${action} ${where}: ${msg}`, { cause: e });
}

/**
 * GitStore on the git binary through its plumbing commands (hash-object, update-index on a
 * temporary index, write-tree, commit-tree, `update-ref <ref> <new> <old>` for compare-and-swap).
 * The default on the orchestrator host, where git is installed.
 *
 * @example
 * const store = new NativeGitStore('/srv/margo-data/repos/devices/d1.git');
 * await store.commitFiles({ ref: 'main', expectedOid: null, changes: new Map([['a.yaml', 'x: 1\n']]), message: 'init', author });
 */
export interface NativeGitStoreOptions {
  /**
   * Change sets up to this many files are written in-process (the same objects, byte for byte, as
   * the git binary writes; the ref still moves by git's lock-file compare-and-swap) instead of by a
   * chain of git processes, which costs more than the work for a few files. 0 disables. Default 32.
   */
  smallCommitThreshold?: number;
}

export class NativeGitStore implements GitStore {
  readonly dir: string;
  private readonly smallCommitThreshold: number;
  private inProcess: IsoGitStore | undefined;

  constructor(dir: string, opts: NativeGitStoreOptions = {}) {
    this.dir = dir;
    this.smallCommitThreshold = opts.smallCommitThreshold ?? 32;
  }

  private get gitdir(): string {
    const dotgit = join(this.dir, '.git');
    return existsSync(dotgit) ? dotgit : this.dir;
  }

  private git(args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return execGit(['--git-dir', this.gitdir, ...args], opts);
  }

  async init(opts: { bare?: boolean; defaultBranch?: string } = {}): Promise<void> {
    if (existsSync(join(this.gitdir, 'HEAD'))) return;
    await mkdir(this.dir, { recursive: true });
    const branch = opts.defaultBranch ?? 'main';
    await execGit([
      'init',
      '-q',
      ...((opts.bare ?? true) ? ['--bare'] : []),
      `--initial-branch=${branch}`,
      this.dir,
    ]);
  }

  async clone(url: string, opts: RemoteOptions = {}): Promise<FetchResult> {
    const ref = fullRef(opts.ref ?? 'main');
    await this.init({ bare: true, defaultBranch: shortRef(ref) });
    const res = await this.fetch(url, opts);
    if (ref.startsWith('refs/heads/')) await writeFile(join(this.gitdir, 'HEAD'), `ref: ${ref}\n`);
    return res;
  }

  async fetch(url: string, opts: FetchOptions = {}): Promise<FetchResult> {
    const remoteRef = fullRef(opts.ref ?? 'main');
    const into = fullRef(opts.into ?? remoteRef);
    assertRefName(remoteRef);
    assertRefName(into);
    const before = await readRef(this.gitdir, into);
    // Protocol v1: an up-to-date fetch is then one ref advertisement, which the embedded server
    // answers without starting git (v2 always starts git on the server). Repositories have few refs.
    const env = configEnv([['protocol.version', '1'], ...authConfig(opts.auth, opts.headers)]);
    const args = ['fetch', '-q', '--no-tags', '--no-write-fetch-head', '--update-head-ok'];
    if (opts.depth) args.push(`--depth=${opts.depth}`);
    const res = await this.git([...args, url, `+${remoteRef}:${into}`], { env, okCodes: [0, 1, 128] }).catch(
      (e) => {
        throw networkError(e, url, 'fetch from');
      },
    );
    if (res.code !== 0) {
      if (/couldn't find remote ref/i.test(res.stderr)) return { oid: null, changed: false };
      throw networkError(new MargoError('GIT_COMMAND_FAILED', res.stderr.trim()), url, 'fetch from');
    }
    const after = await readRef(this.gitdir, into);
    return { oid: after, changed: after !== before };
  }

  async push(url: string, ref: string, opts: PushOptions = {}): Promise<void> {
    const local = fullRef(ref);
    const remote = fullRef(opts.remoteRef ?? ref);
    const env = configEnv(authConfig(opts.auth, opts.headers));
    const res = await this.git(['push', '--porcelain', url, `${opts.force ? '+' : ''}${local}:${remote}`], {
      env,
      okCodes: [0, 1, 128],
    }).catch((e) => {
      throw networkError(e, url, 'push to');
    });
    if (res.code === 0) return;
    const remoteMessages = res.stderr
      .split('\n')
      .filter((l) => l.startsWith('remote: '))
      .map((l) => l.slice('remote: '.length).trimEnd());
    const rejected = /\[remote rejected\]|\[rejected\]|! .*rejected|pre-receive hook declined/.test(
      res.stdout.toString() + res.stderr,
    );
    if (!rejected)
      throw networkError(new MargoError('GIT_COMMAND_FAILED', res.stderr.trim()), url, 'push to');
    const status =
      res.stdout
        .toString()
        .split('\n')
        .find((l) => l.includes(remote)) ?? '';
    throw new MargoError(
      'GIT_PUSH_REJECTED',
      `push to ${redactUrl(url)} refused: ${status.trim()}${remoteMessages.length ? `\n${remoteMessages.join('\n')}` : ''}`,
      {
        data: { remoteMessages, ref: remote },
      },
    );
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

  async readFile(ref: string, path: string): Promise<Buffer | null> {
    const commit = await this.commitOf(ref);
    const res = await this.git(['cat-file', '--batch'], { input: `${commit}:${path}\n` });
    return parseCatFileBatch(res.stdout, 'blob')[0] ?? null;
  }

  async readTree(ref: string, prefix?: string): Promise<Map<string, TreeEntry>> {
    const commit = await this.commitOf(ref);
    const want = normalisePrefix(prefix);
    const res = await this.git(['ls-tree', '-r', '-z', '--full-tree', commit, ...(want ? ['--', want] : [])]);
    const out = new Map<string, TreeEntry>();
    for (const [p, e] of parseLsTree(res.stdout))
      if (e.type === 'blob') out.set(p, { oid: e.oid, mode: e.mode });
    return out;
  }

  async listEntries(ref: string): Promise<Map<string, TreeEntry>> {
    const commit = await this.commitOf(ref);
    const res = await this.git(['ls-tree', '-r', '-z', '--full-tree', commit]);
    const out = new Map<string, TreeEntry>();
    for (const [p, e] of parseLsTree(res.stdout))
      if (e.type !== 'tree') out.set(p, { oid: e.oid, mode: e.mode });
    return out;
  }

  async readFiles(ref: string, prefix?: string): Promise<Map<string, Buffer>> {
    const tree = await this.readTree(ref, prefix);
    if (tree.size === 0) return new Map();
    const paths = [...tree.keys()];
    const res = await this.git(['cat-file', '--batch'], {
      input: paths.map((p) => `${tree.get(p)!.oid}\n`).join(''),
    });
    const blobs = parseCatFileBatch(res.stdout);
    const out = new Map<string, Buffer>();
    paths.forEach((p, i) => out.set(p, blobs[i] ?? Buffer.alloc(0)));
    return out;
  }

  async commitFiles(input: CommitFilesInput): Promise<CommitResult> {
    if (input.changes.size <= this.smallCommitThreshold) {
      this.inProcess ??= new IsoGitStore(this.dir);
      return this.inProcess.commitFiles(input);
    }
    const ref = fullRef(input.ref);
    assertRefName(ref);
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
    const changes = new Map<string, Buffer | null>();
    for (const [p, v] of input.changes) {
      assertFilePath(p);
      changes.set(p, v === null ? null : toBuffer(v));
    }
    // What is there now (only the changed paths), to skip no-op changes without writing anything.
    const existing = current
      ? parseLsTree(
          (
            await this.git(
              changes.size > 200
                ? ['ls-tree', '-r', '-z', '--full-tree', current]
                : ['ls-tree', '-r', '-z', '--full-tree', current, '--', ...changes.keys()],
            )
          ).stdout,
        )
      : new Map<string, TreeEntry & { type: string }>();
    const effective: { path: string; content: Buffer | null; oid: string; mode: string }[] = [];
    for (const [p, content] of changes) {
      const e = existing.get(p);
      if (content === null) {
        if (e) effective.push({ path: p, content: null, oid: ZERO_OID, mode: '0' });
        continue;
      }
      const oid = blobOid(content);
      if (e && e.type === 'blob' && e.oid === oid) continue;
      effective.push({ path: p, content, oid, mode: e && e.type === 'blob' ? e.mode : '100644' });
    }
    if (current && effective.length === 0) return { oid: current, changed: false };

    const tmp = await mkdtemp(join(tmpdir(), 'margo-git-'));
    try {
      const adds = effective.filter((c) => c.content !== null);
      if (adds.length) {
        const files: string[] = [];
        for (let i = 0; i < adds.length; i++) {
          const f = join(tmp, `b${i}`);
          await writeFile(f, adds[i]!.content!);
          files.push(f);
        }
        const res = await this.git(['hash-object', '-w', '--no-filters', '--stdin-paths'], {
          input: files.join('\n') + '\n',
        });
        const oids = res.stdout.toString().trim().split('\n');
        oids.forEach((o, i) => {
          if (o !== adds[i]!.oid)
            throw new MargoError('GIT_COMMAND_FAILED', `hash-object returned ${o}, expected ${adds[i]!.oid}`);
        });
      }
      const env = { GIT_INDEX_FILE: join(tmp, 'index') };
      await this.git(current ? ['read-tree', current] : ['read-tree', '--empty'], { env });
      // Removing a path that is a file where a folder must go (or the reverse) is done by update-index --replace.
      const info = effective.map((c) => `${c.mode} ${c.oid}\t${c.path}\n`).join('');
      await this.git(['update-index', '--replace', '--index-info'], { env, input: info });
      const tree = (await this.git(['write-tree'], { env })).stdout.toString().trim();
      if (current) {
        const parentTree = (await this.git(['rev-parse', `${current}^{tree}`])).stdout.toString().trim();
        if (tree === parentTree) return { oid: current, changed: false };
      }
      const ts = input.author.timestamp ?? Math.floor(Date.now() / 1000);
      const date = `${ts} ${formatTz(input.author.timezoneOffset ?? 0)}`;
      const who = {
        GIT_AUTHOR_NAME: input.author.name,
        GIT_AUTHOR_EMAIL: input.author.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_NAME: input.author.name,
        GIT_COMMITTER_EMAIL: input.author.email,
        GIT_COMMITTER_DATE: date,
      };
      const oid = (
        await this.git(['commit-tree', tree, ...(current ? ['-p', current] : []), '-F', '-'], {
          env: who,
          input: buildMessage(input.message, input.trailers),
        })
      ).stdout
        .toString()
        .trim();
      await this.casUpdate(ref, oid, current, 'margo: commit');
      return { oid, changed: true };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Packs loose objects when git thinks it is time (`git gc --auto`; `{ auto: false }` packs now). Commits written by a store
   * are loose objects; call this now and then (e.g. after a reconcile pass) on busy repositories.
   * Pushes received by the embedded server trigger the same through git itself.
   */
  async gc(opts: { auto?: boolean } = {}): Promise<void> {
    await this.git(['gc', '--quiet', ...((opts.auto ?? true) ? ['--auto'] : [])]);
  }

  private async casUpdate(ref: string, oid: string, expected: string | null, reason: string): Promise<void> {
    const updateRef = () =>
      this.git(['update-ref', '-m', reason, ref, oid, expected ?? ZERO_OID], { okCodes: [0, 1, 128] });
    let res = await updateRef();
    // git refuses forever while a killed writer's `<ref>.lock` exists; such a lock is taken over.
    if (
      res.code !== 0 &&
      /\.lock'?: File exists/i.test(res.stderr) &&
      (await removeStaleRefLock(this.gitdir, ref))
    )
      res = await updateRef();
    if (res.code !== 0) {
      if (
        /cannot lock ref|is at .* but expected|reference already exists|unable to resolve reference/i.test(
          res.stderr,
        )
      ) {
        throw new MargoError('GIT_CAS_CONFLICT', `ref ${ref} moved while committing`, {
          data: { ref, expected },
        });
      }
      throw new MargoError('GIT_COMMAND_FAILED', `update-ref ${ref} failed: ${res.stderr.trim()}`);
    }
  }

  async compact(ref: string, opts: CompactOptions): Promise<CompactResult> {
    const name = fullRef(ref);
    const keep = Math.max(1, Math.floor(opts.keep));
    const head = opts.expectedOid ?? (await this.commitOf(name));
    const total = Number(
      (await this.git(['rev-list', '--first-parent', '--count', head])).stdout.toString().trim(),
    );
    if (total <= keep) return { oid: head, dropped: 0 };
    const chain = (await this.git(['rev-list', '--first-parent', `--max-count=${keep}`, head])).stdout
      .toString()
      .trim()
      .split('\n');
    const raws = parseCatFileBatch(
      (await this.git(['cat-file', '--batch'], { input: chain.map((c) => `${c}\n`).join('') })).stdout,
    );
    let parent: string | undefined;
    for (let i = chain.length - 1; i >= 0; i--) {
      const raw = raws[i]!.toString('utf8');
      const split = raw.indexOf('\n\n');
      const headerLines = raw.slice(0, split).split('\n');
      const body = raw.slice(split);
      const out: string[] = [];
      let firstParentSeen = false;
      let inSig = false;
      for (const line of headerLines) {
        if (inSig && line.startsWith(' ')) continue;
        inSig = false;
        if (line.startsWith('gpgsig')) {
          inSig = true;
          continue;
        }
        if (line.startsWith('parent ')) {
          if (!firstParentSeen) {
            firstParentSeen = true;
            if (parent) out.push(`parent ${parent}`);
          } else if (parent) out.push(line);
          continue;
        }
        out.push(line);
      }
      parent = (
        await this.git(['hash-object', '-t', 'commit', '-w', '--stdin'], { input: out.join('\n') + body })
      ).stdout
        .toString()
        .trim();
    }
    await this.casUpdate(name, parent!, head, 'margo: compact');
    return { oid: parent!, dropped: total - keep };
  }
}

function formatTz(offsetMinutes: number): string {
  // git's timezoneOffset convention (as in isomorphic-git): minutes *behind* UTC, so -60 = +0100.
  const east = -offsetMinutes;
  const sign = east >= 0 ? '+' : '-';
  const abs = Math.abs(east);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

/** Parses `git cat-file --batch` output; a missing object yields null at its position. */
export function parseCatFileBatch(out: Buffer, onlyType?: string): (Buffer | null)[] {
  const res: (Buffer | null)[] = [];
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(10, pos);
    if (nl < 0) break;
    const header = out.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      res.push(null);
      continue;
    }
    const [, type, sizeText] = header.split(' ');
    const size = Number(sizeText);
    res.push(onlyType && type !== onlyType ? null : out.subarray(pos, pos + size));
    pos += size + 1;
  }
  return res;
}
