// Overview: the cluster, its CA pin, token and node counts, and the last 24 hours of joins.

import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Loading, Notice } from '../components';

interface Overview {
  cluster_name: string;
  ca_pin: string;
  storage: string;
  server_time: string;
  tokens: { total: number; by_method: Record<string, { active: number; expired: number }>; long_lived_secrets: number };
  nodes: { by_status: Record<string, number>; by_method: Record<string, Record<string, number>> };
  joins: { since: string; accepted: number; refused: number; hourly: { start: string; accepted: number; refused: number }[]; top_refusals: { code: string; count: number }[]; truncated: boolean };
}

/** Stacked bars, one per hour: accepted below, refused on top. */
function JoinChart({ hourly }: { hourly: Overview['joins']['hourly'] }) {
  const W = 1000;
  const H = 180;
  const pad = 28;
  const max = Math.max(1, ...hourly.map((h) => h.accepted + h.refused));
  const bw = (W - pad) / hourly.length;
  const y = (n: number) => ((H - pad) * n) / max;
  const total = hourly.reduce((n, h) => n + h.accepted + h.refused, 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="join-chart-title">
        <title id="join-chart-title">{`Joins per hour over the last 24 hours: ${total} in all, at most ${max} in one hour`}</title>
        <line x1={pad} y1={H - pad} x2={W} y2={H - pad} class="axis" />
        <text x={pad - 4} y={12} class="tick" text-anchor="end">{max}</text>
        <text x={pad - 4} y={H - pad} class="tick" text-anchor="end">0</text>
        {hourly.map((h, i) => {
          const x = pad + i * bw + 1;
          const a = y(h.accepted);
          const r = y(h.refused);
          return (
            <g key={h.start}>
              <rect x={x} y={H - pad - a} width={bw - 2} height={a} class="accepted" />
              <rect x={x} y={H - pad - a - r} width={bw - 2} height={r} class="refused" />
              {i % 6 === 0 ? <text x={x} y={H - 6} class="tick">{new Date(h.start).toISOString().slice(11, 16)}</text> : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span class="key accepted" aria-hidden="true" /> accepted <span class="key refused" aria-hidden="true" /> refused (hours in UTC)
      </figcaption>
    </figure>
  );
}

export function OverviewPage() {
  const [data, setData] = useState<Overview>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api<Overview>('GET', '/console/api/overview').then(setData, setError);
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading />;
  const methods = Object.entries(data.tokens.by_method);
  return (
    <>
      <h1>Overview</h1>
      <section class="cards" aria-label="Cluster">
        <div class="card">
          <h2>Cluster</h2>
          <p class="big">{data.cluster_name}</p>
          <p class="muted">storage {data.storage}</p>
        </div>
        <div class="card wide">
          <h2>CA pin</h2>
          <p><code class="pin">{data.ca_pin}</code></p>
          <p class="muted">Agents pass it as <code>--ca-pin</code> to trust this server.</p>
        </div>
      </section>
      <section class="cards" aria-label="Counts">
        <div class="card">
          <h2>Tokens</h2>
          <table class="compact">
            <thead><tr><th scope="col">Method</th><th scope="col">Active</th><th scope="col">Expired</th></tr></thead>
            <tbody>
              {methods.map(([m, c]) => (
                <tr key={m}><th scope="row"><a href={`#/tokens?method=${m}`}>{m}</a></th><td>{c.active}</td><td>{c.expired}</td></tr>
              ))}
            </tbody>
          </table>
          {data.tokens.long_lived_secrets > 0 ? <Notice kind="warn">{data.tokens.long_lived_secrets === 1 ? '1 token-method secret lives' : `${data.tokens.long_lived_secrets} token-method secrets live`} longer than a day: prefer short-lived ones.</Notice> : null}
        </div>
        <div class="card">
          <h2>Nodes</h2>
          <table class="compact">
            <thead><tr><th scope="col">Method</th><th scope="col">Active</th><th scope="col">Expired</th><th scope="col">Removed</th></tr></thead>
            <tbody>
              {Object.entries(data.nodes.by_method).map(([m, c]) => (
                <tr key={m}><th scope="row">{m}</th><td>{c.active}</td><td>{c.expired}</td><td>{c.removed}</td></tr>
              ))}
              <tr class="total"><th scope="row">all</th><td>{data.nodes.by_status.active}</td><td>{data.nodes.by_status.expired}</td><td>{data.nodes.by_status.removed}</td></tr>
            </tbody>
          </table>
        </div>
        <div class="card">
          <h2>Joins, last 24 h</h2>
          <p class="big"><span class="ok-text">{data.joins.accepted}</span> accepted · <span class="bad-text">{data.joins.refused}</span> refused</p>
          <h3>Top refusal codes</h3>
          {data.joins.top_refusals.length === 0 ? <p class="muted">none</p> : (
            <ol class="codes">
              {data.joins.top_refusals.map((r) => (
                <li key={r.code}><a href={`#/joins?refused=1&code=${encodeURIComponent(r.code)}`}><code>{r.code}</code></a> {r.count}</li>
              ))}
            </ol>
          )}
        </div>
      </section>
      <section aria-labelledby="joins-chart-h">
        <h2 id="joins-chart-h">Joins per hour</h2>
        <JoinChart hourly={data.joins.hourly} />
        {data.joins.truncated ? <p class="muted">Only the newest 1,000 events per join method are counted; the busiest day holds more.</p> : null}
      </section>
    </>
  );
}
