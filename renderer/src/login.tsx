/** The browser's sign-in: the hub's admin token (from `cortex-hub serve` or DIR/hub.json). */
import { useState, type FormEvent } from 'react';
import { checkToken } from './transport';

export function Login({ reason, onToken }: { reason: string | null; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(reason);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const p = await checkToken(token.trim());
    setBusy(false);
    if (p) setProblem(p);
    else onToken(token.trim());
  };
  return (
    <main className="login">
      <form className="stack narrow" onSubmit={(e) => void submit(e)}>
        <h1>Cortex Hub</h1>
        <p>This hub needs its admin token. <code>cortex-hub serve</code> prints a link that contains it; it is also in the data directory's <code>admin-token</code> file (and <code>adminToken</code> in its <code>hub.json</code>). It stays the same across restarts; <code>cortex-hub token rotate</code> changes it and prints the new one.</p>
        <label htmlFor="token">Admin token</label>
        <input id="token" type="password" autoFocus required autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
        {problem ? <p className="error-note" role="alert">{problem}</p> : null}
        <div className="actions"><button type="submit" className="primary" disabled={busy || !token.trim()}>{busy ? 'Checking…' : 'Open'}</button></div>
      </form>
    </main>
  );
}
