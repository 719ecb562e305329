/**
 * The HTTP layer of the OCI Distribution client: one request with registry auth (anonymous, Basic,
 * or the Bearer token flow of `WWW-Authenticate: Bearer realm=...`), redirects followed by hand,
 * and every failure mapped to a typed MargoError.
 *
 * Credentials rule: the credentials of a target belong to `target.host` (host[:port]) and are sent
 * only there: as Basic to the registry itself, and to a Bearer token realm only when the realm is
 * on that same host. A realm on another host (Docker Hub's auth.docker.io, for example) gets an
 * anonymous token request: a public repository still pulls, a private one fails with
 * OCI_AUTH_REFUSED instead of handing the password to a host the user never named. Redirects (a
 * registry sending blobs to object storage) are followed without any Authorization header unless
 * they stay on the registry's host. Neither credentials nor tokens ever appear in an error.
 */
import { MargoError } from '@margo-gitops/spec';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** One registry: `host` is `host[:port]` (no scheme); https unless `plainHttp`. */
export interface RegistryTarget {
  host: string;
  plainHttp?: boolean;
  credentials?: RegistryCredentials;
  /** Per request (a whole blob download counts as one request). */
  timeoutMs: number;
  fetch?: typeof fetch;
}

type Body = Uint8Array | (() => ReadableStream<Uint8Array>);

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** Path below the registry root (`/v2/...`) or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  /** A function body is a stream factory: it is not replayed after a 401 (auth is settled first). */
  body?: Body;
  /** What the request was about, for error messages (`name:tag`, a digest). */
  what: string;
  /** Statuses returned to the caller instead of being turned into errors (e.g. 404 for HEAD). */
  accept?: number[];
}

const MAX_REDIRECTS = 5;

/** Authorization headers already earned, per target object and repository (tokens are scoped). */
const authCache = new WeakMap<RegistryTarget, Map<string, string>>();

export function baseUrl(t: RegistryTarget): string {
  return `${t.plainHttp ? 'http' : 'https'}://${t.host}`;
}

/** The repository a `/v2/<name>/...` path is about (the key of the auth cache). */
function repoOf(path: string): string {
  const m = /\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path);
  return m ? m[1]! : '';
}

export async function registryRequest(t: RegistryTarget, r: RegistryRequest): Promise<Response> {
  const doFetch = t.fetch ?? fetch;
  const url = new URL(r.path, baseUrl(t) + '/');
  let cache = authCache.get(t);
  if (!cache) authCache.set(t, (cache = new Map()));
  const key = repoOf(url.pathname);
  let auth = cache.get(key) ?? cache.get('');

  const send = async (authorization: string | undefined): Promise<Response> => {
    let target = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameHost = target.host === url.host && target.protocol === url.protocol;
      const headers: Record<string, string> = { ...r.headers };
      if (authorization && sameHost) headers.authorization = authorization;
      const body = typeof r.body === 'function' ? r.body() : r.body;
      const res = await doFetch(target, {
        method: r.method,
        headers,
        ...(body ? { body, duplex: 'half' } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(t.timeoutMs),
      } as RequestInit);
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        await res.body?.cancel();
        if (r.method !== 'GET' && r.method !== 'HEAD') return res;
        target = new URL(res.headers.get('location')!, target);
        continue;
      }
      return res;
    }
    throw new MargoError('OCI_REGISTRY_ERROR', `registry ${t.host}: too many redirects for ${r.what}`);
  };

  let res: Response;
  try {
    res = await send(auth);
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      await res.body?.cancel();
      const fresh = await answerChallenge(t, challenge);
      if (fresh && fresh !== auth && typeof r.body !== 'function') {
        auth = fresh;
        res = await send(auth);
      } else if (fresh && fresh !== auth) {
        // A streamed body cannot be sent twice: callers settle auth with a HEAD/POST first.
        auth = fresh;
      }
      if (fresh) cache.set(/^basic/i.test(fresh) ? '' : key, fresh);
    }
  } catch (e) {
    if (e instanceof MargoError) throw e;
    throw unreachable(t, r.what, e);
  }
  if (r.accept?.includes(res.status)) return res;
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new MargoError(
      'OCI_AUTH_REFUSED',
      `registry ${t.host} refused ${t.credentials ? `the credentials of user ${JSON.stringify(t.credentials.username)}` : 'anonymous access'} for ${r.what} (${res.status})`,
      { data: { host: t.host, status: res.status } },
    );
  }
  if (res.status === 404) {
    const detail = await errorDetail(res);
    throw new MargoError('OCI_NOT_FOUND', `${r.what} not found in registry ${t.host}${detail}`, {
      data: { host: t.host },
    });
  }
  if (res.status >= 500) {
    const detail = await errorDetail(res);
    throw new MargoError(
      'OCI_REGISTRY_UNREACHABLE',
      `registry ${t.host} answered ${res.status} for ${r.what}${detail}`,
      { retry: 'backoff', data: { host: t.host, status: res.status } },
    );
  }
  if (!res.ok) {
    const detail = await errorDetail(res);
    throw new MargoError(
      'OCI_REGISTRY_ERROR',
      `registry ${t.host} answered ${res.status} for ${r.method} ${r.what}${detail}`,
      { data: { host: t.host, status: res.status } },
    );
  }
  return res;
}

export function unreachable(t: RegistryTarget, what: string, e: unknown): MargoError {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const why =
    err?.name === 'TimeoutError'
      ? `no answer within ${t.timeoutMs} ms`
      : (err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e));
  return new MargoError(
    'OCI_REGISTRY_UNREACHABLE',
    `registry ${t.host} is unreachable (${t.plainHttp ? 'http' : 'https'}) for ${what}: ${why}`,
    { retry: 'backoff', data: { host: t.host } },
  );
}

/** ` (CODE: message)` from an OCI error body, bounded, or ''. Registries do not echo credentials. */
async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    if (e?.code) return ` (${e.code}${e.message ? `: ${String(e.message).slice(0, 200)}` : ''})`;
  } catch {
    /* not an OCI error body */
  }
  return '';
}

/** Parses `Bearer realm="...",service="...",scope="..."` parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/gi)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

function basicOf(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The Authorization header answering a 401 challenge, or undefined (nothing to try). */
async function answerChallenge(t: RegistryTarget, header: string): Promise<string | undefined> {
  const { scheme, params } = parseChallenge(header);
  if (scheme === 'basic') return t.credentials ? basicOf(t.credentials) : undefined;
  if (scheme !== 'bearer' || !params.realm) return undefined;
  let realm: URL;
  try {
    realm = new URL(params.realm);
  } catch {
    throw new MargoError('OCI_REGISTRY_ERROR', `registry ${t.host} names an invalid token realm`);
  }
  if (params.service) realm.searchParams.set('service', params.service);
  if (params.scope) realm.searchParams.set('scope', params.scope);
  // Same host[:port] as the registry: the user's credentials are meant for it (see top of file).
  const credsGo = t.credentials && realm.host === t.host;
  const doFetch = t.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(realm, {
      headers: credsGo ? { authorization: basicOf(t.credentials!) } : {},
      redirect: 'error',
      signal: AbortSignal.timeout(t.timeoutMs),
    });
  } catch (e) {
    throw unreachable(t, `its token service ${realm.host}`, e);
  }
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  return token ? `Bearer ${token}` : undefined;
}
