/** The console's frame: skip link, header with the main navigation, the page for the route. */
import { useEffect, useRef } from 'preact/hooks';
import { errorLine } from './lib/api.js';
import { hrefFor, titleFor } from './lib/route.js';
import { startEvents, stopEvents } from './events.js';
import { AppPage, CatalogPage } from './pages/catalog.js';
import { DeploymentPage } from './pages/deployment.js';
import { DevicePage } from './pages/device.js';
import { DevicesPage } from './pages/devices.js';
import { OverviewPage } from './pages/overview.js';
import { SignInPage } from './pages/signin.js';
import {
  api,
  goSignIn,
  live,
  navCount,
  navigate,
  prefetchOverview,
  route,
  session,
  takeFirstOverview,
} from './store.js';
import { Link, Loading } from './ui.js';

window.addEventListener('popstate', () =>
  navigate(`${location.pathname}${location.search}`, { replace: true }),
);

function Header() {
  const s = session.value;
  const r = route.value;
  const current = (page: string): boolean =>
    r.page === page ||
    (page === 'devices' && r.page === 'device') ||
    (page === 'catalog' && r.page === 'app');
  return (
    <header class="top">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true"></span>
        margo <span class="muted">console</span>
      </div>
      {s ? (
        <nav aria-label="Main" class="nav">
          <ul>
            <li>
              <Link href="/ui/" current={current('overview')}>
                Overview
              </Link>
            </li>
            <li>
              <Link href="/ui/devices" current={current('devices')}>
                Devices
              </Link>
            </li>
            <li>
              <Link href="/ui/catalog" current={current('catalog')}>
                Catalog
              </Link>
            </li>
          </ul>
          <div class="nav-end">
            <span role="status" class={`live live-${live.value}`}>
              <span class="live-mark" aria-hidden="true"></span>
              {live.value === 'live' ? 'Live' : 'Reconnecting'}
            </span>
            <span class="who">
              {s.name} <span class="role">({s.role})</span>
            </span>
            <button type="button" class="button secondary" onClick={signOut}>
              Sign out
            </button>
          </div>
        </nav>
      ) : null}
    </header>
  );
}

async function signOut(): Promise<void> {
  stopEvents();
  try {
    await api.signOut();
  } catch (e) {
    console.warn(errorLine(e));
  }
  session.value = null;
  navigate(hrefFor({ page: 'signin', next: '/ui/' }));
}

function Page() {
  const r = route.value;
  switch (r.page) {
    case 'overview':
      return <OverviewPage />;
    case 'devices':
      return <DevicesPage r={r} />;
    case 'device':
      return <DevicePage id={r.id} />;
    case 'deployment':
      return <DeploymentPage name={r.name} />;
    case 'catalog':
      return <CatalogPage />;
    case 'app':
      return <AppPage id={r.id} />;
    case 'signin':
      return <SignInPage next={r.next} />;
    case 'notFound':
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{r.path}</code>. <Link href="/ui/">Back to the fleet overview</Link>.
          </p>
        </>
      );
  }
}

export function App() {
  const main = useRef<HTMLElement>(null);
  const s = session.value;
  const r = route.value;

  useEffect(() => {
    if (route.peek().page === 'overview') prefetchOverview();
    api.session().then(
      (v) => {
        session.value = v;
        if (route.peek().page === 'signin')
          navigate((route.peek() as { next: string }).next, { replace: true });
      },
      () => {
        takeFirstOverview(); // refused too: the page asks again after sign-in
        goSignIn();
      },
    );
  }, []);

  useEffect(() => {
    if (s) startEvents();
    else stopEvents();
  }, [!!s]);

  useEffect(() => {
    document.title = titleFor(r);
  }, [r]);

  // After a navigation (not the first load) the page's main region takes focus, so screen
  // readers and the keyboard start at the new content.
  const nav = navCount.value;
  useEffect(() => {
    if (nav > 0) main.current?.focus({ preventScroll: false });
  }, [nav]);

  const ready = s !== undefined || r.page === 'signin';
  return (
    <>
      <a
        class="skip"
        href="#content"
        onClick={(e) => {
          // Focus the content without a history entry (the router would see a new location).
          e.preventDefault();
          main.current?.focus();
          main.current?.scrollIntoView();
        }}
      >
        Skip to content
      </a>
      <Header />
      <main id="content" tabIndex={-1} ref={main}>
        {!ready ? <Loading what="the console" /> : s === null && r.page !== 'signin' ? null : <Page />}
      </main>
      <footer class="foot muted">
        margo-gitops console · every change is a commit in the fleet repository
      </footer>
    </>
  );
}
