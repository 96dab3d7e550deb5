// The console's shell: sign-in until a session exists, then the navigation and the page the URL's
// hash names (#/tokens, #/nodes ...). A hash router needs no server routes: the server serves one
// page at `/`.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setSession, whenSignedOut } from './api';
import { Loading } from './components';
import { JoinsPage } from './pages/joins';
import { NodesPage } from './pages/nodes';
import { OverviewPage } from './pages/overview';
import { SignIn } from './pages/sign-in';
import { TokensPage } from './pages/tokens';

interface SessionInfo {
  csrf_token: string;
  expires_at: string;
}

const PAGES = [
  { path: 'overview', title: 'Overview', view: OverviewPage },
  { path: 'tokens', title: 'Tokens', view: TokensPage },
  { path: 'nodes', title: 'Nodes', view: NodesPage },
  { path: 'joins', title: 'Joins', view: JoinsPage },
] as const;

function currentRoute(): { page: string; query: URLSearchParams } {
  const [page, query] = location.hash.replace(/^#\/?/, '').split('?');
  return { page: page || 'overview', query: new URLSearchParams(query ?? '') };
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [state, setState] = useState<'checking' | 'signed-out' | 'signed-in'>('checking');
  const route = useRoute();

  useEffect(() => {
    whenSignedOut(() => {
      setSession(undefined);
      setState('signed-out');
    });
    api<SessionInfo>('GET', '/console/api/session')
      .then((s) => {
        setSession(s.csrf_token);
        setState('signed-in');
      })
      .catch(() => setState('signed-out'));
  }, []);

  const page = PAGES.find((p) => p.path === route.page) ?? PAGES[0];
  useEffect(() => {
    document.title = state === 'signed-in' ? `${page.title} · Joinery` : 'Sign in · Joinery';
  }, [state, page]);

  if (state === 'checking') return <main class="center"><Loading /></main>;
  if (state === 'signed-out') {
    return (
      <SignIn
        onSignedIn={(s: SessionInfo) => {
          setSession(s.csrf_token);
          setState('signed-in');
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await api('DELETE', '/console/api/session');
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    setSession(undefined);
    setState('signed-out');
  };
  const View = page.view;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Joinery</span>
        <nav aria-label="Console">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p === page ? 'page' : undefined}>{p.title}</a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="link" onClick={signOut}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <View query={route.query} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
