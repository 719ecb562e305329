/** One deployment: per-device roll-up, rollout progress, parameters (secrets masked), revisions. */
import { countsText, errorText, parameterText, waitingText } from '../lib/format.js';
import { appHref, deviceHref } from '../lib/route.js';
import type { DeploymentDetail } from '../lib/types.js';
import { api, session } from '../store.js';
import { JsonBlock, Link, Loaded, StateBadge, useResource } from '../ui.js';
import { Revisions } from './revisions.js';
import { Rollout } from './rollout.js';

function Rows({ d }: { d: DeploymentDetail }) {
  const counts: Record<string, number> = {};
  for (const r of d.rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return (
    <table>
      <caption>
        Devices <span class="muted">({countsText(counts)})</span>
      </caption>
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">State</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {d.rows.length ? (
          d.rows.map((r) => (
            <tr key={r.deviceId}>
              <th scope="row">
                <Link href={deviceHref(r.deviceId)}>{r.deviceId}</Link>
              </th>
              <td>
                <StateBadge state={r.state} />{' '}
                {r.waiting ? <div class="muted small">{waitingText(r.waiting)}</div> : null}
                {r.reason ? <div class="muted small">{r.reason}</div> : null}
              </td>
              <td class="error-text">{errorText(r.error)}</td>
            </tr>
          ))
        ) : (
          <tr>
            <td colSpan={3} class="muted">
              No device matches this deployment's targets.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function Parameters({ d }: { d: DeploymentDetail }) {
  return (
    <table class="compact">
      <caption>Parameters</caption>
      <thead>
        <tr>
          <th scope="col">Parameter</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {d.parameters.length ? (
          d.parameters.map((p) => (
            <tr key={p.name}>
              <th scope="row">
                <code>{p.name}</code>
              </th>
              <td class={p.secret ? 'secret' : ''}>{parameterText(p)}</td>
            </tr>
          ))
        ) : (
          <tr>
            <td colSpan={2} class="muted">
              No parameters set.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** `devices dev1, dev2 · selector site=plant-a` for the usual targets; undefined for anything else. */
function targetsText(t: unknown): string | undefined {
  if (t === null || t === undefined) return 'none';
  if (typeof t === 'string' || typeof t === 'number') return String(t);
  if (typeof t !== 'object' || Array.isArray(t)) return undefined;
  const { devices, selector, ...rest } = t as { devices?: unknown; selector?: unknown };
  if (Object.keys(rest).length) return undefined;
  const parts: string[] = [];
  if (Array.isArray(devices) && devices.length) parts.push(`devices ${devices.map(String).join(', ')}`);
  if (selector && typeof selector === 'object') {
    const { matchLabels, ...other } = selector as { matchLabels?: Record<string, unknown> };
    if (Object.keys(other).length) return undefined;
    const labels = Object.entries(matchLabels ?? {}).map(([k, v]) => `${k}=${String(v)}`);
    parts.push(labels.length ? `selector ${labels.join(', ')}` : 'selector: every device');
  }
  return parts.length ? parts.join(' · ') : 'none';
}

export function DeploymentPage({ name }: { name: string }) {
  const res = useResource(
    `deployment/${name}`,
    () => api.deployment(name),
    (d) => ({ deviceIds: new Set(d?.rows.map((r) => r.deviceId) ?? []) }),
  );
  const role = session.value?.role;
  const canChange = role === 'admin' || role === 'operator';
  return (
    <>
      <h1>Deployment {name}</h1>
      <Loaded res={res} what="the deployment">
        {(d) => (
          <>
            <dl class="facts">
              <div>
                <dt>Application</dt>
                <dd>
                  <Link href={appHref(d.app)}>{d.app}</Link>
                </dd>
              </div>
              <div>
                <dt>Version</dt>
                <dd>{d.version}</dd>
              </div>
              <div class="wide">
                <dt>Targets</dt>
                <dd>{targetsText(d.targets) ?? <JsonBlock value={d.targets} label="Targets" />}</dd>
              </div>
            </dl>
            <Rows d={d} />
            {d.rollout ? <Rollout r={d.rollout} canChange={canChange} onChanged={res.reload} /> : null}
            <Parameters d={d} />
            <Revisions name={d.name} revisions={d.revisions} canChange={canChange} onChanged={res.reload} />
          </>
        )}
      </Loaded>
    </>
  );
}
