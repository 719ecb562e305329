/**
 * The console's routes (history API under /ui), parsed from and written to URLs (pure).
 * Unknown paths give `notFound`; `next` after sign-in only ever points inside /ui.
 */
import { DEVICE_FILTERS, type DeviceFilter } from './types.js';

export const BASE = '/ui';
export const PAGE_SIZE = 100;

export type Route =
  | { page: 'overview' }
  | { page: 'devices'; filter: DeviceFilter; q: string; offset: number }
  | { page: 'device'; id: string }
  | { page: 'deployment'; name: string }
  | { page: 'catalog' }
  | { page: 'app'; id: string }
  | { page: 'signin'; next: string }
  | { page: 'notFound'; path: string };

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Where to go after signing in: a path inside /ui (never another origin, never the sign-in page). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith(`${BASE}/`) || next.startsWith('//') || next.includes('\\'))
    return `${BASE}/`;
  if (/^\/ui\/signin(?:[/?#]|$)/.test(next)) return `${BASE}/`;
  return next;
}

/**
 * Parses a location's path and query string into a route.
 *
 * @example
 * parseRoute('/ui/devices/press-1', ''); // { page: 'device', id: 'press-1' }
 */
export function parseRoute(pathname: string, search = ''): Route {
  const params = new URLSearchParams(search);
  let path = pathname;
  if (path === BASE) path = `${BASE}/`;
  if (!path.startsWith(`${BASE}/`)) return { page: 'notFound', path: pathname };
  const parts = path
    .slice(BASE.length + 1)
    .split('/')
    .filter((p, i, all) => p !== '' || i < all.length - 1);
  const segs = parts.map(decode);
  if (segs.some((s) => s === undefined)) return { page: 'notFound', path: pathname };
  const [a, b, ...rest] = segs as string[];
  if (rest.length) return { page: 'notFound', path: pathname };
  if (a === undefined || a === '')
    return b === undefined ? { page: 'overview' } : { page: 'notFound', path: pathname };
  if (a === 'signin' && b === undefined) return { page: 'signin', next: safeNext(params.get('next')) };
  if (a === 'catalog') return b ? { page: 'app', id: b } : { page: 'catalog' };
  if (a === 'devices') {
    if (b) return { page: 'device', id: b };
    const f = params.get('filter') ?? 'all';
    const filter = (DEVICE_FILTERS as readonly string[]).includes(f) ? (f as DeviceFilter) : 'all';
    const off = Number.parseInt(params.get('offset') ?? '0', 10);
    const offset = Number.isFinite(off) && off > 0 ? off - (off % PAGE_SIZE) : 0;
    return { page: 'devices', filter, q: (params.get('q') ?? '').trim(), offset };
  }
  if (a === 'deployments' && b) return { page: 'deployment', name: b };
  return { page: 'notFound', path: pathname };
}

/**
 * The URL of a route (the inverse of parseRoute).
 *
 * @example
 * hrefFor({ page: 'deployment', name: 'hello world' }); // '/ui/deployments/hello%20world'
 */
export function hrefFor(r: Route): string {
  const e = encodeURIComponent;
  switch (r.page) {
    case 'overview':
      return `${BASE}/`;
    case 'devices': {
      const p = new URLSearchParams();
      if (r.filter !== 'all') p.set('filter', r.filter);
      if (r.q) p.set('q', r.q);
      if (r.offset > 0) p.set('offset', String(r.offset));
      const s = p.toString();
      return `${BASE}/devices${s ? `?${s}` : ''}`;
    }
    case 'device':
      return `${BASE}/devices/${e(r.id)}`;
    case 'deployment':
      return `${BASE}/deployments/${e(r.name)}`;
    case 'catalog':
      return `${BASE}/catalog`;
    case 'app':
      return `${BASE}/catalog/${e(r.id)}`;
    case 'signin':
      return r.next === `${BASE}/` ? `${BASE}/signin` : `${BASE}/signin?next=${e(r.next)}`;
    case 'notFound':
      return r.path;
  }
}

export const deviceHref = (id: string): string => hrefFor({ page: 'device', id });
export const deploymentHref = (name: string): string => hrefFor({ page: 'deployment', name });
export const appHref = (id: string): string => hrefFor({ page: 'app', id });

/** The document title of a route. */
export function titleFor(r: Route): string {
  const t = (s: string): string => `${s} · margo console`;
  switch (r.page) {
    case 'overview':
      return t('Fleet overview');
    case 'devices':
      return t('Devices');
    case 'device':
      return t(`Device ${r.id}`);
    case 'deployment':
      return t(`Deployment ${r.name}`);
    case 'catalog':
      return t('Catalog');
    case 'app':
      return t(`Application ${r.id}`);
    case 'signin':
      return t('Sign in');
    case 'notFound':
      return t('Not found');
  }
}
