/** The catalog: applications and their versions; an application's page renders its description. */
import { useEffect, useState } from 'preact/hooks';
import { appHref } from '../lib/route.js';
import { api } from '../store.js';
import { DataTable, Link, Loaded, StateBadge, Time, useResource } from '../ui.js';

export function CatalogPage() {
  const res = useResource(
    'catalog',
    () => api.catalog(),
    () => ({}),
  );
  return (
    <>
      <h1>Catalog</h1>
      <Loaded res={res} what="the catalog">
        {(c) => (
          <DataTable
            caption="Applications"
            cols={['Application', 'Id', 'Latest', 'Versions']}
            items={c.apps}
            empty={
              <>
                No applications published yet (<code>margo app publish</code>).
              </>
            }
            row={(a) => (
              <tr key={a.id}>
                <th scope="row">
                  <Link href={appHref(a.id)}>{a.name}</Link>
                </th>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>{a.latest}</td>
                <td>{a.versions.map((v) => `${v.version}${v.yanked ? ' (yanked)' : ''}`).join(', ')}</td>
              </tr>
            )}
          />
        )}
      </Loaded>
    </>
  );
}

/** Markdown rendered and sanitised (marked + DOMPurify, loaded on first use: not on other pages). */
function Markdown({ src }: { src: string }) {
  // undefined while rendering; null when the renderer failed to load (the source is shown).
  const [html, setHtml] = useState<string | null>();
  useEffect(() => {
    let live = true;
    import('../markdown.js').then(
      (m) => live && setHtml(m.renderMarkdown(src)),
      () => live && setHtml(null),
    );
    return () => {
      live = false;
    };
  }, [src]);
  if (html === null) return <pre class="json">{src}</pre>;
  if (html === undefined) return <p class="muted">Rendering…</p>;
  return <div dangerouslySetInnerHTML={{ __html: html }} />;
}

export function AppPage({ id }: { id: string }) {
  const res = useResource(
    `app/${id}`,
    () => api.app(id),
    () => ({}),
  );
  const title = res.data?.name ?? id;
  return (
    <>
      <h1>{title}</h1>
      <Loaded res={res} what="the application">
        {(a) => (
          <>
            <p class="meta">
              Id <code>{a.id}</code> · <Link href="/ui/catalog">All applications</Link>
            </p>
            <article aria-label="Description" class="card markdown">
              {a.description.trim() ? (
                <Markdown src={a.description} />
              ) : (
                <p class="muted">This package has no description.</p>
              )}
            </article>
            <DataTable
              class="compact"
              caption="Versions"
              cols={['Version', 'Status', 'Published']}
              items={a.versions}
              row={(v) => (
                <tr key={v.version}>
                  <th scope="row">{v.version}</th>
                  <td>
                    <StateBadge state={v.yanked ? 'yanked' : 'available'} />
                  </td>
                  <td>
                    <Time at={v.publishedAt} missing="unknown" />
                  </td>
                </tr>
              )}
            />
          </>
        )}
      </Loaded>
    </>
  );
}
