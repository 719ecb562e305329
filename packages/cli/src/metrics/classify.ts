/** Bounded label values for the server's metrics (pure). */

/** The class of a reconcile pass's reason (reasons name devices and repositories: unbounded). */
export type ReasonClass =
  | 'start'
  | 'periodic'
  | 'push-fleet'
  | 'push-catalog'
  | 'status-push'
  | 'enrolled'
  | 'rollout-timer'
  | 'manual'
  | 'other';

export function reasonClass(reason: string): ReasonClass {
  if (reason === 'start' || reason === 'periodic' || reason === 'enrolled' || reason === 'manual')
    return reason;
  if (reason === 'push fleet.git') return 'push-fleet';
  if (reason === 'push catalog.git') return 'push-catalog';
  if (reason.startsWith('status push ') || reason === 'device status') return 'status-push';
  if (reason === 'rollout timer') return 'rollout-timer';
  return 'other';
}

export type HttpOutcome =
  | 'ok'
  | 'unauthorized'
  | 'forbidden'
  | 'rate-limited'
  | 'client-error'
  | 'server-error'
  | 'aborted';

/** How an HTTP request ended, from its status (0: the connection closed before an answer). */
export function httpOutcome(status: number): HttpOutcome {
  if (status === 0) return 'aborted';
  if (status < 400) return 'ok';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate-limited';
  return status < 500 ? 'client-error' : 'server-error';
}
