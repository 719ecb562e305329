import { MargoError } from '@margo-gitops/spec';
import type { Connection } from './client-config.js';

/** Path of the fleet status API under the server URL (createStatusHttpHandler is mounted there). */
export const STATUS_PATH = '/api/v1/status';

const isServerUrl = (server: string) => /^https?:\/\//.test(server);

/** GET a path of the status API; transport and token problems become MargoErrors naming the URL. */
async function statusGet(conn: Connection, sub: string): Promise<{ url: string; res: Response }> {
  const url = `${conn.server}${STATUS_PATH}${sub}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: {
        accept: 'application/json',
        ...(conn.token ? { authorization: `Bearer ${conn.token}` } : {}),
      },
      signal: AbortSignal.timeout(15000),
    });
  } catch (e) {
    throw new MargoError(
      'CLI_SERVER_UNREACHABLE',
      `cannot reach ${conn.server} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})`,
      { cause: e, data: { url } },
    );
  }
  if (res.status === 401 || res.status === 403)
    throw new MargoError('CLI_AUTH_FAILED', `the server refused the token for ${url} (HTTP ${res.status})`, {
      data: { url },
    });
  return { url, res };
}

/** GET the fleet status JSON; errors name the URL and what to do. */
export async function fetchStatusHttp(conn: Connection, name?: string): Promise<unknown> {
  if (!isServerUrl(conn.server)) {
    throw new MargoError(
      'CLI_NO_SERVER',
      `status needs a running server, and ${conn.server} is a data folder`,
      { hint: 'Start `margo serve` and use its URL (the local context does this for you).' },
    );
  }
  const { url, res } = await statusGet(conn, name ? `/${encodeURIComponent(name)}` : '');
  if (res.status === 404 && name) {
    throw new MargoError('CLI_DEPLOYMENT_NOT_FOUND', `no deployment "${name}" in the fleet status`, {
      data: { name },
    });
  }
  if (!res.ok)
    throw new MargoError(
      'CLI_HTTP_ERROR',
      `GET ${url}: HTTP ${res.status} ${await res
        .text()
        .then((t) => t.slice(0, 200))
        .catch(() => '')}`,
      { data: { url, status: res.status } },
    );
  return res.json();
}

/** The server's live rollout view(s), or why there is none (the caller then reads the fleet repository). */
export type LiveRollouts =
  | { live: true; body: { rollout?: unknown; rollouts?: unknown[] } }
  | { live: false; why: string };

/**
 * GET `/api/v1/status/rollouts[/<name>]`. A server that cannot be reached, has no rollout routes
 * (an older version answers with a deployment or 404), or has not read this rollout yields
 * `live: false` with the reason; a refused token is still an error.
 */
export async function fetchRolloutsHttp(conn: Connection, name?: string): Promise<LiveRollouts> {
  if (!isServerUrl(conn.server)) return { live: false, why: `${conn.server} is a data folder, not a server` };
  let got: { url: string; res: Response };
  try {
    got = await statusGet(conn, `/rollouts${name ? `/${encodeURIComponent(name)}` : ''}`);
  } catch (e) {
    if (e instanceof MargoError && e.code === 'CLI_SERVER_UNREACHABLE')
      return { live: false, why: e.message };
    throw e;
  }
  const body = (await got.res.json().catch(() => undefined)) as
    | { code?: string; rollout?: unknown; rollouts?: unknown[] }
    | undefined;
  if (got.res.status === 404 && body?.code === 'ORCH_ROLLOUT_NOT_FOUND')
    return { live: false, why: 'the server has not read this rollout yet' };
  const shaped = name ? body?.rollout !== undefined : Array.isArray(body?.rollouts);
  if (!got.res.ok || !shaped)
    return {
      live: false,
      why: got.res.ok
        ? 'the server does not serve rollout views (an older version)'
        : `GET ${got.url}: HTTP ${got.res.status}${body?.code ? ` ${body.code}` : ''}`,
    };
  return { live: true, body: body! };
}
