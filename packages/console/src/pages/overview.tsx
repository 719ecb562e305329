/** Fleet overview: devices by state, deployments by state, problems first. */
import { countsText, plural, shortCommit, stateTone } from '../lib/format.js';
import { deploymentHref, deviceHref, hrefFor } from '../lib/route.js';
import type { DeviceFilter, Overview, Problem } from '../lib/types.js';
import { api, takeFirstOverview } from '../store.js';
import { DataTable, Link, Loaded, StateBadge, Time, useResource } from '../ui.js';

const devicesHref = (filter: DeviceFilter): string => hrefFor({ page: 'devices', filter, q: '', offset: 0 });

function ProblemTarget({ p }: { p: Problem }) {
  if (p.kind === 'device') return <Link href={deviceHref(p.id)}>{p.id}</Link>;
  if (p.kind === 'deployment') return <Link href={deploymentHref(p.id)}>{p.id}</Link>;
  return <span>{p.id}</span>;
}

function Problems({ problems }: { problems: Problem[] }) {
  return (
    <DataTable
      class={problems.length ? 'problems' : ''}
      caption="Problems"
      cols={['Kind', 'Where', 'Code', 'Message']}
      items={problems}
      empty="No problems."
      row={(p) => (
        <tr key={`${p.kind}/${p.id}/${p.code}`}>
          <td>{p.kind}</td>
          <th scope="row">
            <ProblemTarget p={p} />
          </th>
          <td>
            <code>{p.code}</code>
          </td>
          <td>{p.message}</td>
        </tr>
      )}
    />
  );
}

function DevicesByState({ d }: { d: Overview['devices'] }) {
  const rows: { filter: DeviceFilter; label: string; state: string; n: number; note: string }[] = [
    {
      filter: 'reporting',
      label: 'Reporting',
      state: 'reporting',
      n: d.reporting,
      note: 'reported recently',
    },
    {
      filter: 'stale',
      label: 'Stale',
      state: 'stale',
      n: d.stale,
      note: 'silent for too long: state unknown',
    },
    {
      filter: 'never',
      label: 'Never reported',
      state: 'unknown',
      n: d.never,
      note: 'enrolled, no report yet',
    },
    { filter: 'held', label: 'Held', state: 'held', n: d.held, note: 'on-site hold: changes wait' },
    {
      filter: 'problems',
      label: 'With problems',
      state: 'failed',
      n: d.withProblems,
      note: 'a failure or error',
    },
  ];
  return (
    <DataTable
      class="compact"
      caption="Devices by state"
      cols={['State', { label: 'Devices', num: true }, 'Meaning']}
      items={rows}
      row={(r) => (
        <tr key={r.filter}>
          <th scope="row">
            <span class={`state tone-${r.n > 0 ? stateTone(r.state) : 'zero'}`}>
              <span class="state-mark" aria-hidden="true"></span>
              <Link href={devicesHref(r.filter)}>{r.label}</Link>
            </span>
          </th>
          <td class="num">{r.n}</td>
          <td class="muted">{r.note}</td>
        </tr>
      )}
      foot={
        <tr>
          <th scope="row">
            <Link href={devicesHref('all')}>All devices</Link>
          </th>
          <td class="num">{d.total}</td>
          <td></td>
        </tr>
      }
    />
  );
}

function Deployments({ list }: { list: Overview['deployments'] }) {
  return (
    <DataTable
      caption="Deployments"
      cols={['Deployment', 'Application', { label: 'Targets', num: true }, 'Device states', 'Rollout']}
      items={list}
      empty={
        <>
          No deployments yet (<code>margo deploy</code>).
        </>
      }
      row={(d) => (
        <tr key={d.name}>
          <th scope="row">
            <Link href={deploymentHref(d.name)}>{d.name}</Link>
          </th>
          <td>
            {d.app} <span class="muted">{d.version}</span>
          </td>
          <td class="num">{d.targets}</td>
          <td>{countsText(d.counts)}</td>
          <td>
            {d.rollout ? (
              <>
                <StateBadge state={d.rollout.phase} />{' '}
                <span class="muted">
                  wave {d.rollout.wave} of {d.rollout.waves}
                  {d.rollout.waveName ? ` (${d.rollout.waveName})` : ''}
                </span>
              </>
            ) : (
              <span class="muted">none</span>
            )}
          </td>
        </tr>
      )}
    />
  );
}

export function OverviewPage() {
  const res = useResource(
    'overview',
    () => takeFirstOverview() ?? api.overview(),
    () => ({}),
  );
  return (
    <>
      <h1>Fleet overview</h1>
      <Loaded res={res} what="the fleet">
        {(o) => (
          <>
            <p class="meta">
              {plural(o.devices.total, 'device')} · {plural(o.deployments.length, 'deployment')} · fleet at{' '}
              <code>{shortCommit(o.fleetCommit)}</code> · last reconcile <Time at={o.lastReconcileAt} /> · as
              of <Time at={o.generatedAt} />
            </p>
            {o.problems.length ? <Problems problems={o.problems} /> : null}
            <div class="grid">
              <DevicesByState d={o.devices} />
              <Deployments list={o.deployments} />
            </div>
            {o.problems.length ? null : <Problems problems={o.problems} />}
          </>
        )}
      </Loaded>
    </>
  );
}
