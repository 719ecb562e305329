/**
 * A deployment's revisions (fleet commits touching deployments/<name>.yaml): the diff between
 * any two, and roll back to one (a fleet commit naming the signed-in token, confirmed first).
 */
import { useState } from 'preact/hooks';
import { classifyDiff, diffStat } from '../lib/diff.js';
import { shortCommit } from '../lib/format.js';
import type { DiffResult, Revision } from '../lib/types.js';
import { ConfirmDialog } from '../dialog.js';
import { api } from '../store.js';
import { DataTable, ErrorAlert, ResultLine, Time, useChange } from '../ui.js';

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

function RevisionSelect({
  id,
  label,
  revisions,
  value,
  onChange,
}: {
  id: string;
  label: string;
  revisions: Revision[];
  value: string;
  onChange: (commit: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {revisions.map((r, i) => (
          <option key={r.commit} value={r.commit}>
            {optionText(r, i)}
          </option>
        ))}
      </select>
    </div>
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
  const [picked, setPicked] = useState<{ from?: string; to?: string }>(() => ({
    from: revisions[1]?.commit ?? revisions[0]?.commit,
    to: revisions[0]?.commit,
  }));
  const [diff, setDiff] = useState<DiffResult>();
  const [diffError, setDiffError] = useState<unknown>();
  const [confirm, setConfirm] = useState<Revision>();
  const { busy, result, run } = useChange(
    (r: Revision) => api.rollback(name, r.commit),
    onChanged,
    () => setConfirm(undefined),
  );

  // The selection (first the current revision and the one before it), kept valid as revisions
  // arrive: a commit no longer listed falls back to those of the list shown.
  const known = new Set(revisions.map((r) => r.commit));
  const valid = (c: string | undefined, fallback: string): string => (c && known.has(c) ? c : fallback);
  const to = valid(picked.to, revisions[0]?.commit ?? '');
  const from = valid(picked.from, revisions[1]?.commit ?? revisions[0]?.commit ?? '');

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

  return (
    <section aria-labelledby="revisions-title" class="card">
      <h2 id="revisions-title">Revisions</h2>
      {canChange ? null : (
        <p class="note" role="note">
          Read-only (viewer)
        </p>
      )}
      <ResultLine
        ok={result?.ok ? `Rolled back ${name}: commit ${shortCommit(result.ok.commit)}` : undefined}
        error={result?.error}
      />
      <DataTable
        caption="Revisions"
        captionClass="visually-hidden"
        cols={[
          'Commit',
          'When',
          'Author',
          'Message',
          canChange && { label: <span class="visually-hidden">Actions</span> },
        ]}
        items={revisions}
        empty="No revisions."
        row={(r, i) => (
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
        )}
      />
      {revisions.length > 0 ? (
        <form class="toolbar" onSubmit={showDiff}>
          <RevisionSelect
            id="diff-from"
            label="From revision"
            revisions={revisions}
            value={from}
            onChange={(c) => setPicked((p) => ({ ...p, from: c }))}
          />
          <RevisionSelect
            id="diff-to"
            label="To revision"
            revisions={revisions}
            value={to}
            onChange={(c) => setPicked((p) => ({ ...p, to: c }))}
          />
          <button type="submit" class="button">
            Show diff
          </button>
        </form>
      ) : null}
      {diffError ? <ErrorAlert error={diffError} /> : null}
      {diff ? <DiffView diff={diff} /> : null}
      {confirm ? (
        <ConfirmDialog
          title="Confirm rollback"
          action="Roll back"
          busy={busy}
          busyNote="Committing…"
          onConfirm={() => void run(confirm)}
          onCancel={() => setConfirm(undefined)}
        >
          <p>
            Roll back <strong>{name}</strong> to revision <code>{shortCommit(confirm.commit)}</code> (“
            {confirm.subject}”)? This makes one commit in the fleet repository, authored in your token's name;
            devices follow as for any change.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
