// Nodes: the registry, paged on the server (a page at a time, however many hosts), with the
// filters the API offers. FILTERS lists them: a filter the API gains is one entry there.

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api';
import { Badge, Confirm, ErrorBox, Loading, Notice, useConfirmation } from '../components';
import { relative, shortTime } from '../format';
import type { LockView, NodeView } from '../../../client/api-client';


const PAGE_SIZE = 50;

/** Query parameters of GET /v1/nodes the page offers as filters: a choice, or free text (applied on Enter or leaving the field). */
const FILTERS: { param: string; label: string; options?: string[]; placeholder?: string }[] = [
  { param: 'status', label: 'Status', options: ['active', 'expired', 'removed'] },
  { param: 'method', label: 'Method', options: ['token', 'ec2', 'iam'] },
  { param: 'stale', label: 'Not seen for', options: ['15m', '1h', '24h', '168h'] },
  { param: 'token', label: 'Token', placeholder: 'ec2-fleet' },
  { param: 'label', label: 'Label', placeholder: 'aws/Team=payments' },
];

/** TTLs the Lock dialog offers ('' = until removed). */
const LOCK_TTLS = ['1h', '24h', '168h', ''];

/** The verified identity in one cell: instance or ARN, account, region. */
function identityText(id: Record<string, string> | undefined): string {
  if (!id) return '';
  return [id.instance_id ?? id.arn, id.aws_account, id.aws_region].filter(Boolean).join(' · ');
}

const STATUS_BADGE = { active: 'ok', expired: 'warn', removed: 'bad' } as const;

