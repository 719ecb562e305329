import { MargoError } from '@margo-gitops/spec';
import type { Connection } from './client-config.js';

/** Path of the fleet status API under the server URL (createStatusHttpHandler is mounted there). */
export const STATUS_PATH = '/api/v1/status';

/** GET the fleet status JSON; errors name the URL and what to do. */
export async function fetchStatusHttp(conn: Connection, name?: string): Promise<unknown> {
  if (!/^https?:\/\//.test(conn.server)) {
    throw new MargoError(
      'CLI_NO_SERVER',
      `status needs a running server, and ${conn.server} is a data folder`,
      { hint: 'Start `margo serve` and use its URL (the local context does this for you).' },
    );
  }
  const url = `${conn.server}${STATUS_PATH}${name ? `/${encodeURIComponent(name)}` : ''}`;
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
