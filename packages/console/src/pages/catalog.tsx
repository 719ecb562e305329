/** The catalog: applications and their versions; an application's page renders its description. */
import { useEffect, useState } from 'preact/hooks';
import { errorLine } from '../lib/api.js';
import { appHref } from '../lib/route.js';
import { api } from '../store.js';
import { Link, Loaded, StateBadge, Time, useResource } from '../ui.js';

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
          <table>
            <caption>Applications</caption>
            <thead>
              <tr>
                <th scope="col">Application</th>
                <th scope="col">Id</th>
                <th scope="col">Latest</th>
                <th scope="col">Versions</th>
              </tr>
            </thead>
            <tbody>
              {c.apps.length ? (
                c.apps.map((a) => (
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
                ))
              ) : (
                <tr>
                  <td colSpan={4} class="muted">
                    No applications published yet (<code>margo app publish</code>).
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

/** Markdown rendered and sanitised (marked + DOMPurify, loaded on first use: not on other pages). */
function Markdown({ src }: { src: string }) {
  const [html, setHtml] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    import('../markdown.js').then(
      (m) => live && setHtml(m.renderMarkdown(src)),
      (e: unknown) => live && setError(errorLine(e)),
    );
    return () => {
      live = false;
    };
  }, [src]);
  if (error) return <pre class="json">{src}</pre>;
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
            <table class="compact">
              <caption>Versions</caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Published</th>
                </tr>
              </thead>
              <tbody>
                {a.versions.map((v) => (
                  <tr key={v.version}>
                    <th scope="row">{v.version}</th>
                    <td>
                      <StateBadge state={v.yanked ? 'yanked' : 'available'} />
                    </td>
                    <td>
                      <Time at={v.publishedAt} missing="unknown" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Loaded>
    </>
  );
}
