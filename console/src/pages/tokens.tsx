// Tokens: the list (a token-method name is the secret: only its masked tail is ever rendered
// here, the whole of it only in the dialog that reveals it on request), create from a form per
// join method or from YAML, edit with the revision check, delete with confirmation.

import { useEffect, useState } from 'preact/hooks';
import { api, enc, listAll } from '../api';
import { Badge, Confirm, ErrorBox, Loading, Notice, useConfirmation } from '../components';
import { relative, shortTime } from '../format';
import { displayName, isLongLivedSecret, managedBy, ruleSummary, type Token } from '../tokens-model';
import { TokenEditor } from './token-editor';
import { TokenForm } from './token-form';

type Mode = { kind: 'list' } | { kind: 'create' } | { kind: 'edit'; token: Token };

export function TokensPage({ query }: { query: URLSearchParams }) {
  const [tokens, setTokens] = useState<Token[]>();
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>();
  const [mode, setMode] = useState<Mode>({ kind: 'list' });
  const [reveal, setReveal] = useState<Token>();
  const [notice, setNotice] = useState<string>();
  const [method, setMethod] = useState(query.get('method') ?? '');

  const removal = useConfirmation<Token>(setError);

  const load = () => {
    setError(undefined);
    listAll<Token>('/v1/tokens?limit=500', 'tokens').then(({ items, more }) => {
      setTokens(items);
      setMore(more);
    }, setError);
  };
  useEffect(load, []);

  if (mode.kind === 'create') {
    return (
      <TokenForm
        onDone={(msg) => {
          setMode({ kind: 'list' });
          setNotice(msg);
          load();
        }}
        onCancel={() => setMode({ kind: 'list' })}
      />
    );
  }
  if (mode.kind === 'edit') {
    return (
      <TokenEditor
        token={mode.token}
        onDone={(msg) => {
          setMode({ kind: 'list' });
          setNotice(msg);
          load();
        }}
        onCancel={() => setMode({ kind: 'list' })}
      />
    );
  }

  const shown = (tokens ?? []).filter((t) => !method || t.spec.join_method === method);
  return (
    <>
      <div class="page-head">
        <h1>Tokens</h1>
        <button type="button" class="primary" onClick={() => setMode({ kind: 'create' })}>New token</button>
      </div>
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      <ErrorBox error={error} />
      <div class="filters" role="search">
        <label for="method-filter">Join method</label>
        <select id="method-filter" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
          <option value="">all</option>
          <option value="ec2">ec2</option>
          <option value="iam">iam</option>
          <option value="token">token</option>
        </select>
      </div>
      {!tokens ? <Loading /> : shown.length === 0 ? <p class="muted">No tokens{method ? ` of method ${method}` : ''}.</p> : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Join tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th><th scope="col">Method</th><th scope="col">Roles</th><th scope="col">Allow rules</th><th scope="col">Expires</th><th scope="col">Managed by</th><th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {shown.map((t, i) => {
                const m = managedBy(t);
                return (
                  <tr key={i} class={t.status?.expired ? 'expired' : undefined}>
                    <td><code>{displayName(t)}</code></td>
                    <td>{t.spec.join_method}</td>
                    <td>{t.spec.roles.join(', ')}</td>
                    <td>
                      {(t.spec.allow ?? []).length === 0 ? <span class="muted">none</span> : (
                        <ul class="rules">{(t.spec.allow ?? []).map((r, j) => <li key={j}>{ruleSummary(r)}</li>)}</ul>
                      )}
                    </td>
                    <td>
                      <span title={shortTime(t.metadata.expires)}>{relative(t.metadata.expires)}</span>
                      {t.status?.expired ? <> <Badge kind="bad">expired</Badge></> : null}
                      {isLongLivedSecret(t) ? <> <Badge kind="warn">long-lived secret</Badge></> : null}
                    </td>
                    <td>
                      {m.who}
                      {m.drifts ? <> <Badge kind="warn">edits here drift</Badge></> : null}
                    </td>
                    <td class="row-actions">
                      {t.spec.join_method === 'token' ? <button type="button" onClick={() => setReveal(t)} aria-label={`Show secret of token ${displayName(t)}`}>Show secret</button> : null}
                      <button type="button" onClick={() => setMode({ kind: 'edit', token: t })} aria-label={`Edit token ${displayName(t)}`}>Edit</button>
                      <button type="button" class="danger" onClick={() => removal.ask(t)} aria-label={`Delete token ${displayName(t)}`}>Delete</button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {more ? <p class="muted">Showing the first {tokens?.length} tokens.</p> : null}
      {reveal ? (
        <SecretDialog token={reveal} onClose={() => setReveal(undefined)} />
      ) : null}
      {removal.target ? (
        <Confirm
          title="Delete token?"
          confirmLabel="Delete"
          busy={removal.busy}
          onCancel={removal.cancel}
          onConfirm={() =>
            removal.confirm(async (t) => {
              await api('DELETE', `/v1/tokens/${enc(t.metadata.name)}`);
              setNotice(`Deleted token ${displayName(t)}.`);
              load();
            })
          }
        >
          <p>Token <code>{displayName(removal.target)}</code> ({removal.target.spec.join_method}) will be deleted. Hosts that joined with it keep their identity; no new host can join with it.</p>
          {managedBy(removal.target).drifts ? <Notice kind="warn">It is managed by {managedBy(removal.target).who}, which may create it again.</Notice> : null}
        </Confirm>
      ) : null}
    </>
  );
}

/** The secret, only after the operator asked for it, in a dialog of its own. */
function SecretDialog({ token, onClose }: { token: Token; onClose: () => void }) {
  return (
    <Confirm title="Token secret" confirmLabel="Close" informOnly onConfirm={onClose} onCancel={onClose}>
      <p>Hosts join with <code>joinery join --method token --token &lt;secret&gt;</code>. Anyone holding it can join a host until it expires ({relative(token.metadata.expires)}).</p>
      <p><code class="secret">{token.metadata.name}</code></p>
    </Confirm>
  );
}
