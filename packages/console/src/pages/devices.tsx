/** All devices: paged, filtered by state, searched by id; problems first. */
import { useEffect, useState } from 'preact/hooks';
import { errorText, freshness, freshnessWord, upToDateText } from '../lib/format.js';
import { deviceHref, hrefFor, PAGE_SIZE, type Route } from '../lib/route.js';
import { DEVICE_FILTERS, type DeviceFilter } from '../lib/types.js';
import { api, navigate } from '../store.js';
import { DataTable, Link, Loaded, StateBadge, Time, useResource } from '../ui.js';

type DevicesRoute = Extract<Route, { page: 'devices' }>;

const FILTER_LABELS: Record<DeviceFilter, string> = {
  all: 'All',
  reporting: 'Reporting',
  stale: 'Stale',
  never: 'Never reported',
  held: 'Held',
  problems: 'With problems',
};

export function DevicesPage({ r }: { r: DevicesRoute }) {
  const [q, setQ] = useState(r.q);
  useEffect(() => setQ(r.q), [r.q]);
  const key = hrefFor(r);
  const res = useResource(
    key,
    () => api.devices({ filter: r.filter, q: r.q, offset: r.offset, limit: PAGE_SIZE }),
    (d) => ({
      deviceIds: new Set(d?.items.map((i) => i.deviceId) ?? []),
      pageFull: (d?.items.length ?? 0) >= PAGE_SIZE,
    }),
  );
  const go = (patch: Partial<DevicesRoute>): void => navigate(hrefFor({ ...r, offset: 0, ...patch }));

  return (
    <>
      <h1>Devices</h1>
      <form
        class="toolbar"
        role="search"
        aria-label="Devices"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: q.trim() });
        }}
      >
        <div class="field">
          <label for="device-filter">State</label>
          <select
            id="device-filter"
            value={r.filter}
            onChange={(e) => go({ filter: (e.target as HTMLSelectElement).value as DeviceFilter })}
          >
            {DEVICE_FILTERS.map((f) => (
              <option key={f} value={f}>
                {FILTER_LABELS[f]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="device-search">Search device id</label>
          <input
            id="device-search"
            type="search"
            value={q}
            onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" class="button">
          Search
        </button>
      </form>
      <Loaded res={res} what="devices">
        {(d) => {
          const first = d.total ? d.offset + 1 : 0;
          const last = d.offset + d.items.length;
          return (
            <>
              <DataTable
                caption={
                  <>
                    Devices{' '}
                    <span class="muted">
                      ({FILTER_LABELS[r.filter].toLowerCase()}
                      {r.q ? `, matching “${r.q}”` : ''}: {first}–{last} of {d.total})
                    </span>
                  </>
                }
                cols={[
                  'Device',
                  'Reporting',
                  'Last seen',
                  'Last report',
                  { label: 'Deployments', num: true },
                  'Up to date',
                  'Problem',
                ]}
                items={d.items}
                empty="No devices match."
                row={(i) => (
                  <tr key={i.deviceId}>
                    <th scope="row">
                      <Link href={deviceHref(i.deviceId)}>{i.deviceId}</Link>
                      {i.hold ? <span class="tag">held</span> : null}
                    </th>
                    <td>
                      <StateBadge state={freshnessWord(freshness(i))} />
                    </td>
                    <td>
                      <Time at={i.lastSeenAt} />
                    </td>
                    <td>
                      <Time at={i.lastReportAt} />
                    </td>
                    <td class="num">{i.deployments}</td>
                    <td>{upToDateText(i.upToDate)}</td>
                    <td>{i.problem ? <code title={i.problem.message}>{errorText(i.problem)}</code> : ''}</td>
                  </tr>
                )}
              />
              <nav aria-label="Pages" class="pager">
                {r.offset > 0 ? (
                  <Link href={hrefFor({ ...r, offset: Math.max(0, r.offset - PAGE_SIZE) })}>
                    Previous page
                  </Link>
                ) : null}
                {last < d.total ? (
                  <Link href={hrefFor({ ...r, offset: r.offset + PAGE_SIZE })}>Next page</Link>
                ) : null}
              </nav>
            </>
          );
        }}
      </Loaded>
    </>
  );
}
