/** One device: freshness, deployments with per-component state and error, labels, capabilities, history. */
import {
  errorText,
  freshness,
  freshnessWord,
  shortCommit,
  upToDateText,
  waitingText,
} from '../lib/format.js';
import { deploymentHref } from '../lib/route.js';
import type { DeviceDetail, HistoryCommit } from '../lib/types.js';
import { api } from '../store.js';
import { DataTable, Fact, JsonBlock, Link, Loaded, Section, StateBadge, Time, useResource } from '../ui.js';

function Summary({ d }: { d: DeviceDetail }) {
  const problems = [d.repoError, d.desiredStateProblem, ...(d.statusProblems ?? [])].filter(
    (p): p is NonNullable<typeof p> => !!p,
  );
  return (
    <dl class="facts">
      <Fact term="Reporting">
        <StateBadge state={freshnessWord(freshness(d))} />
      </Fact>
      <Fact term="Last seen">
        <Time at={d.lastSeenAt} />
      </Fact>
      <Fact term="Last report">
        <Time at={d.lastReportAt} />
      </Fact>
      <Fact term="Observed commit">
        <code>{shortCommit(d.observedCommit)}</code>
      </Fact>
      <Fact term="Up to date">{upToDateText(d.upToDate)}</Fact>
      {d.hold ? (
        <Fact term="Hold">
          <StateBadge state="held" /> {d.hold.reason}
          {d.hold.since ? (
            <>
              {' '}
              since <Time at={d.hold.since} />
            </>
          ) : null}
        </Fact>
      ) : null}
      {problems.length ? (
        <Fact term="Problems" wide>
          {problems.map((p, i) => (
            <p key={i} class="error-text">
              {p.path ? `${p.path}: ` : ''}
              {errorText(p)}
            </p>
          ))}
        </Fact>
      ) : null}
    </dl>
  );
}

function Deployments({ d }: { d: DeviceDetail }) {
  return (
    <DataTable
      caption="Deployments"
      cols={['Deployment', 'State', 'Components', 'Error']}
      items={d.deployments}
      empty="No deployments target this device."
      row={(x) => (
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
      )}
    />
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
    <DataTable
      class="compact"
      caption={caption}
      cols={['Commit', 'When', !!transport && 'Via', 'Message']}
      items={list}
      empty="None yet."
      row={(c) => (
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
      )}
    />
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
