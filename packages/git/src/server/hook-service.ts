import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOOK_PROTOCOL, installHooks, type HookRunner } from './hook-script.js';
import type { QuarantineEnv } from './push-validation.js';

/** One hook call, as the hook sent it (after the secret was checked). */
export interface HookCall extends QuarantineEnv {
  hook: string;
  request: string;
  /** The hook's stdin (`old new ref` lines). */
  stdin: string;
}

export interface HookVerdict {
  ok: boolean;
  messages: string[];
}

export interface HookService {
  /** Folder for `core.hooksPath`. */
  dir: string;
  port: number;
  runner: HookRunner;
  /** Environment the hook needs (the secret stays out of every command line). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Largest hook call accepted (the ref update list of one push). */
const MAX_CALL_BYTES = 1024 * 1024;
/** A connection must have sent its whole call by then. */
const CALL_TIMEOUT_MS = 30_000;

/** Parses a complete call (`.` line seen); undefined when malformed. */
export function parseHookCall(text: string): (HookCall & { secret: string }) | undefined {
  const lines = text.split('\n');
  if (lines[0] !== HOOK_PROTOCOL || lines.length < 10) return undefined;
  const end = lines.indexOf('.', 8);
  if (end < 0) return undefined;
  const [, secret, request, hook, gitDir, objectDirectory, alternates, quarantine] = lines as string[];
  return {
    secret: secret!,
    request: request!,
    hook: hook!,
    gitDir: gitDir!,
    objectDirectory: objectDirectory!,
    alternates: alternates!,
    quarantine: quarantine!,
    stdin: lines.slice(8, end).join('\n'),
  };
}

/** The answer on the wire: `ok`/`refused`, then the messages (one line each). */
export function formatVerdict(v: HookVerdict): string {
  return [v.ok ? 'ok' : 'refused', ...v.messages].join('\n') + '\n';
}

/** The bash of this host when it can reach a TCP port through /dev/tcp, else undefined. */
async function probeBash(port: number): Promise<string | undefined> {
  const bash = ['/bin/bash', '/usr/bin/bash', '/usr/local/bin/bash'].find((p) => existsSync(p));
  if (!bash) return undefined;
  return new Promise((resolve) => {
    const child = spawn(
      bash,
      ['-c', 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "probe\\n" >&3', 'probe', String(port)],
      {
        stdio: 'ignore',
      },
    );
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? bash : undefined));
  });
}

/**
 * Starts the service git's pre-receive hooks call for their verdict: a TCP listener on 127.0.0.1
 * (bash reaches no Unix socket), authenticated by a per-server secret compared in constant time,
 * plus the generated hooks. `runner` 'auto' (default) uses the bash hook when this host's bash has
 * /dev/tcp, else the Node hook (`nodePath` runs it).
 */
export async function startHookService(opts: {
  secret: string;
  runner?: 'auto' | 'node';
  nodePath: string;
  verdict(call: HookCall): Promise<HookVerdict>;
  onError?(err: unknown): void;
}): Promise<HookService> {
  const expected = Buffer.from(opts.secret);
  // Half-open: the Node hook ends its side once its call is sent and still reads the verdict.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    let tail = Buffer.alloc(0);
    let size = 0;
    let done = false;
    sock.setTimeout(CALL_TIMEOUT_MS, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('end', () => {
      if (!done) sock.destroy(); // went away before a whole call
    });
    const reply = (v: HookVerdict): void => {
      if (!sock.destroyed) sock.end(formatVerdict(v));
    };
    sock.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_CALL_BYTES) {
        done = true;
        return reply({ ok: false, messages: ['margo: hook call too large; push refused'] });
      }
      chunks.push(c);
      // The call ends with "\n.\n", which may span chunks: look at the last bytes only, and join
      // the chunks once (joining on every chunk would cost the square of the call's size).
      tail = Buffer.concat([tail, c]).subarray(-3);
      if (tail.toString('latin1') !== '\n.\n') return;
      const text = Buffer.concat(chunks).toString('utf8');
      done = true;
      sock.setTimeout(0);
      const call = parseHookCall(text);
      if (!call) return reply({ ok: false, messages: ['margo: malformed hook call; push refused'] });
      const given = Buffer.from(call.secret);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return reply({ ok: false, messages: ['margo: hook call not authorised'] });
      const { secret: _, ...rest } = call;
      opts.verdict(rest).then(reply, (e: unknown) => {
        opts.onError?.(e);
        reply({ ok: false, messages: ['margo: internal error while checking the push; refused'] });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'margo-hooks-'));
  try {
    const bash = opts.runner === 'node' ? undefined : await probeBash(port);
    const runner: HookRunner = bash ? 'bash' : 'node';
    await installHooks(dir, runner, bash);
    return {
      dir,
      port,
      runner,
      env: {
        MARGO_HOOK_PORT: String(port),
        MARGO_HOOK_SECRET: opts.secret,
        ...(runner === 'node' ? { MARGO_HOOK_NODE: opts.nodePath } : {}),
      },
      close: async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    server.close();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
