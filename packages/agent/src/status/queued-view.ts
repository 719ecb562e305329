/**
 * What both status sinks (Git and REST) share: the view of the server's reports once the outbox
 * is delivered, how a report is queued (only what differs, durably, before it returns), and the
 * serialised flush (concurrent calls coalesce into one more round).
 */
import type { StatusOutbox } from './status-outbox.js';

/** Applies absolute contents (null deletes) to a view. */
export function applyToView(view: Map<string, string>, files: Record<string, string | null>): void {
  for (const [p, c] of Object.entries(files)) {
    if (c === null) view.delete(p);
    else view.set(p, c);
  }
}

/** Queues on disk the files whose content differs from the view, and applies them; false when none do. */
export function queueChanges(
  view: Map<string, string>,
  outbox: StatusOutbox,
  files: Record<string, string | null>,
  message: string,
): boolean {
  const changed: Record<string, string | null> = {};
  for (const [p, c] of Object.entries(files)) {
    const cur = view.get(p);
    if (c === null ? cur !== undefined : cur !== c) changed[p] = c;
  }
  if (Object.keys(changed).length === 0) return false;
  outbox.enqueue(changed, message);
  applyToView(view, changed);
  return true;
}

/**
 * `once` serialised: a call while one runs waits for it and makes it go round once more (what was
 * queued meanwhile is delivered too), as long as rounds succeed.
 */
export function coalesced(once: () => Promise<boolean>): () => Promise<boolean> {
  let running: Promise<boolean> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let ok = false;
      try {
        do {
          again = false;
          ok = await once();
        } while (again && ok);
      } finally {
        running = null;
      }
      return ok;
    })();
    return running;
  };
}
