// Edit a token as YAML. The PUT carries the revision the editor started from; when someone else
// changed the token since, the server answers 409 and the operator chooses: reload theirs, or
// keep editing and overwrite knowingly.

import { useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { api, ApiError, enc } from '../api';
import { ErrorBox, Notice } from '../components';
import { displayName, managedBy, type Token } from '../tokens-model';

function editable(t: Token): string {
  const { status: _status, ...resource } = t;
  return stringify(resource);
}

export function TokenEditor({ token, onDone, onCancel }: { token: Token; onDone: (message: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(() => editable(token));
  const [error, setError] = useState<unknown>();
  const [conflict, setConflict] = useState<Token>();
  const [busy, setBusy] = useState(false);
  const name = token.metadata.name;
  const m = managedBy(token);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('PUT', `/v1/tokens/${enc(name)}`, text, { yaml: true });
      onDone(`Saved token ${displayName(token)}.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setConflict(await api<Token>('GET', `/v1/tokens/${enc(name)}`).catch(() => undefined));
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={save} aria-labelledby="edit-h">
      <div class="page-head">
        <h1 id="edit-h">Edit token <code>{displayName(token)}</code></h1>
      </div>
      <Notice kind={m.drifts ? 'warn' : 'info'}>
        Managed by {m.who}. {m.advice}
      </Notice>
      <div class="field">
        <label for="token-edit">Token resource (YAML)</label>
        <textarea id="token-edit" rows={18} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <p class="hint"><code>metadata.revision</code> is the version you started from; saving fails if the token changed since.</p>
      </div>
      <ErrorBox error={error} />
      {conflict ? (
        <Notice kind="warn">
          Someone changed this token since you opened it (now revision <code>{conflict.metadata.revision}</code>).{' '}
          <button type="button" onClick={() => { setText(editable(conflict)); setConflict(undefined); setError(undefined); }}>Load their version</button>
        </Notice>
      ) : null}
      <div class="actions">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Saving…' : 'Save'}</button>
      </div>
    </form>
  );
}
