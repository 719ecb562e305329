/**
 * A read-only OCI Distribution API (distribution-spec v1.1 "pull") over a LayoutSource:
 * `GET /v2/`, `GET|HEAD /v2/<name>/manifests/<tag|digest>`, `GET|HEAD /v2/<name>/blobs/<digest>`
 * (Range), `GET /v2/<name>/tags/list` (`n`, `last`). Writes get 405 UNSUPPORTED. Manifests are
 * verified when the index of a source revision is built; blobs are verified into an on-disk cache
 * before their first byte is sent (VerifiedBlobStore). Authentication and authorisation are the
 * caller's (`authorize`), so this module knows nothing of tokens or Git.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { isDigest, isRepositoryName, isTag } from '../layout.js';
import { VerifiedBlobStore } from './blob-store.js';
import { parseRange } from './http-range.js';
import { buildRegistryIndex, type RegistryIndex } from './registry-index.js';
import type { LayoutSource } from './source.js';

/** The answer of `authorize`: let the request through, or refuse it with 401, 403 or 429. */
export type RegistryAccess =
  | { allow: true }
  | { allow: false; status: 401 | 403 | 429; retryAfterSeconds?: number; message?: string };

export interface RegistryHandlerOptions {
  source: LayoutSource;
  /** Folder of the verified blob cache (created when needed). */
  cacheDir: string;
  /**
   * Decides whether `req` may read `repository` (undefined: the `GET /v2/` ping, any valid
   * credentials). Called before anything about the repository is looked up, so a refusal
   * discloses nothing. Default: everyone may read everything.
   */
  authorize?: (
    req: IncomingMessage,
    repository: string | undefined,
  ) => RegistryAccess | Promise<RegistryAccess>;
  /** Realm of the Basic challenge. Default `margo`. */
  realm?: string;
  /** Layouts or entries that are not served (broken packages), for the server's log. */
  onWarning?: (message: string) => void;
  /** URL prefix. Default `/v2`. */
  basePath?: string;
}

type OciCode =
  | 'BLOB_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'NAME_INVALID'
  | 'DIGEST_INVALID'
  | 'TAG_INVALID'
  | 'DENIED'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

const API_HEADER = { 'docker-distribution-api-version': 'registry/2.0' };

function sendError(
  res: ServerResponse,
  status: number,
  code: OciCode,
  message: string,
  headers: Record<string, string> = {},
  head = false,
): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  res.writeHead(status, {
    ...API_HEADER,
    'content-type': 'application/json',
    'content-length': String(body.length),
    ...headers,
  });
  res.end(head ? undefined : body);
}

type Route =
  | { kind: 'ping' }
  | { kind: 'manifest' | 'blob'; name: string; ref: string }
  | { kind: 'tags'; name: string }
  | { kind: 'other'; name?: string };

/** Maps the path below `/v2` to a route (names are checked by the caller). */
export function parseRegistryPath(rest: string): Route {
  if (rest === '' || rest === '/') return { kind: 'ping' };
  let m = /^\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(rest);
  if (m) return { kind: m[2] === 'manifests' ? 'manifest' : 'blob', name: m[1]!, ref: m[3]! };
  m = /^\/(.+)\/tags\/list$/.exec(rest);
  if (m) return { kind: 'tags', name: m[1]! };
  m = /^\/(.+)\/(?:blobs\/uploads|referrers)(?:\/.*)?$/.exec(rest);
  return m ? { kind: 'other', name: m[1]! } : { kind: 'other' };
}

/**
 * The `/v2/` request handler. Resolves false for paths outside the base path.
 *
 * @example
 * const registry = createRegistryHandler({ source, cacheDir: join(dataDir, 'cache', 'oci') });
 * routes.push({ prefix: '/v2/', name: 'registry', handle: registry });
 */
