import type { GitAuth } from './store.js';

/** The HTTP Authorization header value for a token. */
export function authorizationHeader(auth: GitAuth): string {
  if (auth.scheme === 'bearer') return `Bearer ${auth.token}`;
  const user = auth.username ?? 'margo';
  return `Basic ${Buffer.from(`${user}:${auth.token}`, 'utf8').toString('base64')}`;
}

/** Removes credentials (user:password@ and query strings) from a URL for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
