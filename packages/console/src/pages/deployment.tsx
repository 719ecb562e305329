/** One deployment: per-device roll-up, rollout progress, parameters (secrets masked), revisions. */
import { countsText, errorText, parameterText, waitingText } from '../lib/format.js';
import { appHref, deviceHref } from '../lib/route.js';
import type { DeploymentDetail } from '../lib/types.js';
import { api, session } from '../store.js';
import { DataTable, Fact, JsonBlock, Link, Loaded, StateBadge, useResource } from '../ui.js';
import { Revisions } from './revisions.js';
import { Rollout } from './rollout.js';

function Rows({ d }: { d: DeploymentDetail }) {
  const counts: Record<string, number> = {};
  for (const r of d.rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return (
    <DataTable
      caption={
        <>
          Devices <span class="muted">({countsText(counts)})</span>
        </>
      }
      cols={['Device', 'State', 'Error']}
      items={d.rows}
      empty="No device matches this deployment's targets."
      row={(r) => (
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
      )}
    />
  );
}

function Parameters({ d }: { d: DeploymentDetail }) {
  return (
    <DataTable
      class="compact"
      caption="Parameters"
      cols={['Parameter', 'Value']}
      items={d.parameters}
      empty="No parameters set."
      row={(p) => (
        <tr key={p.name}>
          <th scope="row">
            <code>{p.name}</code>
          </th>
          <td class={p.secret ? 'secret' : ''}>{parameterText(p)}</td>
        </tr>
      )}
    />
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
              <Fact term="Application">
                <Link href={appHref(d.app)}>{d.app}</Link>
              </Fact>
              <Fact term="Version">{d.version}</Fact>
              <Fact term="Targets" wide>
                {targetsText(d.targets) ?? <JsonBlock value={d.targets} label="Targets" />}
              </Fact>
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
