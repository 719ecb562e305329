/** One device: freshness, deployments with per-component state and error, labels, capabilities, history. */
import { errorText, freshness, freshnessWord, shortCommit, waitingText } from '../lib/format.js';
import { deploymentHref } from '../lib/route.js';
import type { DeviceDetail, HistoryCommit } from '../lib/types.js';
import { api } from '../store.js';
import { JsonBlock, Link, Loaded, Section, StateBadge, Time, useResource } from '../ui.js';

function Summary({ d }: { d: DeviceDetail }) {
  const problems = [d.repoError, d.desiredStateProblem, ...(d.statusProblems ?? [])].filter(
    (p): p is NonNullable<typeof p> => !!p,
  );
  return (
    <dl class="facts">
      <div>
        <dt>Reporting</dt>
        <dd>
          <StateBadge state={freshnessWord(freshness(d))} />
        </dd>
      </div>
      <div>
        <dt>Last seen</dt>
        <dd>
          <Time at={d.lastSeenAt} />
        </dd>
      </div>
      <div>
        <dt>Last report</dt>
        <dd>
          <Time at={d.lastReportAt} />
        </dd>
      </div>
      <div>
        <dt>Observed commit</dt>
        <dd>
          <code>{shortCommit(d.observedCommit)}</code>
        </dd>
      </div>
      <div>
        <dt>Up to date</dt>
        <dd>{d.upToDate === true ? 'yes' : d.upToDate === false ? 'no' : 'unknown'}</dd>
      </div>
      {d.hold ? (
        <div>
          <dt>Hold</dt>
          <dd>
            <StateBadge state="held" /> {d.hold.reason}
            {d.hold.since ? (
              <>
                {' '}
                since <Time at={d.hold.since} />
              </>
            ) : null}
          </dd>
        </div>
      ) : null}
      {problems.length ? (
        <div class="wide">
          <dt>Problems</dt>
          <dd>
            {problems.map((p, i) => (
              <p key={i} class="error-text">
                {p.path ? `${p.path}: ` : ''}
                {errorText(p)}
              </p>
            ))}
          </dd>
        </div>
      ) : null}
    </dl>
  );
}

function Deployments({ d }: { d: DeviceDetail }) {
  return (
    <table>
      <caption>Deployments</caption>
      <thead>
        <tr>
          <th scope="col">Deployment</th>
          <th scope="col">State</th>
          <th scope="col">Components</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {d.deployments.length ? (
          d.deployments.map((x) => (
            <tr key={x.name}>
              <td>
                <Link href={deploymentHref(x.name)}>{x.name}</Link>
              </td>
              <td>
                <StateBadge state={x.state} />{' '}
                {x.waiting ? <div class="muted small">{waitingText(x.waiting)}</div> : null}
              </td>
              <td>
                {x.components.length ? (
                  <ul class="plain">
                    {x.components.map((c) => (
                      <li key={c.name}>
                        {c.name}: <StateBadge state={c.state} />
                        {c.error ? <span class="error-text"> {errorText(c.error)}</span> : null}
                      </li>
                    ))}
                  </ul>
                ) : (
                  <span class="muted">none reported</span>
                )}
              </td>
              <td class="error-text">{errorText(x.error)}</td>
            </tr>
          ))
        ) : (
          <tr>
            <td colSpan={4} class="muted">
              No deployments target this device.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function Commits({
  caption,
  list,
  transport,
}: {
  caption: string;
  list: HistoryCommit[];
  transport?: boolean;
}) {
  return (
    <table class="compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Commit</th>
          <th scope="col">When</th>
          {transport ? <th scope="col">Via</th> : null}
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        {list.length ? (
          list.map((c) => (
            <tr key={c.commit}>
              <th scope="row">
                <code title={c.commit}>{shortCommit(c.commit)}</code>
              </th>
              <td>
                <Time at={c.at} />
              </td>
              {transport ? <td>{c.transport ?? ''}</td> : null}
              <td>{c.subject}</td>
            </tr>
          ))
        ) : (
          <tr>
            <td colSpan={transport ? 4 : 3} class="muted">
              None yet.
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

export function DevicePage({ id }: { id: string }) {
  const res = useResource(
    `device/${id}`,
    () => api.device(id),
    () => ({}),
  );
  return (
    <>
      <h1>Device {id}</h1>
      <Loaded res={res} what="the device">
        {(d) => (
          <>
            <Summary d={d} />
            <Deployments d={d} />
            <div class="grid">
              <Section title="Labels" id="labels">
                {Object.keys(d.labels ?? {}).length ? (
                  <dl class="labels">
                    {Object.entries(d.labels).map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{v}</dd>
                      </div>
                    ))}
                  </dl>
                ) : (
                  <p class="muted">No labels.</p>
                )}
              </Section>
              <Section title="Capabilities" id="capabilities">
                {d.capabilities === null || d.capabilities === undefined ? (
                  <p class="muted">Not reported yet.</p>
                ) : (
                  <JsonBlock value={d.capabilities} label="Capabilities as reported" />
                )}
              </Section>
            </div>
            <Section title="History" id="history">
              <div class="grid">
                <Commits caption="Desired state commits" list={d.history.desired} />
                <Commits caption="Status commits" list={d.history.status} transport />
              </div>
            </Section>
          </>
        )}
      </Loaded>
    </>
  );
}
