/**
 * What the console reads straight from the server's bare repositories with native git: device
 * labels, capabilities and history, deployment files and revisions, diffs, the catalog.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';

/** Runs git on a bare repository; resolves stdout, or undefined when git exits with a code in `missing`. */
export function gitRead(
  gitdir: string | undefined,
  args: string[],
  opts: { missing?: number[]; ok?: number[]; cwd?: string } = {},
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', gitdir ? ['--git-dir', gitdir, ...args] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(new MargoError('IO_ERROR', `cannot run git: ${e.message}`, { cause: e })),
    );
    child.on('close', (code) => {
      if (code === 0 || opts.ok?.includes(code ?? -1)) return resolve(Buffer.concat(out).toString('utf8'));
      if (opts.missing?.includes(code ?? -1)) return resolve(undefined);
      reject(new MargoError('IO_ERROR', `git ${args[0]} failed: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** A file at a revision, or undefined when the revision or the path does not exist. */
export function fileAt(gitdir: string, rev: string, path: string): Promise<string | undefined> {
  return gitRead(gitdir, ['cat-file', 'blob', `${rev}:${path}`], { missing: [128] });
}

/** The full commit id of `rev`, or undefined when it names no commit. Only hex ids and refs/heads names. */
export async function resolveCommit(gitdir: string, rev: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{4,40}$/i.test(rev) && !/^(main|status)$/.test(rev)) return undefined;
  const out = await gitRead(gitdir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
    missing: [1, 128],
  });
  return out?.trim() || undefined;
}

export interface LogEntry {
  commit: string;
  at: string;
  author: string;
  subject: string;
  /** The value of the Margo-Transport trailer, when there is one. */
  transport?: string;
}

/** `git log` of a ref (optionally only commits touching `path`), newest first, at most `max`. Empty for a missing ref. */
export async function logOf(gitdir: string, ref: string, max: number, path?: string): Promise<LogEntry[]> {
  const fmt = '%H%x1f%cI%x1f%an%x1f%s%x1f%(trailers:key=Margo-Transport,valueonly,separator=%x2c)%x1e';
  const out = await gitRead(
    gitdir,
    ['log', `-n${max}`, `--format=${fmt}`, ref, '--', ...(path ? [path] : [])],
    { missing: [128] },
  );
  if (!out) return [];
  return out
    .split('\x1e')
    .map((r) => r.replace(/^\n/, ''))
    .filter((r) => r.length > 0)
    .map((r) => {
      const [commit = '', at = '', author = '', subject = '', transport = ''] = r.split('\x1f');
      return { commit, at, author, subject, ...(transport.trim() ? { transport: transport.trim() } : {}) };
    });
}

/**
 * Sealed secret values replaced by `<sealed>` in a deployment file: every value under a
 * `sealed:` key of the top-level `secrets:` mapping, including continuation lines of long values.
 * Pure; works on the text so the diff shows the file's own layout.
 */
export function maskSealed(yaml: string): string {
  const lines = yaml.split('\n');
  const out: string[] = [];
  const indent = (l: string) => l.length - l.trimStart().length;
  let inSecrets = false;
  let sealedAt = -1;
  let valueAt = -1;
  for (const line of lines) {
    const trimmed = line.trim();
    const ind = indent(line);
    if (trimmed === '' || trimmed.startsWith('#')) {
      if (valueAt < 0) out.push(line);
      continue;
    }
    if (ind === 0) {
      inSecrets = /^secrets\s*:/.test(line);
      sealedAt = valueAt = -1;
      // `secrets: {a: {sealed: {...}}}` on one line: hide the whole value.
      out.push(inSecrets && /^secrets\s*:\s*\S/.test(line) ? 'secrets: <sealed>' : line);
      continue;
    }
    if (!inSecrets) {
      out.push(line);
      continue;
    }
    if (valueAt >= 0 && ind > valueAt) continue; // continuation of a sealed value
    valueAt = -1;
    if (sealedAt >= 0 && ind <= sealedAt) sealedAt = -1;
    const m = /^(\s*)(sealed)\s*:\s*(.*)$/.exec(line);
    if (m) {
      sealedAt = ind;
      out.push(m[3] ? `${m[1]}sealed: <sealed>` : line);
      continue;
    }
    if (sealedAt >= 0) {
      const kv = /^(\s*(?:-\s+)?(?:"[^"]*"|'[^']*'|[^:#]+))\s*:(.*)$/.exec(line);
      out.push(kv ? `${kv[1]}: <sealed>` : `${' '.repeat(ind)}<sealed>`);
      valueAt = ind;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * Unified diff of `path` between two commits of a repository, sealed values masked. A side where
 * the file does not exist diffs as empty (/dev/null).
 */
export async function deploymentDiff(
  gitdir: string,
  from: string,
  to: string,
  path: string,
): Promise<string> {
  const [a, b] = await Promise.all([fileAt(gitdir, from, path), fileAt(gitdir, to, path)]);
  if (a === b) return '';
  const dir = await mkdtemp(join(tmpdir(), 'margo-console-diff-'));
  try {
    if (a !== undefined) await writeFile(join(dir, 'a'), maskSealed(a));
    if (b !== undefined) await writeFile(join(dir, 'b'), maskSealed(b));
    const out =
      (await gitRead(
        undefined,
        [
          'diff',
          '--no-index',
          '--no-color',
          '--no-ext-diff',
          '-U3',
          a === undefined ? '/dev/null' : 'a',
          b === undefined ? '/dev/null' : 'b',
        ],
        { ok: [1], cwd: dir },
      )) ?? '';
    const hunks = out.indexOf('\n@@');
    if (hunks < 0) return '';
    return `--- ${a === undefined ? '/dev/null' : `a/${path}`}\n+++ ${b === undefined ? '/dev/null' : `b/${path}`}${out.slice(hunks)}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
