// Joins: the audit of join attempts, newest first, or refused ones first when asked, each with
// its refusal code and reason. The filters are the audit API's query parameters.
// (The newest LIMIT events per join method, and with "refused first" the newest LIMIT refusals too.)

import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBox, Loading } from '../components';
import { relative, shortTime } from '../format';

interface AuditEvent {
  id: number;
  time: string;
  type: string;
  success: boolean;
  code?: string;
  message?: string;
  tokenName?: string;
  hostId?: string;
  remoteAddr?: string;
}

const METHODS = ['token', 'ec2', 'iam'];
const LIMIT = 200;

export function JoinsPage({ query }: { query: URLSearchParams }) {
  const [method, setMethod] = useState(query.get('method') ?? '');
  const [refusedFirst, setRefusedFirst] = useState(query.get('refused') === '1');
  const [code, setCode] = useState(query.get('code') ?? '');
  const [events, setEvents] = useState<AuditEvent[]>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    setEvents(undefined);
    setError(undefined);
    // The filters go to the server (GET /v1/audit's code and refused); the page applies them again,
    // so it shows the same against a server that ignores them.
    const url = (m: string, extra: Record<string, string>) => `/v1/audit?${new URLSearchParams({ type: `join.${m}`, limit: String(LIMIT), ...(code ? { code } : {}), ...extra })}`;
    const urls = (method ? [method] : METHODS).flatMap((m) => [url(m, {}), ...(refusedFirst ? [url(m, { refused: 'true' })] : [])]);
    Promise.all(urls.map((u) => api<{ events: AuditEvent[] }>('GET', u)))
      .then((pages) => {
        const byId = new Map(pages.flatMap((p) => p.events).map((e) => [e.id, e]));
        setEvents([...byId.values()].sort((a, b) => b.time.localeCompare(a.time) || b.id - a.id));
      })
      .catch(setError);
  }, [method, refusedFirst, code]);

  let shown = (events ?? []).filter((e) => !code || e.code === code);
  if (refusedFirst) shown = [...shown.filter((e) => !e.success), ...shown.filter((e) => e.success)];
  return (
    <>
      <div class="page-head">
        <h1>Joins</h1>
      </div>
      <ErrorBox error={error} />
      <div class="filters" role="search">
        <label for="join-method">Join method</label>
        <select id="join-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
          <option value="">all</option>
          {METHODS.map((m) => <option key={m} value={m}>{m}</option>)}
        </select>
        <label class="check"><input type="checkbox" checked={refusedFirst} onChange={(e) => setRefusedFirst(e.currentTarget.checked)} /> Refused first</label>
        {code ? <button type="button" onClick={() => setCode('')}>Code {code} ×</button> : null}
      </div>
      {!events ? <Loading /> : shown.length === 0 ? <p class="muted">No join attempts recorded.</p> : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Join attempts</caption>
            <thead>
              <tr><th scope="col">When</th><th scope="col">Method</th><th scope="col">Result</th><th scope="col">Reason</th><th scope="col">Host</th><th scope="col">Token</th><th scope="col">From</th></tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.id} class={e.success ? undefined : 'refused'}>
                  <td class="when" title={shortTime(e.time)}>{relative(e.time)}</td>
                  <td>{e.type.replace(/^join\./, '')}</td>
                  <td>{e.success ? <Badge kind="ok">accepted</Badge> : <Badge kind="bad">refused</Badge>}</td>
                  <td>{e.code ? <><code class="code">{e.code}</code> </> : null}<span class="reason">{e.message}</span></td>
                  <td>{e.hostId ? <code>{e.hostId}</code> : null}</td>
                  <td>{e.tokenName ? <code>{e.tokenName}</code> : null}</td>
                  <td>{e.remoteAddr}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="muted">The newest {LIMIT} attempts per join method.</p>
    </>
  );
}
