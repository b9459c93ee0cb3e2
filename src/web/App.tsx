import { lazy, Suspense, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { ErrorAlert, Loading, ToastProvider } from './components/Feedback.js';
import { AuditLogPage } from './pages/AuditLogPage.js';
import { ConfigurationPage } from './pages/ConfigurationPage.js';
import { CredentialsPage } from './pages/CredentialsPage.js';
import { LibrariesPage } from './pages/LibrariesPage.js';
import { SignIn } from './pages/SignIn.js';
import { TokensPage } from './pages/TokensPage.js';
import { OverviewPage } from './pages/OverviewPage.js';
import { TransformationsPage } from './pages/TransformationsPage.js';
import { navigate, parseHash, useRoute, type Route } from './router.js';
import { canWrite, clearSession, getSession, subscribeSession, type Session } from './session.js';

// CodeMirror is the bulk of the dashboard's JavaScript; only the editor screens load it.
const EditorPage = lazy(() => import('./pages/EditorPage.js').then((module) => ({ default: module.EditorPage })));

function useSession(): Session {
  return useSyncExternalStore(subscribeSession, getSession);
}

function defaultPath(session: Session): string {
  return session.workspaceToken && !session.accessToken ? '/tokens' : session.accessToken ? '/transformations' : '/signin';
}

const titles: Record<Route['name'], string> = {
  home: 'Tiller',
  signin: 'Sign in',
  overview: 'Overview',
  tokens: 'Access tokens',
  audit: 'Audit log',
  transformations: 'Transformations',
  transformation: 'Transformation',
  libraries: 'Libraries',
  library: 'Library',
  credentials: 'Credentials',
  configuration: 'Configuration',
  notFound: 'Not found',
};

function NeedsToken({ kind }: { kind: 'workspace' | 'access' }) {
  return (
    <div className="card" style={{ maxWidth: 620 }}>
      <h1>{kind === 'workspace' ? 'This page needs a workspace token' : 'This page needs an access token'}</h1>
      <p>
        {kind === 'workspace'
          ? 'Access tokens and the audit log are managed with the workspace token. You are signed in with an access token only.'
          : 'Transformations, libraries and credentials are used with an access token. You are signed in with the workspace token only: generate an access token on the Access tokens page, then add it here.'}
      </p>
      <div className="toolbar">
        <a className="button primary" href="#/signin">
          Add {kind === 'workspace' ? 'a workspace token' : 'an access token'}
        </a>
        {kind === 'access' ? (
          <a className="button" href="#/tokens">
            Go to access tokens
          </a>
        ) : null}
      </div>
    </div>
  );
}

function Header({ session, route }: { session: Session; route: Route }) {
  const links: { path: string; label: string; active: boolean }[] = [];
  if (session.accessToken) {
    links.push({ path: '/overview', label: 'Overview', active: route.name === 'overview' });
    links.push({ path: '/transformations', label: 'Transformations', active: route.name === 'transformations' || route.name === 'transformation' });
    links.push({ path: '/libraries', label: 'Libraries', active: route.name === 'libraries' || route.name === 'library' });
    links.push({ path: '/credentials', label: 'Credentials', active: route.name === 'credentials' });
  }
  // Either token reads it: names and ids only, never a destination's config.
  if (session.accessToken || session.workspaceToken) links.push({ path: '/configuration', label: 'Configuration', active: route.name === 'configuration' });
  if (session.workspaceToken) {
    links.push({ path: '/tokens', label: 'Access tokens', active: route.name === 'tokens' });
    links.push({ path: '/audit', label: 'Audit log', active: route.name === 'audit' });
  }
  const readOnly = Boolean(session.accessToken) && !canWrite(session);
  return (
    <header className="app-header">
      <a className="brand" href="#/">
        <span className="brand-mark" aria-hidden="true">
          T
        </span>
        Tiller
      </a>
      <nav className="main-nav" aria-label="Main">
        <ul>
          {links.map((link) => (
            <li key={link.path}>
              <a href={`#${link.path}`} aria-current={link.active ? 'page' : undefined}>
                {link.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="header-session">
        <span>
          {session.workspaceToken ? <span className="badge badge-brand">Workspace token</span> : null}{' '}
          {session.accessToken ? (
            <span className="badge badge-brand" title={session.accessTokenInfo?.hint ? `Token ${session.accessTokenInfo.hint}` : undefined}>
              Access token{session.accessTokenInfo?.name ? `: ${session.accessTokenInfo.name}` : ''}
              {readOnly ? ' (read only)' : ''}
            </span>
          ) : null}
        </span>
        {!session.workspaceToken || !session.accessToken ? (
          <a href="#/signin" className="small">
            Add token
          </a>
        ) : null}
        <button
          type="button"
          className="small"
          onClick={() => {
            clearSession();
            navigate('/signin', { force: true });
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.name) {
    case 'tokens':
      return session.workspaceToken ? <TokensPage /> : <NeedsToken kind="workspace" />;
    case 'audit':
      return session.workspaceToken ? <AuditLogPage /> : <NeedsToken kind="workspace" />;
    case 'overview':
      return session.accessToken ? <OverviewPage /> : <NeedsToken kind="access" />;
    case 'transformations':
      return session.accessToken ? <TransformationsPage /> : <NeedsToken kind="access" />;
    case 'libraries':
      return session.accessToken ? <LibrariesPage /> : <NeedsToken kind="access" />;
    case 'credentials':
      return session.accessToken ? <CredentialsPage /> : <NeedsToken kind="access" />;
    case 'configuration':
      return <ConfigurationPage />;
    case 'transformation':
    case 'library':
      return session.accessToken ? (
        <Suspense fallback={<Loading label="Loading the editor…" />}>
          <EditorPage key={`${route.name}:${route.id ?? 'new'}`} kind={route.name} id={route.id} />
        </Suspense>
      ) : (
        <NeedsToken kind="access" />
      );
    case 'notFound':
      return (
        <div className="card">
          <h1>Page not found</h1>
          <p>
            There is no dashboard page at <code>#{route.path}</code>. <a href="#/">Go to the start page</a>.
          </p>
        </div>
      );
    default:
      return null;
  }
}

export function App() {
  const session = useSession();
  const route = useRoute();
  const signedIn = Boolean(session.workspaceToken || session.accessToken);
  const [chunkError, setChunkError] = useState<unknown>(null);

  useEffect(() => {
    if (route.name === 'home' && signedIn) navigate(defaultPath(session), { replace: true });
  }, [route.name, signedIn, session]);

  useEffect(() => {
    document.title = `${titles[route.name]} · Tiller`;
  }, [route.name]);

  // After in-app navigation, start keyboard and screen-reader users at the new page's content.
  const firstRoute = useRef(true);
  const routeKey = route.name === 'transformation' || route.name === 'library' ? `${route.name}:${route.id ?? 'new'}` : route.name;
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    document.getElementById('content')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [routeKey]);

  useEffect(() => {
    // A deploy that replaced the hashed chunks while this tab was open: say so instead of a blank page.
    const onError = (event: PromiseRejectionEvent) => {
      if (String(event.reason).includes('dynamically imported module')) setChunkError(new Error('The dashboard was updated on the server. Reload the page to continue.'));
    };
    window.addEventListener('unhandledrejection', onError);
    return () => window.removeEventListener('unhandledrejection', onError);
  }, []);

  if (!signedIn || route.name === 'signin') {
    return (
      <ToastProvider>
        <main className="app-main" id="content">
          <SignIn
            onSignedIn={(next) => {
              // A deep link opened while signed out (a shared #/transformations/ID) is kept.
              const requested = parseHash(window.location.hash);
              const keep = requested.name !== 'signin' && requested.name !== 'home' && requested.name !== 'notFound';
              if (!keep) navigate(defaultPath(next));
            }}
          />
        </main>
      </ToastProvider>
    );
  }

  return (
    <ToastProvider>
      <a className="skip-link" href="#content" onClick={(event) => {
        event.preventDefault();
        document.getElementById('content')?.focus();
      }}>
        Skip to content
      </a>
      <Header session={session} route={route} />
      <main className="app-main" id="content" tabIndex={-1}>
        <ErrorAlert error={chunkError} />
        <Page route={route} session={session} />
      </main>
    </ToastProvider>
  );
}
