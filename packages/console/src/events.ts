/**
 * The one EventSource to /ui/api/events while signed in: `live` is "live" while it is open,
 * "reconnecting" otherwise. The browser reconnects by itself after a dropped connection; when the
 * server refuses the stream (the source closes), the session is checked and the stream reopened
 * with a growing delay. After any reconnect the pages refetch (events may have been missed).
 */
import { parseFleetEvent } from './lib/live.js';
import { api, emitFleet, goSignIn, live } from './store.js';

let source: EventSource | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;
let delay = 1000;
let everOpen = false;

export function startEvents(): void {
  if (source) return;
  const es = new EventSource('/ui/api/events');
  source = es;
  es.addEventListener('open', () => {
    live.value = 'live';
    delay = 1000;
    if (everOpen) emitFleet('reopened');
    everOpen = true;
  });
  es.addEventListener('fleet', (m) => {
    const e = parseFleetEvent((m as MessageEvent<string>).data);
    if (e) emitFleet(e);
  });
  es.addEventListener('error', () => {
    live.value = 'reconnecting';
    if (es.readyState !== EventSource.CLOSED) return;
    // Refused (not an event stream, e.g. 401): check the session, then try again later.
    stopEvents();
    api.session().then(
      () => schedule(),
      (err: { unauthenticated?: boolean }) => (err.unauthenticated ? goSignIn() : schedule()),
    );
  });
}

function schedule(): void {
  clearTimeout(retry);
  retry = setTimeout(startEvents, delay);
  delay = Math.min(delay * 2, 30_000);
}

export function stopEvents(): void {
  clearTimeout(retry);
  source?.close();
  source = undefined;
  live.value = 'reconnecting';
}
