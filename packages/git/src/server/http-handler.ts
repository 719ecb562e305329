import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { FailureRateLimiter, MargoError } from '@margo-gitops/spec';
import { baseGitEnv, configEnv, execGit } from '../exec-git.js';
import { ZERO_OID } from '../paths.js';
import { readRef } from '../refs-fs.js';
import { runCgi } from './cgi.js';
import { parseGitPath, tokenFromHeader, type Route } from './routes.js';
import { decodedBody, readAtMost } from './request-body.js';
import { canPush, canRead, canUpdateRef, type RepoKind, type RepoRef } from './access.js';
import { validateCatalogPush } from './catalog-validator.js';
import { checkGitBinary } from './git-binary.js';
import { startHookService, type HookService } from './hook-service.js';
import { pushVerdict, type PendingPush, type VerdictSettings } from './push-verdict.js';
import { CommandListParser, refusalReport, type RefUpdateCommand } from './pkt-line.js';
import type { PushValidator } from './push-validation.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { uploadPackAdvertisement } from './ref-advertisement.js';
import { watchGitRequest, type GitRequestEvent } from './request-stats.js';
import type { TokenInfo } from './token-store.js';
import { DEFAULT_STATUS_LIMITS, type StatusLimits } from './tree-rules.js';
import { DEFAULT_OCI_LIMITS, isOciBlobPath } from './oci-layout-rules.js';

/** What the handler needs from a token store (TokenStore fits). */
export interface TokenVerifier {
  verify(plaintext: string): TokenInfo | undefined;
}

/** Emitted once per updated ref after a push was stored. */
export interface PushEvent {
  /** `catalog.git`, `fleet.git`, `devices/<id>.git`. */
  repo: string;
  kind: RepoKind;
  deviceId?: string;
  ref: string;
  /** Zero id when the ref was created. */
  before: string;
  /** Zero id when the ref was deleted. */
  after: string;
  tokenName: string;
  tokenId: string;
}

export interface GitHttpHandlerOptions {
  /** Folder holding catalog.git, fleet.git and devices/<id>.git. */
  reposRoot: string;
  tokens: TokenVerifier;
  /** Push validators by repository kind. Default: `{ catalog: validateCatalogPush }`; null disables one. */
  validators?: Partial<Record<RepoKind, PushValidator | null>>;
  onPush?: (e: PushEvent) => void;
  /**
   * Called with the device id whenever a device token is let into its own repository (each poll of
   * an agent is one): the orchestrator's evidence that the device is alive, on the server's clock.
   */
  onDeviceSeen?: (deviceId: string) => void;
  /** Per-token request rate limit; false disables. Default 120 burst, 20/s. */
  rateLimit?: RateLimitOptions | false;
  /** Largest file a push may add. Default 10 MiB. */
  maxObjectBytes?: number;
  /** Largest blob of a catalog package's OCI layout (`<app>/<version>/oci/blobs/...`). Default 512 MiB. */
  maxLayerBytes?: number;
  /** Largest pack a push may send. Default 256 MiB. */
  maxPushBytes?: number;
  /** Largest pack a push to a device repository (a status report) may send. Default 4 MiB. */
  maxDevicePushBytes?: number;
  /** Status branch limits (file size, objects per push). */
  statusLimits?: Partial<StatusLimits>;
  /** Longest ref update list a push may send before its pack. Default 1 MiB. */
  maxCommandListBytes?: number;
  /**
   * Per remote address: failed authentications and malformed requests before the address gets
   * 429 for everything. Default 30 in 60 s; false disables. Pass one instance to share it with
   * other routes (the catalog files).
   */
  authFailures?: FailureRateLimiter | { maxFailures: number; windowMs: number } | false;
  /** URL prefix. Default `/git`. */
  basePath?: string;
  /** Serve `info/refs` for fetches (protocol v0/v1) from Node instead of starting git. Default true. */
  fastAdvertisement?: boolean;
  /** Repository kinds whose history may not be rewritten or deleted. Default `['catalog']`. */
  protectHistory?: RepoKind[];
  /** Called with failures the handler answered with 500 (for the caller's log). */
  onError?: (err: unknown) => void;
  /**
   * What runs git's pre-receive hook: 'auto' (default) a bash script that asks this process for the
   * verdict through bash's /dev/tcp (no other program starts), or a Node script where no such bash
   * exists; 'node' forces the Node script.
   */
  hookRunner?: 'auto' | 'node';
  /** Injectable clock for the rate limiter. */
  now?: () => number;
  /** Called once per request under the base path, when its response closes (metrics). */
  onRequest?: (e: GitRequestEvent) => void;
}

