/**
 * Runs `fn` over `items` with at most `limit` in flight; never rejects (each failure is returned
 * in its slot), so one bad item neither blocks nor aborts the others.
 */
export async function runBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  onDone?: (done: number, total: number) => void,
): Promise<({ ok: true; value: R } | { ok: false; error: unknown })[]> {
  const out = new Array<{ ok: true; value: R } | { ok: false; error: unknown }>(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { ok: true, value: await fn(items[i]!) };
      } catch (error) {
        out[i] = { ok: false, error };
      }
      done++;
      onDone?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
