/**
 * The console's client of the server's JSON API under /ui/api (docs/console.md). Every failure
 * becomes an ApiError with a stable code: the server's `{code, message, hint?}` when it sent one,
 * CONSOLE_NETWORK when the server could not be reached, CONSOLE_BAD_RESPONSE for anything else.
 * `fetch` is injected, so this module runs (and is tested) without a browser.
 */
import type {
  CatalogApp,
  CatalogList,
  DeploymentDetail,
  DeviceDetail,
  DeviceFilter,
  DeviceList,
  DiffResult,
  Overview,
  RollbackResult,
  RolloutAction,
  RolloutActionResult,
  Session,
} from './types.js';

export const API_BASE = '/ui/api';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }

  /** The session is missing or ended: the user has to sign in (again). */
  get unauthenticated(): boolean {
    return this.status === 401;
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Reads a failed response into an ApiError (the server's code when it is the JSON error shape).
 */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.code === 'string' && typeof b.message === 'string') {
      return new ApiError(res.status, b.code, b.message, typeof b.hint === 'string' ? b.hint : undefined);
    }
  }
  const fallback: Record<number, string> = {
    401: 'CONSOLE_UNAUTHENTICATED',
    403: 'CONSOLE_FORBIDDEN',
    404: 'CONSOLE_NOT_FOUND',
  };
  return new ApiError(
    res.status,
    fallback[res.status] ?? 'CONSOLE_BAD_RESPONSE',
    `the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
  );
}

export class ApiClient {
  constructor(
    private readonly fetchImpl: FetchLike,
    private readonly onUnauthenticated?: (e: ApiError) => void,
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') headers['x-margo-console'] = '1';
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(`${API_BASE}${path}`, init);
    } catch (e) {
      throw new ApiError(
        0,
        'CONSOLE_NETWORK',
        `the server could not be reached (${(e as Error).message ?? e})`,
      );
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (err.unauthenticated && path !== '/session') this.onUnauthenticated?.(err);
      throw err;
    }
    if (res.status === 204) return undefined as T;
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, 'CONSOLE_BAD_RESPONSE', 'the server sent a response that is not JSON');
    }
  }

  session(): Promise<Session> {
    return this.request('GET', '/session');
  }
  signIn(token: string): Promise<Session> {
    return this.request('POST', '/session', { token });
  }
  signOut(): Promise<void> {
    return this.request('DELETE', '/session');
  }
  overview(): Promise<Overview> {
    return this.request('GET', '/overview');
  }
  devices(q: { filter: DeviceFilter; q: string; offset: number; limit: number }): Promise<DeviceList> {
    const p = new URLSearchParams({ filter: q.filter, offset: String(q.offset), limit: String(q.limit) });
    if (q.q) p.set('q', q.q);
    return this.request('GET', `/devices?${p}`);
  }
  device(id: string): Promise<DeviceDetail> {
    return this.request('GET', `/devices/${encodeURIComponent(id)}`);
  }
  deployment(name: string): Promise<DeploymentDetail> {
    return this.request('GET', `/deployments/${encodeURIComponent(name)}`);
  }
  diff(name: string, from: string, to: string): Promise<DiffResult> {
    const p = new URLSearchParams({ from, to });
    return this.request('GET', `/deployments/${encodeURIComponent(name)}/diff?${p}`);
  }
  rollback(name: string, to?: string): Promise<RollbackResult> {
    return this.request('POST', `/deployments/${encodeURIComponent(name)}/rollback`, to ? { to } : {});
  }
  /** `margo rollout ACTION NAME [--wave W]`: one commit to rollouts/NAME.json. */
  rolloutAction(name: string, action: RolloutAction, wave?: string): Promise<RolloutActionResult> {
    return this.request('POST', `/rollouts/${encodeURIComponent(name)}/${action}`, wave ? { wave } : {});
  }
  catalog(): Promise<CatalogList> {
    return this.request('GET', '/catalog');
  }
  app(id: string): Promise<CatalogApp> {
    return this.request('GET', `/catalog/${encodeURIComponent(id)}`);
  }
}

/** One line for an error: `CODE: message`. */
export function errorLine(e: unknown): string {
  if (e instanceof ApiError) return `${e.code}: ${e.message}`;
  return `CONSOLE_ERROR: ${(e as Error)?.message ?? String(e)}`;
}
