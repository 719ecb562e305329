/**
 * A deployment's rollout: phase, waves and their gates, failures; for admin and operator the
 * buttons of `margo rollout pause|resume|promote|abort` (each one commit to rollouts/NAME.json;
 * abort, which sends every changed device back, asks first).
 */
import { useState } from 'preact/hooks';
import { countsText, plural, shortCommit } from '../lib/format.js';
import { deviceHref } from '../lib/route.js';
import { rolloutActions } from '../lib/rollout.js';
import type { RolloutAction, RolloutView } from '../lib/types.js';
import { ConfirmDialog } from '../dialog.js';
import { api } from '../store.js';
import { DataTable, Link, ResultLine, Section, StateBadge, Time, useChange } from '../ui.js';

const LABELS: Record<RolloutAction, string> = {
  pause: 'Pause rollout',
  resume: 'Resume rollout',
  promote: 'Promote current wave',
  abort: 'Abort rollout',
};

function Controls({ name, phase, onChanged }: { name: string; phase: string; onChanged: () => void }) {
  const [confirmAbort, setConfirmAbort] = useState(false);
  const { busy, result, run } = useChange(
    (action: RolloutAction) => api.rolloutAction(name, action),
    onChanged,
    () => setConfirmAbort(false),
  );
  const actions = rolloutActions(phase);
  return (
    <>
      {actions.length ? (
        <div class="actions start">
          {actions.map((a) => (
            <button
              key={a}
              type="button"
              class={`button ${a === 'abort' ? 'danger' : 'secondary'} small`}
              disabled={busy}
              onClick={() => (a === 'abort' ? setConfirmAbort(true) : void run(a))}
            >
              {LABELS[a]}
            </button>
          ))}
        </div>
      ) : null}
      <ResultLine
        ok={
          result?.ok
            ? `Rollout ${name}: ${result.ok.action} committed (${shortCommit(result.ok.commit)}), now ${result.ok.phase}`
            : undefined
        }
        error={result?.error}
      />
      {confirmAbort ? (
        <ConfirmDialog
          title="Confirm abort"
          action="Abort rollout"
          busy={busy}
          onConfirm={() => void run('abort')}
          onCancel={() => setConfirmAbort(false)}
        >
          <p>
            Abort the rollout of <strong>{name}</strong>? Devices that already changed go back to the previous
            revision; this is one commit to <code>rollouts/{name}.json</code> in your token's name.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

export function Rollout({
  r,
  canChange,
  onChanged,
}: {
  r: RolloutView;
  canChange: boolean;
  onChanged: () => void;
}) {
  const s = r.summary;
  const total = s.waves.reduce((n, w) => n + w.devices, 0);
  const passed = s.waves.filter((w) => w.progress === 'passed').length;
  const side = (version: string | undefined, rev: string | undefined): string =>
    version ? `${version}${rev ? ` (${rev.slice(0, 7)})` : ''}` : (rev ?? '?');
  const from = s.from || r.state?.fromVersion ? side(r.state?.fromVersion, s.from) : undefined;
  const change = `${from ? `${from} → ` : 'to '}${side(r.state?.toVersion, s.to)}`;
  return (
    <Section title="Rollout" id="rollout">
      <p>
        <StateBadge state={s.phase} /> {change} · {plural(passed, 'wave')} of {s.waves.length} passed ·{' '}
        {plural(total, 'device')} · failures {s.failures} (limit {s.failureLimit})
        {r.gate ? ` · gate of ${r.gate.wave} waits for ${r.gate.waitingFor}` : ''}
        {r.unavailable ? <span class="muted"> · live view unavailable ({r.unavailable})</span> : null}
      </p>
      {canChange ? <Controls name={r.name} phase={s.phase} onChanged={onChanged} /> : null}
      <progress max={Math.max(s.waves.length, 1)} value={passed} aria-label="Waves passed">
        {passed} of {s.waves.length}
      </progress>
      <DataTable
        class="compact"
        caption="Waves"
        cols={['Wave', 'Progress', { label: 'Devices', num: true }, 'Device states', 'Failed']}
        items={s.waves}
        row={(w) => (
          <tr key={w.name}>
            <th scope="row">{w.name}</th>
            <td>
              <StateBadge state={w.progress} />
              {w.gateWaitsFor ? <span class="muted small"> gate waits for {w.gateWaitsFor}</span> : null}
            </td>
            <td class="num">{w.devices}</td>
            <td>{countsText(w.counts)}</td>
            <td>
              {(w.failed ?? []).map((f) => (
                <div key={f.deviceId}>
                  <Link href={deviceHref(f.deviceId)}>{f.deviceId}</Link>{' '}
                  <span class="error-text">{f.error}</span>
                </div>
              ))}
            </td>
          </tr>
        )}
      />
      {r.wakeAt ? (
        <p class="muted">
          Next step <Time at={r.wakeAt} />.
        </p>
      ) : null}
    </Section>
  );
}