export function createRegistryHandler(opts: RegistryHandlerOptions) {
  const basePath = (opts.basePath ?? '/v2').replace(/\/+$/, '');
  const store = new VerifiedBlobStore(opts.cacheDir);
  const challenge = `Basic realm="${opts.realm ?? 'margo'}"`;
  let current: Promise<RegistryIndex> | undefined;
  let currentRevision: string | undefined;

  /** The index of the source's current revision (built once per revision, shared by requests). */
  const indexNow = async (): Promise<RegistryIndex | undefined> => {
    const revision = await opts.source.revision();
    if (revision === undefined) return undefined;
    if (revision !== currentRevision || !current) {
      currentRevision = revision;
      current = buildRegistryIndex(opts.source, revision, opts.onWarning);
      current.catch(() => {
        if (currentRevision === revision) current = undefined;
      });
    }
    return current;
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const [rawPath, query = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
    if (rawPath !== basePath && !rawPath.startsWith(`${basePath}/`)) return false;
    const route = parseRegistryPath(rawPath.slice(basePath.length));
    const head = req.method === 'HEAD';
    const name = route.kind === 'ping' ? undefined : route.name;
    if (name !== undefined && !isRepositoryName(name)) {
      sendError(res, 400, 'NAME_INVALID', 'not a repository name', {}, head);
      return true;
    }
    const access = opts.authorize ? await opts.authorize(req, name) : { allow: true as const };
    if (!access.allow) {
      if (access.status === 401)
        sendError(
          res,
          401,
          'UNAUTHORIZED',
          access.message ?? 'authentication required (Basic, password = a margo token)',
          { 'www-authenticate': challenge },
          head,
        );
      else if (access.status === 429)
        sendError(
          res,
          429,
          'TOOMANYREQUESTS',
          access.message ?? 'too many failed or malformed requests',
          { 'retry-after': String(access.retryAfterSeconds ?? 60) },
          head,
        );
      else sendError(res, 403, 'DENIED', access.message ?? 'access to this repository is denied', {}, head);
      return true;
    }
    if (req.method !== 'GET' && !head) {
      sendError(res, 405, 'UNSUPPORTED', 'this registry is read-only: publish with `margo app publish`', {
        allow: 'GET, HEAD',
      });
      return true;
    }
    if (route.kind === 'ping') {
      res.writeHead(200, { ...API_HEADER, 'content-type': 'application/json', 'content-length': '2' });
      res.end(head ? undefined : '{}');
      return true;
    }
    if (route.kind === 'other') {
      sendError(res, 404, 'UNSUPPORTED', 'not supported by this read-only registry', {}, head);
      return true;
    }
    const index = await indexNow();
    const repo = index?.repositories.get(route.name);
    if (!repo) {
      sendError(res, 404, 'NAME_UNKNOWN', `repository ${route.name} is not known`, {}, head);
      return true;
    }
    if (route.kind === 'tags') {
      sendTags(res, route.name, [...repo.tags.keys()].sort(), new URLSearchParams(query), basePath, head);
      return true;
    }
    if (route.kind === 'manifest') {
      if (!isDigest(route.ref) && !isTag(route.ref)) {
        sendError(res, 400, 'TAG_INVALID', 'not a tag or sha256 digest', {}, head);
        return true;
      }
      const digest = isDigest(route.ref) ? route.ref : repo.tags.get(route.ref);
      const m = digest ? repo.manifests.get(digest) : undefined;
      if (!digest || !m) {
        sendError(res, 404, 'MANIFEST_UNKNOWN', `manifest ${route.ref} is not in ${route.name}`, {}, head);
        return true;
      }
      const headers = {
        ...API_HEADER,
        'content-type': m.mediaType,
        'docker-content-digest': digest,
        etag: `"${digest}"`,
      };
      if (req.headers['if-none-match'] === `"${digest}"`) {
        res.writeHead(304, headers).end();
        return true;
      }
      res.writeHead(200, { ...headers, 'content-length': String(m.bytes.length) });
      res.end(head ? undefined : m.bytes);
      return true;
    }
    // blob
    if (!isDigest(route.ref)) {
      sendError(res, 400, 'DIGEST_INVALID', 'blobs are named by sha256:<64 hex>', {}, head);
      return true;
    }
    const blob = repo.blobs.get(route.ref);
    if (!blob) {
      sendError(res, 404, 'BLOB_UNKNOWN', `blob ${route.ref} is not in ${route.name}`, {}, head);
      return true;
    }
    const revision = index!.revision;
    const manifest = repo.manifests.get(route.ref);
    let path: string | undefined;
    if (!manifest) {
      try {
        path = await store.ensure(route.ref, blob.size, () =>
          opts.source.openBlob(revision, blob.layout, route.ref),
        );
      } catch (e) {
        if ((e as { code?: string }).code !== 'OCI_DIGEST_MISMATCH') throw e;
        opts.onWarning?.(`${route.name}: ${(e as Error).message}`);
        sendError(res, 500, 'UNKNOWN', 'the stored blob does not match its digest; not served', {}, head);
        return true;
      }
    }
    const size = manifest ? manifest.bytes.length : (await stat(path!)).size;
    const headers: Record<string, string> = {
      ...API_HEADER,
      'content-type': 'application/octet-stream',
      'docker-content-digest': route.ref,
      etag: `"${route.ref}"`,
      'accept-ranges': 'bytes',
    };
    if (req.headers['if-none-match'] === `"${route.ref}"`) {
      res.writeHead(304, headers).end();
      return true;
    }
    const range = parseRange(req.headers.range, size);
    if (range.kind === 'unsatisfiable') {
      sendError(
        res,
        416,
        'RANGE_INVALID',
        `the blob has ${size} bytes`,
        { 'content-range': `bytes */${size}` },
        head,
      );
      return true;
    }
    const [start, end] = range.kind === 'part' ? [range.start, range.end] : [0, size - 1];
    if (range.kind === 'part') headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range.kind === 'part' ? 206 : 200, {
      ...headers,
      'content-length': String(end - start + 1),
    });
    if (head || size === 0) {
      res.end();
    } else if (manifest) {
      res.end(manifest.bytes.subarray(start, end + 1));
    } else {
      // A client that goes away mid-blob ends the stream; nothing to report.
      await pipeline(createReadStream(path!, { start, end, highWaterMark: 1 << 20 }), res).catch(() =>
        res.destroy(),
      );
    }
    return true;
  };
}

function sendTags(
  res: ServerResponse,
  name: string,
  all: string[],
  q: URLSearchParams,
  basePath: string,
  head: boolean,
): void {
  const last = q.get('last');
  const nRaw = q.get('n');
  let tags = last !== null ? all.filter((t) => t > last) : all;
  let more = false;
  if (nRaw !== null) {
    const n = Number(nRaw);
    if (!/^\d+$/.test(nRaw) || !Number.isSafeInteger(n)) {
      sendError(res, 400, 'PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', {}, head);
      return;
    }
    more = tags.length > n;
    tags = tags.slice(0, n);
  }
  const body = Buffer.from(JSON.stringify({ name, tags }));
  const headers: Record<string, string> = {
    ...API_HEADER,
    'content-type': 'application/json',
    'content-length': String(body.length),
  };
  if (more && tags.length)
    headers.link = `<${basePath}/${name}/tags/list?n=${nRaw}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"`;
  res.writeHead(200, headers);
  res.end(head ? undefined : body);
}
