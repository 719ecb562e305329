/**
 * A deployment's rollout: phase, waves and their gates, failures; for admin and operator the
 * buttons of `margo rollout pause|resume|promote|abort` (each one commit to rollouts/NAME.json;
 * abort, which sends every changed device back, asks first).
 */
import { useState } from 'preact/hooks';
import { countsText, plural, shortCommit } from '../lib/format.js';
import { deviceHref } from '../lib/route.js';
import { rolloutActions } from '../lib/rollout.js';
import type { RolloutAction, RolloutActionResult, RolloutView } from '../lib/types.js';
import { Dialog } from '../dialog.js';
import { api } from '../store.js';
import { ErrorAlert, Link, Section, StateBadge, Time } from '../ui.js';

const LABELS: Record<RolloutAction, string> = {
  pause: 'Pause rollout',
  resume: 'Resume rollout',
  promote: 'Promote current wave',
  abort: 'Abort rollout',
};

function Controls({ name, phase, onChanged }: { name: string; phase: string; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [confirmAbort, setConfirmAbort] = useState(false);
  const [result, setResult] = useState<{ ok?: RolloutActionResult; error?: unknown }>();
  const run = async (action: RolloutAction): Promise<void> => {
    setBusy(true);
    try {
      const ok = await api.rolloutAction(name, action);
      setResult({ ok });
      onChanged();
    } catch (error) {
      setResult({ error });
    } finally {
      setBusy(false);
      setConfirmAbort(false);
    }
  };
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
      <div role="status" class="result">
        {result?.ok
          ? `Rollout ${name}: ${result.ok.action} committed (${shortCommit(result.ok.commit)}), now ${result.ok.phase}`
          : ''}
      </div>
      {result?.error ? <ErrorAlert error={result.error} /> : null}
      {confirmAbort ? (
        <Dialog title="Confirm abort" onClose={() => !busy && setConfirmAbort(false)}>
          <p>
            Abort the rollout of <strong>{name}</strong>? Devices that already changed go back to the previous
            revision; this is one commit to <code>rollouts/{name}.json</code> in your token's name.
          </p>
          <div class="actions">
            <button type="button" class="button danger" disabled={busy} onClick={() => void run('abort')}>
              Abort rollout
            </button>
            <button
              type="button"
              class="button secondary"
              data-autofocus
              onClick={() => setConfirmAbort(false)}
            >
              Cancel
            </button>
          </div>
        </Dialog>
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
      <table class="compact">
        <caption>Waves</caption>
        <thead>
          <tr>
            <th scope="col">Wave</th>
            <th scope="col">Progress</th>
            <th scope="col" class="num">
              Devices
            </th>
            <th scope="col">Device states</th>
            <th scope="col">Failed</th>
          </tr>
        </thead>
        <tbody>
          {s.waves.map((w) => (
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
          ))}
        </tbody>
      </table>
      {r.wakeAt ? (
        <p class="muted">
          Next step <Time at={r.wakeAt} />.
        </p>
      ) : null}
    </Section>
  );
}