/** The request handler; resolves false when the URL is not under the base path. */
export interface GitHttpHandler {
  (req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Stops the hook service and removes the generated hooks. */
  close(): Promise<void>;
}

function sendText(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = `${message}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    ...headers,
  });
  res.end(body);
}

/**
 * The embedded Git server as a request handler for node:http, to compose with other routes:
 * smart HTTP through `git http-backend`, token auth (Basic or Bearer), role and branch rules,
 * rate limiting, validated pushes, and a push event as soon as a push is stored.
 *
 * @example
 * const git = createGitHttpHandler({ reposRoot, tokens: TokenStore.open(file), onPush: (e) => reconcile(e) });
 * http.createServer(async (req, res) => { if (!(await git(req, res))) otherRoutes(req, res); });
 */
export function createGitHttpHandler(options: GitHttpHandlerOptions): GitHttpHandler {
  const opts = { ...options, reposRoot: resolve(options.reposRoot) };
  const basePath = (opts.basePath ?? '/git').replace(/\/+$/, '');
  const limiter =
    opts.rateLimit === false ? undefined : new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT, opts.now);
  const validators: Partial<Record<RepoKind, PushValidator | null>> = {
    catalog: validateCatalogPush,
    ...(opts.validators ?? {}),
  };
  const maxObjectBytes = opts.maxObjectBytes ?? 10 * 1024 * 1024;
  const ociLimits = { maxLayerBytes: opts.maxLayerBytes ?? DEFAULT_OCI_LIMITS.maxLayerBytes };
  const layerLimit = { test: isOciBlobPath, maxBytes: ociLimits.maxLayerBytes, code: 'OCI_LAYER_TOO_LARGE' };
  const maxPushBytes = opts.maxPushBytes ?? 256 * 1024 * 1024;
  const maxDevicePushBytes = opts.maxDevicePushBytes ?? 4 * 1024 * 1024;
  const maxCommandListBytes = opts.maxCommandListBytes ?? 1024 * 1024;
  const statusLimits: StatusLimits = { ...DEFAULT_STATUS_LIMITS, ...(opts.statusLimits ?? {}) };
  const fastAdvertisement = opts.fastAdvertisement ?? true;
  const protectHistory = new Set<RepoKind>(opts.protectHistory ?? ['catalog']);
  const failures = authFailureLimiter(opts.authFailures, opts.now);
  const secret = randomBytes(24).toString('hex');
  const pending = new Map<string, PendingPush>();
  let agent: Promise<string> | undefined;
  let hookSetup: Promise<HookService> | undefined;

  const gitAgent = (): Promise<string> =>
    (agent ??= execGit(['--version'])
      .then(
        (r) =>
          `git/${
            r.stdout
              .toString()
              .trim()
              .replace(/^git version /, '')
              .split(/\s/)[0]
          }`,
      )
      .catch(() => 'git/unknown'));

  // Without a recent git the hooks and limits (passed as GIT_CONFIG_COUNT) would silently not apply.
  let gitChecked: Promise<unknown> | undefined;
  const requireGit = (): Promise<unknown> => (gitChecked ??= checkGitBinary());

  const verdictSettings: VerdictSettings = {
    reposRoot: opts.reposRoot,
    protectHistory,
    maxObjectBytes,
    layerLimit,
    statusLimits,
    ociLimits,
    validators,
  };
  const hooks = (): Promise<HookService> =>
    (hookSetup ??= startHookService({
      secret,
      runner: opts.hookRunner ?? 'auto',
      nodePath: process.execPath,
      verdict: (call) => pushVerdict(call, pending.get(call.request), verdictSettings),
      ...(opts.onError ? { onError: opts.onError } : {}),
    }));

  async function runBackend(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    token: TokenInfo,
    body: Readable | undefined,
    bodyEncoding: string | undefined,
    commands?: RefUpdateCommand[],
  ): Promise<void> {
    // Every push runs the pre-receive hook (built-in tree rules apply to all kinds, device status
    // reports included); a status report's pack is small by design, so its bound is tight.
    const cfg: [string, string][] = [
      ['http.uploadpack', 'true'],
      ['http.receivepack', 'true'],
      [
        'receive.maxInputSize',
        String(route.repo.kind === 'device' ? Math.min(maxPushBytes, maxDevicePushBytes) : maxPushBytes),
      ],
      ['uploadpack.allowFilter', 'false'],
      // Every push waits for the pre-receive hook; a keep-alive each second while it runs keeps
      // clients with idle timeouts (Node's default agent: 5 s) from giving up on a busy server.
      ['receive.keepAlive', '1'],
    ];
    if (protectHistory.has(route.repo.kind))
      cfg.push(['receive.denyNonFastForwards', 'true'], ['receive.denyDeletes', 'true']);
    const env: Record<string, string | undefined> = {
      ...baseGitEnv(),
      GIT_PROJECT_ROOT: opts.reposRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${route.repo.name}/${route.action.startsWith('advertise') ? 'info/refs' : route.action === 'upload-pack' ? 'git-upload-pack' : 'git-receive-pack'}`,
      QUERY_STRING: new URL(req.url ?? '/', 'http://x').search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      REMOTE_USER: token.name,
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? undefined,
      HTTP_CONTENT_ENCODING: bodyEncoding,
    };
    if (route.action === 'receive-pack') {
      const h = await hooks();
      const id = randomBytes(12).toString('hex');
      pending.set(id, { repo: route.repo, token });
      res.once('close', () => pending.delete(id));
      cfg.push(['core.hooksPath', h.dir]);
      Object.assign(env, h.env, { MARGO_HOOK_REQUEST: id });
    }
    Object.assign(env, configEnv(cfg));
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];

    await runCgi('git', ['http-backend'], {
      env: env as NodeJS.ProcessEnv,
      res,
      body,
      failed: (f) => {
        if (f.spawnError) {
          opts.onError?.(
            new MargoError(
              'GIT_SERVER_MISCONFIGURED',
              'cannot start git http-backend; the orchestrator host needs git',
              { cause: f.spawnError },
            ),
          );
          sendText(res, 500, 'margo: the git server is misconfigured (git missing on the server)');
        } else if (f.bodyFailed) {
          badRequest(req, res, 400, 'the request body could not be read (corrupt gzip?)');
        } else {
          opts.onError?.(
            new MargoError(
              'GIT_COMMAND_FAILED',
              `git http-backend exited ${f.exitCode}: ${f.stderr.trim().slice(0, 500)}`,
            ),
          );
          sendText(res, 500, 'margo: the git backend failed');
        }
      },
      finished: () => {
        if (commands) void emitPushEvents(route.repo, token, commands).finally(() => res.end());
        else res.end();
      },
    });
  }

  async function handleReceivePack(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    token: TokenInfo,
  ): Promise<void> {
    const source = decodedBody(req);
    if (!source) return badRequest(req, res, 415, 'unsupported Content-Encoding');
    // Read just enough of the body to see the ref update commands, parsing chunk by chunk.
    const it = source[Symbol.asyncIterator]();
    const parser = new CommandListParser(maxCommandListBytes);
    const received: Buffer[] = []; // git reads the whole body, command list included
    let state: ReturnType<CommandListParser['push']>['state'] = 'incomplete';
    try {
      while (state === 'incomplete') {
        const next = await it.next();
        if (next.done) break;
        received.push(next.value as Buffer);
        state = parser.push(next.value as Buffer).state;
      }
    } catch {
      return badRequest(req, res, 400, 'the request body is not valid gzip');
    }
    if (state === 'too-large') {
      failures?.fail(addressOf(req));
      // Close the connection rather than read (and discard) whatever else the client sends.
      return sendText(
        res,
        413,
        `margo: GIT_PUSH_TOO_LARGE the ref update list is longer than ${maxCommandListBytes} bytes`,
        { Connection: 'close' },
      );
    }
    const parsed = parser.result();
    if (parsed.state !== 'done')
      return badRequest(
        req,
        res,
        400,
        `bad receive-pack request (${parsed.state === 'error' ? parsed.reason : 'truncated'})`,
      );
    const refused = parsed.pushCert
      ? { code: 'GIT_ACCESS_DENIED', reason: 'signed pushes are not supported' }
      : parsed.commands
          .map((c) => canUpdateRef(token, route.repo, c.ref, c.new))
          .find((d): d is Extract<typeof d, { allow: false }> => !d.allow);
    if (refused) {
      source.resume(); // drain the pack; nothing is written
      source.on('error', () => undefined);
      const body = refusalReport(
        parsed.commands,
        parsed.capabilities,
        `margo: ${refused.code ?? 'GIT_ACCESS_DENIED'} ${refused.reason}`,
      );
      res.writeHead(200, {
        'Content-Type': 'application/x-git-receive-pack-result',
        'Content-Length': body.length,
        'Cache-Control': 'no-cache',
      });
      res.end(body);
      return;
    }
    const rest = Readable.from(
      (async function* () {
        yield* received;
        while (true) {
          const n = await it.next();
          if (n.done) return;
          yield n.value as Buffer;
        }
      })(),
    );
    await runBackend(req, res, route, token, rest, undefined, parsed.commands);
  }

  /** Answers a malformed request with a 4xx and counts it against the address. */
  function badRequest(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
    failures?.fail(addressOf(req));
    req.resume();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendText(res, status, `margo: GIT_BAD_REQUEST ${message}`);
  }

  /** After receive-pack: one event per ref that now points where the push asked (before the client sees the end of the answer). */
  async function emitPushEvents(
    repo: RepoRef,
    token: TokenInfo,
    commands: RefUpdateCommand[],
  ): Promise<void> {
    if (!opts.onPush) return;
    const gitdir = join(opts.reposRoot, repo.name);
    for (const c of commands) {
      const now = await readRef(gitdir, c.ref).catch(() => undefined);
      if (now === undefined || (now ?? ZERO_OID) !== c.new) continue;
      try {
        opts.onPush({
          repo: repo.name,
          kind: repo.kind,
          ...(repo.deviceId ? { deviceId: repo.deviceId } : {}),
          ref: c.ref,
          before: c.old,
          after: c.new,
          tokenName: token.name,
          tokenId: token.id,
        });
      } catch (e) {
        opts.onError?.(e);
      }
    }
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    if (!rawPath.startsWith(`${basePath}/`)) return false;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
      decodeURIComponent(url.pathname);
    } catch {
      badRequest(req, res, 400, 'malformed request URL');
      return true;
    }
    if (!url.pathname.startsWith(`${basePath}/`)) return false;
    const watch = opts.onRequest ? watchGitRequest(req, res, opts.onRequest) : undefined;
    try {
      const blocked = failures?.retryAfterSeconds(addressOf(req)) ?? 0;
      if (blocked > 0) {
        req.resume();
        sendText(
          res,
          429,
          `margo: GIT_RATE_LIMITED too many failed or malformed requests from this address; retry in ${blocked}s`,
          { 'Retry-After': String(blocked) },
        );
        return true;
      }
      const route = parseGitPath(
        url.pathname.slice(basePath.length + 1),
        req.method ?? 'GET',
        url.searchParams.get('service'),
      );
      if ('error' in route) {
        if (route.error === 404) failures?.fail(addressOf(req));
        req.resume();
        sendText(res, route.error, `margo: ${route.message}`);
        return true;
      }
      if (watch) {
        watch.service = route.action.includes('receive') ? 'receive-pack' : 'upload-pack';
        watch.advertisement = route.action.startsWith('advertise');
      }
      const plaintext = tokenFromHeader(req.headers.authorization);
      const token = plaintext ? opts.tokens.verify(plaintext) : undefined;
      if (watch && token?.role === 'device' && token.deviceId) watch.deviceId = token.deviceId;
      if (!token) {
        // A client first asks without credentials and retries with them (git's normal dance):
        // only a wrong token counts as a failure.
        if (plaintext) failures?.fail(addressOf(req));
        req.resume();
        sendText(
          res,
          401,
          plaintext
            ? 'margo: GIT_AUTH_FAILED the token is unknown, revoked or expired'
            : 'margo: GIT_AUTH_FAILED authentication required (use a margo token as the password)',
          {
            'WWW-Authenticate': 'Basic realm="margo", charset="UTF-8"',
          },
        );
        return true;
      }
      if (limiter) {
        const r = limiter.take(token.id);
        if (!r.ok) {
          req.resume();
          sendText(
            res,
            429,
            `margo: rate limit exceeded for token "${token.name}"; retry in ${r.retryAfterSec}s`,
            { 'Retry-After': String(r.retryAfterSec) },
          );
          return true;
        }
      }
      const write = route.action === 'advertise-receive' || route.action === 'receive-pack';
      const decision = write ? canPush(token, route.repo) : canRead(token, route.repo);
      if (!decision.allow) {
        req.resume();
        sendText(res, 403, `margo: ${decision.reason}`);
        return true;
      }
      const gitdir = join(opts.reposRoot, route.repo.name);
      if (!existsSync(join(gitdir, 'HEAD'))) {
        req.resume();
        sendText(res, 404, `margo: repository ${route.repo.name} does not exist`);
        return true;
      }
      if (token.role === 'device' && token.deviceId && route.repo.kind === 'device')
        opts.onDeviceSeen?.(token.deviceId);
      if (
        route.action === 'advertise-upload' &&
        fastAdvertisement &&
        !String(req.headers['git-protocol'] ?? '').includes('version=2')
      ) {
        const body = await uploadPackAdvertisement(gitdir, await gitAgent());
        if (body) {
          res.writeHead(200, {
            'Content-Type': 'application/x-git-upload-pack-advertisement',
            'Content-Length': body.length,
            'Cache-Control': 'no-cache, max-age=0, must-revalidate',
          });
          res.end(body);
          return true;
        }
      }
      if (route.action === 'receive-pack' || route.action === 'advertise-receive') {
        try {
          await requireGit();
        } catch (e) {
          opts.onError?.(e);
          req.resume();
          sendText(res, 500, `margo: ${(e as Error).message}; pushes are disabled`);
          return true;
        }
      }
      if (route.action === 'receive-pack') await handleReceivePack(req, res, route, token);
      else if (route.action === 'upload-pack') {
        const body = decodedBody(req);
        if (!body) badRequest(req, res, 415, 'unsupported Content-Encoding');
        else if (body === req) await runBackend(req, res, route, token, body, undefined);
        else {
          // A gzip body is decoded whole before git runs: streamed, a corrupt one could fail only
          // after git had answered 200. Fetch negotiations are small; a bound keeps memory flat.
          const decoded = await readAtMost(body, MAX_UPLOAD_REQUEST_BYTES);
          if (decoded === 'corrupt') badRequest(req, res, 400, 'the gzip request body is corrupt');
          else if (decoded === 'too-large')
            badRequest(req, res, 413, `the fetch request is larger than ${MAX_UPLOAD_REQUEST_BYTES} bytes`);
          else await runBackend(req, res, route, token, Readable.from([decoded]), undefined);
        }
      } else await runBackend(req, res, route, token, undefined, undefined);
    } catch (e) {
      opts.onError?.(e);
      if (!res.headersSent) sendText(res, 500, 'margo: internal error in the git server');
      else res.destroy();
    }
    return true;
  };

  return Object.assign(handler, {
    close: async (): Promise<void> => {
      if (!hookSetup) return;
      const h = await hookSetup.catch(() => undefined);
      hookSetup = undefined;
      if (!h) return;
      await h.close();
    },
  });
}

/** Largest decoded fetch (upload-pack) request accepted with a gzip body: wants and haves only. */
const MAX_UPLOAD_REQUEST_BYTES = 16 << 20;

/** The client's address, the key of the failure limiter. */
function addressOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function authFailureLimiter(
  o: GitHttpHandlerOptions['authFailures'],
  now?: () => number,
): FailureRateLimiter | undefined {
  if (o === false) return undefined;
  if (o instanceof FailureRateLimiter) return o;
  return new FailureRateLimiter({
    ...(o ?? DEFAULT_AUTH_FAILURES),
    ...(now ? { now } : {}),
  });
}

/** Failed authentications or malformed requests one address may make per window. */
export const DEFAULT_AUTH_FAILURES = { maxFailures: 30, windowMs: 60_000 };