export function NodesPage({ query }: { query: URLSearchParams }) {
  const [filters, setFilters] = useState<Record<string, string>>(() => Object.fromEntries(FILTERS.map((f) => [f.param, query.get(f.param) ?? ''])));
  // The page tokens of the pages before this one, so "Previous" needs no server support.
  const [trail, setTrail] = useState<string[]>([]);
  const [page, setPage] = useState<{ nodes: NodeView[]; next_page_token?: string }>();
  const [error, setError] = useState<unknown>();
  const [find, setFind] = useState('');
  const [found, setFound] = useState<NodeView>();
  const [notice, setNotice] = useState<string>();

  const removal = useConfirmation<NodeView>(setError);
  const locking = useConfirmation<NodeView>(setError);
  const [lockMessage, setLockMessage] = useState('');
  const [lockTtl, setLockTtl] = useState('24h');
  const current = trail[trail.length - 1];
  const load = () => {
    setError(undefined);
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    if (current) params.set('page_token', current);
    api<{ nodes: NodeView[]; next_page_token?: string }>('GET', `/v1/nodes?${params}`).then(setPage, setError);
  };
  useEffect(load, [current, filters]);

  const lookup = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setFound(undefined);
    if (!find.trim()) return;
    try {
      setFound(await api<NodeView>('GET', `/v1/nodes/${enc(find.trim())}`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setNotice(`No host ${find.trim()}.`);
      else setError(err);
    }
  };

  const rows = found ? [found] : page?.nodes ?? [];
  return (
    <>
      <div class="page-head">
        <h1>Nodes</h1>
      </div>
      {notice ? <Notice kind="ok">{notice}</Notice> : null}
      <ErrorBox error={error} />
      <div class="filters" role="search">
        <form onSubmit={lookup} class="inline">
          <label for="find-host">Host ID</label>
          <input id="find-host" value={find} onInput={(e) => setFind(e.currentTarget.value)} placeholder="111111111111-i-0abc…" />
          <button type="submit">Find</button>
          {found ? <button type="button" onClick={() => { setFound(undefined); setFind(''); }}>Show all</button> : null}
        </form>
        {FILTERS.map((f) => (
          <span key={f.param} class="filter">
            <label for={`filter-${f.param}`}>{f.label}</label>
            {f.options ? (
              <select id={`filter-${f.param}`} value={filters[f.param]} onChange={(e) => { setTrail([]); setFilters({ ...filters, [f.param]: e.currentTarget.value }); }}>
                <option value="">{f.param === 'stale' ? 'any time' : 'all'}</option>
                {f.options.map((o) => <option key={o} value={o}>{o}</option>)}
              </select>
            ) : (
              <input
                id={`filter-${f.param}`}
                value={filters[f.param]}
                placeholder={f.placeholder}
                onChange={(e) => { setTrail([]); setFilters({ ...filters, [f.param]: e.currentTarget.value.trim() }); }}
              />
            )}
          </span>
        ))}
      </div>
      {!page && !found ? <Loading /> : rows.length === 0 ? <p class="muted">No hosts have joined yet.</p> : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Joined hosts</caption>
            <thead>
              <tr><th scope="col">Host ID</th><th scope="col">Status</th><th scope="col">Method</th><th scope="col">Token</th><th scope="col">Role</th><th scope="col">Last seen</th><th scope="col">Agent</th><th scope="col">Certificate expires</th><th scope="col">Identity</th><th scope="col">Labels</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {rows.map((n) => (
                <tr key={n.host_id}>
                  <td><code>{n.host_id}</code></td>
                  <td><Badge kind={STATUS_BADGE[n.status]}>{n.status}</Badge></td>
                  <td>{n.join_method}</td>
                  <td><code>{n.token_name}</code></td>
                  <td>{n.role}</td>
                  <td title={shortTime(n.last_seen ?? n.last_renewed_at ?? n.joined_at)}>{relative(n.last_seen ?? n.last_renewed_at ?? n.joined_at)}</td>
                  <td>{n.agent_version ?? <span class="muted">?</span>}{n.hostname ? <div class="muted">{n.hostname}</div> : null}</td>
                  <td title={shortTime(n.cert_expires_at)}>{n.status === 'removed' ? <span class="muted">revoked {relative(n.removed_at)}</span> : relative(n.cert_expires_at)}</td>
                  <td>{identityText(n.identity) || <span class="muted">token only</span>}</td>
                  <td class="attrs">{Object.entries(n.labels ?? {}).map(([k, v]) => <span key={k} class="attr">{k}={v}</span>)}</td>
                  <td class="row-actions">
                    <button type="button" onClick={() => { setLockMessage(''); setLockTtl('24h'); locking.ask(n); }} aria-label={`Lock host ${n.host_id}`}>Lock</button>
                    {n.status !== 'removed' ? <button type="button" class="danger" onClick={() => removal.ask(n)} aria-label={`Remove host ${n.host_id}`}>Remove</button> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!found ? (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={trail.length === 0} onClick={() => setTrail(trail.slice(0, -1))}>Previous</button>
          <span>Page {trail.length + 1}</span>
          <button type="button" disabled={!page?.next_page_token} onClick={() => page?.next_page_token && setTrail([...trail, page.next_page_token])}>Next</button>
        </nav>
      ) : null}
      {locking.target ? (
        <Confirm
          title="Lock host?"
          confirmLabel="Lock"
          busy={locking.busy}
          onCancel={locking.cancel}
          onConfirm={() =>
            locking.confirm(async (n) => {
              const lock = await api<LockView>('POST', '/v1/locks', { kind: 'host_id', target: n.host_id, ...(lockTtl ? { ttl: lockTtl } : {}), ...(lockMessage.trim() ? { message: lockMessage.trim() } : {}) });
              setNotice(`Locked ${n.host_id} (lock ${lock.id}${lock.expires_at ? `, until ${shortTime(lock.expires_at)}` : ''}): ${lock.revoked_certificates ?? 0} certificate(s) revoked; its joins and renewals are refused.`);
              load();
            })
          }
        >
          <p>Host <code>{locking.target.host_id}</code> will be locked: its joins and renewals are refused, even with a fresh identity document, and its certificates go on the CRL.</p>
          <div class="field">
            <label for="lock-message">Message for the host</label>
            <input id="lock-message" maxLength={256} value={lockMessage} onInput={(e) => setLockMessage(e.currentTarget.value)} placeholder="incident 42" />
          </div>
          <div class="field">
            <label for="lock-ttl">Expires after</label>
            <select id="lock-ttl" value={lockTtl} onChange={(e) => setLockTtl(e.currentTarget.value)}>
              {LOCK_TTLS.map((t) => <option key={t} value={t}>{t || 'never (until removed)'}</option>)}
            </select>
          </div>
          <p class="muted">Remove the lock with <code>joinery locks rm</code> when the incident is over.</p>
        </Confirm>
      ) : null}
      {removal.target ? (
        <Confirm
          title="Remove host?"
          confirmLabel="Remove"
          busy={removal.busy}
          onCancel={removal.cancel}
          onConfirm={() =>
            removal.confirm(async (n) => {
              await api('DELETE', `/v1/nodes/${enc(n.host_id)}`);
              setNotice(`Removed ${n.host_id}: its certificate ${n.cert_serial} is on the CRL and it can no longer renew.`);
              setFound(undefined);
              load();
            })
          }
        >
          <p>Host <code>{removal.target.host_id}</code> will be removed: its certificates go on the CRL and it can no longer renew.</p>
          <p class="muted">It can join again with a token that still admits it.</p>
        </Confirm>
      ) : null}
    </>
  );
}
