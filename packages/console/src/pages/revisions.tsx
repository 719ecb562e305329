/**
 * A deployment's revisions (fleet commits touching deployments/<name>.yaml): the diff between
 * any two, and roll back to one (a fleet commit naming the signed-in token, confirmed first).
 */
import { useEffect, useState } from 'preact/hooks';
import { classifyDiff, diffStat } from '../lib/diff.js';
import { shortCommit } from '../lib/format.js';
import type { DiffResult, Revision, RollbackResult } from '../lib/types.js';
import { Dialog } from '../dialog.js';
import { api } from '../store.js';
import { ErrorAlert, Time } from '../ui.js';

function optionText(r: Revision, i: number): string {
  return `${shortCommit(r.commit)} ${r.subject}${i === 0 ? ' (current)' : ''}`;
}

function DiffView({ diff }: { diff: DiffResult }) {
  const lines = classifyDiff(diff.patch);
  const stat = diffStat(lines);
  return (
    <section aria-labelledby="diff-title" class="diff-region">
      <h3 id="diff-title">Diff</h3>
      <p class="muted">
        From <code>{shortCommit(diff.from)}</code> to <code>{shortCommit(diff.to)}</code>: {stat.added} added,{' '}
        {stat.removed} removed lines.
      </p>
      {lines.length ? (
        <pre class="diff" tabIndex={0} aria-label="Unified diff">
          {lines.map((l, i) => (
            <span key={i} class={`dl dl-${l.kind}`}>
              {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      ) : (
        <p>No difference between these revisions.</p>
      )}
    </section>
  );
}

export function Revisions({
  name,
  revisions,
  canChange,
  onChanged,
}: {
  name: string;
  revisions: Revision[];
  canChange: boolean;
  onChanged: () => void;
}) {
  const [from, setFrom] = useState(revisions[1]?.commit ?? revisions[0]?.commit ?? '');
  const [to, setTo] = useState(revisions[0]?.commit ?? '');
  const [diff, setDiff] = useState<DiffResult>();
  const [diffError, setDiffError] = useState<unknown>();
  const [confirm, setConfirm] = useState<Revision>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok?: RollbackResult; error?: unknown }>();

  // Keep the selection valid as revisions arrive.
  const known = new Set(revisions.map((r) => r.commit));
  useEffect(() => {
    if (!known.has(to)) setTo(revisions[0]?.commit ?? '');
    if (!known.has(from)) setFrom(revisions[1]?.commit ?? revisions[0]?.commit ?? '');
  }, [revisions.map((r) => r.commit).join(',')]);

  const showDiff = async (e: Event): Promise<void> => {
    e.preventDefault();
    setDiffError(undefined);
    try {
      setDiff(await api.diff(name, from, to));
    } catch (err) {
      setDiff(undefined);
      setDiffError(err);
    }
  };

  const rollBack = async (r: Revision): Promise<void> => {
    setBusy(true);
    try {
      const ok = await api.rollback(name, r.commit);
      setResult({ ok });
      onChanged();
    } catch (error) {
      setResult({ error });
    } finally {
      setBusy(false);
      setConfirm(undefined);
    }
  };

  return (
    <section aria-labelledby="revisions-title" class="card">
      <h2 id="revisions-title">Revisions</h2>
      {canChange ? null : (
        <p class="note" role="note">
          Read-only (viewer)
        </p>
      )}
      <div role="status" class="result">
        {result?.ok ? `Rolled back ${name}: commit ${shortCommit(result.ok.commit)}` : ''}
      </div>
      {result?.error ? <ErrorAlert error={result.error} /> : null}
      <table>
        <caption class="visually-hidden">Revisions</caption>
        <thead>
          <tr>
            <th scope="col">Commit</th>
            <th scope="col">When</th>
            <th scope="col">Author</th>
            <th scope="col">Message</th>
            {canChange ? (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {revisions.length ? (
            revisions.map((r, i) => (
              <tr key={r.commit}>
                <th scope="row">
                  <code title={r.commit}>{shortCommit(r.commit)}</code>
                  {i === 0 ? <span class="tag">current</span> : null}
                </th>
                <td>
                  <Time at={r.at} />
                </td>
                <td>{r.author}</td>
                <td>{r.subject}</td>
                {canChange ? (
                  <td>
                    <button type="button" class="button secondary small" onClick={() => setConfirm(r)}>
                      Roll back to {shortCommit(r.commit)}
                    </button>
                  </td>
                ) : null}
              </tr>
            ))
          ) : (
            <tr>
              <td colSpan={canChange ? 5 : 4} class="muted">
                No revisions.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {revisions.length > 0 ? (
        <form class="toolbar" onSubmit={showDiff}>
          <div class="field">
            <label for="diff-from">From revision</label>
            <select
              id="diff-from"
              value={from}
              onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}
            >
              {revisions.map((r, i) => (
                <option key={r.commit} value={r.commit}>
                  {optionText(r, i)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="diff-to">To revision</label>
            <select id="diff-to" value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
              {revisions.map((r, i) => (
                <option key={r.commit} value={r.commit}>
                  {optionText(r, i)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="button">
            Show diff
          </button>
        </form>
      ) : null}
      {diffError ? <ErrorAlert error={diffError} /> : null}
      {diff ? <DiffView diff={diff} /> : null}
      {confirm ? (
        <Dialog title="Confirm rollback" onClose={() => !busy && setConfirm(undefined)}>
          <p>
            Roll back <strong>{name}</strong> to revision <code>{shortCommit(confirm.commit)}</code> (“
            {confirm.subject}”)? This makes one commit in the fleet repository, authored in your token's name;
            devices follow as for any change.
          </p>
          <div class="actions">
            <button
              type="button"
              class="button danger"
              disabled={busy}
              onClick={() => void rollBack(confirm)}
            >
              Roll back
            </button>
            <button
              type="button"
              class="button secondary"
              data-autofocus
              onClick={() => setConfirm(undefined)}
            >
              Cancel
            </button>
          </div>
          {busy ? <p class="muted">Committing…</p> : null}
        </Dialog>
      ) : null}
    </section>
  );
}
