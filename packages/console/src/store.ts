/**
 * The console's shared state (Preact signals): the route from the address bar, the signed-in
 * session, the event stream's state, and the one API client. Navigation uses the history API.
 */
import { signal } from '@preact/signals';
import { ApiClient, type ApiError } from './lib/api.js';
import { hrefFor, parseRoute, type Route } from './lib/route.js';
import type { FleetEvent, Overview, Session } from './lib/types.js';

export const route = signal<Route>(parseRoute(location.pathname, location.search));
/** undefined: not known yet; null: signed out. */
export const session = signal<Session | null | undefined>(undefined);
export const live = signal<'live' | 'reconnecting'>('reconnecting');
/** Now, to the 15 s: relative times ("2 min ago") re-render as it moves. */
export const clock = signal(Date.now());
setInterval(() => (clock.value = Date.now()), 15_000);
/** Bumped after each navigation (the main region takes focus). */
export const navCount = signal(0);

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin) {
    location.assign(href);
    return;
  }
  const to = `${url.pathname}${url.search}`;
  if (to !== `${location.pathname}${location.search}`) {
    if (opts.replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
  }
  route.value = parseRoute(url.pathname, url.search);
  navCount.value++;
}

export function goSignIn(): void {
  const here = `${location.pathname}${location.search}`;
  session.value = null;
  if (route.value.page !== 'signin') navigate(hrefFor({ page: 'signin', next: here }), { replace: true });
}

export const api = new ApiClient(
  (input, init) => fetch(input, init),
  (_e: ApiError) => goSignIn(),
);

/**
 * The overview asked for beside the session on the first load: the first paint needs both, so
 * they travel together instead of one after the other. Taken once by the overview page; when
 * nobody is signed in it is refused like the session check and the user goes to sign in.
 */
let firstOverview: Promise<Overview> | undefined;

export function prefetchOverview(): void {
  firstOverview = api.overview();
  firstOverview.catch(() => {});
}

/** The prefetched overview, once (undefined after the first take or when none was asked for). */
export function takeFirstOverview(): Promise<Overview> | undefined {
  const p = firstOverview;
  firstOverview = undefined;
  return p;
}

type Listener = (e: FleetEvent | 'reopened') => void;
const listeners = new Set<Listener>();

/** Subscribes to the event stream: `fleet` events, and `reopened` after a reconnect. */
export function onFleet(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function emitFleet(e: FleetEvent | 'reopened'): void {
  for (const l of [...listeners]) l(e);
}
