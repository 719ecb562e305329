/** Small shared pieces of the console's pages: states, times, links, loading and errors. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorLine } from './lib/api.js';
import { showTime, stateTone, stateWord } from './lib/format.js';
import { concerns, type Shown } from './lib/live.js';
import { clock, navigate, onFleet, route } from './store.js';

/** A state as its word, with a shape and colour by tone (never colour alone). */
export function StateBadge({ state }: { state: string | null | undefined }) {
  const word = stateWord(state);
  return (
    <span class={`state tone-${stateTone(word)}`}>
      <span class="state-mark" aria-hidden="true"></span>
      {word}
    </span>
  );
}

/** A time shown relative to now, in full in its tooltip and datetime. */
export function Time({
  at,
  missing = 'never',
}: {
  at: string | number | null | undefined;
  missing?: string;
}) {
  // Reading the clock signal re-renders this time (only) as it moves.
  const t = showTime(at, Math.max(clock.value, Date.now()));
  if (!t) return <span class="muted">{missing}</span>;
  return (
    <time dateTime={t.iso} title={t.absolute}>
      {t.relative}
    </time>
  );
}

/** A link inside the console, followed with the history API. */
export function Link({
  href,
  children,
  class: cls,
  current,
}: {
  href: string;
  children: ComponentChildren;
  class?: string;
  /** This link is the page shown (aria-current=page). */
  current?: boolean;
}) {
  return (
    <a
      href={href}
      class={cls}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function ErrorAlert({ error }: { error: unknown }) {
  const hint = error instanceof ApiError ? error.hint : undefined;
  return (
    <div role="alert" class="alert">
      <strong>{errorLine(error)}</strong>
      {hint ? <p>{hint}</p> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

/** A titled section (`region` landmark named by its heading). */
export function Section({ title, id, children }: { title: string; id: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id} class="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export interface Resource<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads a page's data, and loads it again when a `fleet` event concerns what it shows (or after a
 * reconnect). The last data stays on screen while a refetch runs; a refetch failing keeps it too.
 */
export function useResource<T>(
  key: string,
  load: () => Promise<T>,
  shown: (data: T | undefined) => Omit<Shown, 'route'>,
): Resource<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown; loading: boolean }>({
    key,
    loading: true,
  });
  const seq = useRef(0);
  const latest = useRef({ load, shown, data: undefined as T | undefined });
  latest.current.load = load;
  latest.current.shown = shown;

  const run = (): void => {
    const n = ++seq.current;
    setState((s) => ({ ...(s.key === key ? s : { key }), loading: true }));
    latest.current.load().then(
      (data) => {
        if (n !== seq.current) return;
        latest.current.data = data;
        setState({ key, data, loading: false });
      },
      (error: unknown) => {
        if (n !== seq.current) return;
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error, loading: false }));
      },
    );
  };

  useEffect(() => {
    latest.current.data = undefined;
    run();
    let pending: ReturnType<typeof setTimeout> | undefined;
    const off = onFleet((e) => {
      const cur = { route: route.peek(), ...latest.current.shown(latest.current.data) };
      if (e !== 'reopened' && !concerns(cur, e)) return;
      // Several events in a burst: one refetch.
      clearTimeout(pending);
      pending = setTimeout(run, 100);
    });
    return () => {
      off();
      clearTimeout(pending);
      seq.current++;
    };
  }, [key]);

  const same = state.key === key;
  return {
    data: same ? state.data : undefined,
    error: same ? state.error : undefined,
    loading: !same || state.loading,
    reload: run,
  };
}

/** Renders the data of a resource, a loading line, or its error. */
export function Loaded<T>({
  res,
  what,
  children,
}: {
  res: Resource<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (res.data !== undefined)
    return (
      <>
        {res.error ? <ErrorAlert error={res.error} /> : null}
        {children(res.data)}
      </>
    );
  if (res.error) return <ErrorAlert error={res.error} />;
  return <Loading what={what} />;
}

/** One term of a description list (`<dl class="facts">`) and its value; `wide` spans the row. */
export function Fact({
  term,
  wide,
  children,
}: {
  term: string;
  wide?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class={wide ? 'wide' : undefined}>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** A column heading of a DataTable: its text, or its content and whether it holds numbers. */
export type Column = string | { label: ComponentChildren; num?: boolean };

/**
 * A table with a caption, one row of column headings, a row per item and, when there is none and
 * `empty` is given, one row spanning every column with that message.
 */
export function DataTable<T>({
  caption,
  captionClass,
  class: cls,
  cols,
  items,
  row,
  empty,
  foot,
}: {
  caption: ComponentChildren;
  captionClass?: string;
  class?: string;
  /** Falsy entries are left out (columns shown only sometimes). */
  cols: (Column | false)[];
  items: readonly T[];
  /** One `<tr>` (with its key) for an item. */
  row: (item: T, i: number) => ComponentChildren;
  empty?: ComponentChildren;
  foot?: ComponentChildren;
}) {
  const shown = cols.filter((c): c is Column => c !== false);
  return (
    <table class={cls}>
      <caption class={captionClass}>{caption}</caption>
      <thead>
        <tr>
          {shown.map((c, i) =>
            typeof c === 'string' ? (
              <th key={i} scope="col">
                {c}
              </th>
            ) : (
              <th key={i} scope="col" class={c.num ? 'num' : undefined}>
                {c.label}
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>
        {items.length || empty === undefined ? (
          items.map(row)
        ) : (
          <tr>
            <td colSpan={shown.length} class="muted">
              {empty}
            </td>
          </tr>
        )}
      </tbody>
      {foot ? <tfoot>{foot}</tfoot> : null}
    </table>
  );
}

/** The outcome of a change: its line in a status region (always present), and its error if any. */
export function ResultLine({ ok, error }: { ok: string | undefined; error: unknown }) {
  return (
    <>
      <div role="status" class="result">
        {ok ?? ''}
      </div>
      {error ? <ErrorAlert error={error} /> : null}
    </>
  );
}

/**
 * A change made by a button (one commit): busy while it runs, its result or error kept for
 * ResultLine; `onChanged` after it succeeds, `onSettled` either way (e.g. to close a dialog).
 */
export function useChange<A, R>(
  change: (arg: A) => Promise<R>,
  onChanged: () => void,
  onSettled: () => void,
): { busy: boolean; result?: { ok?: R; error?: unknown }; run: (arg: A) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok?: R; error?: unknown }>();
  const run = async (arg: A): Promise<void> => {
    setBusy(true);
    try {
      const ok = await change(arg);
      setResult({ ok });
      onChanged();
    } catch (error) {
      setResult({ error });
    } finally {
      setBusy(false);
      onSettled();
    }
  };
  return { busy, result, run };
}

/** A JSON value for people: pretty-printed in a scrollable block. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}
