/** Sign-in with an existing token (admin, operator or viewer); back to where the user was. */
import { useState } from 'preact/hooks';
import { ApiError, errorLine } from '../lib/api.js';
import { api, navigate, session } from '../store.js';

export function SignInPage({ next }: { next: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!token.trim()) {
      setError(new ApiError(0, 'CONSOLE_TOKEN_MISSING', 'enter a token'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const s = await api.signIn(token.trim());
      setToken('');
      session.value = s;
      navigate(next, { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin card">
      <h1>Sign in</h1>
      <p class="muted">
        Use a token of role admin, operator or viewer (
        <code>margo token create --role viewer --name you</code>).
      </p>
      <form onSubmit={submit} noValidate>
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          spellcheck={false}
          value={token}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        {error ? (
          <p role="alert" id="signin-error" class="alert">
            {errorLine(error)}
          </p>
        ) : null}
        <button type="submit" class="button" disabled={busy}>
          Sign in
        </button>
      </form>
    </div>
  );
}
