// The only thing an unauthenticated visitor sees. The credential goes to the server once, in the
// body of one request, and is dropped from the form as soon as the answer comes.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';

export function SignIn({ onSignedIn }: { onSignedIn: (s: { csrf_token: string; expires_at: string }) => void }) {
  const [credential, setCredential] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const s = await api<{ csrf_token: string; expires_at: string }>('POST', '/console/api/session', { credential });
      setCredential('');
      onSignedIn(s);
    } catch (err) {
      setCredential('');
      setError(err instanceof ApiError ? err.message : 'the server could not be reached');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form onSubmit={submit} class="card" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Joinery</h1>
        <p class="muted">Sign in with the admin credential (<code>JOINERY_ADMIN_TOKEN</code> or <code>&lt;data-dir&gt;/admin-token</code>).</p>
        <label for="credential">Admin credential</label>
        <input id="credential" name="credential" type="password" autocomplete="off" required value={credential} onInput={(e) => setCredential(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'sign-in-error' : undefined} />
        {error ? <p id="sign-in-error" class="field-error" role="alert">{error}</p> : null}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
