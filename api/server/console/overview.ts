// GET /console/api/overview: what the console's first page shows, counted on the server so the
// browser fetches one small answer instead of every token, node and audit event.

import { isExpired } from '../../../schema/token';
import type { JoinMethod } from '../../../schema/token-fields';
import { JOIN_METHODS } from '../../../schema/token-fields';
import type { AuditEvent, NodeStatus, Store } from '../../store/types';

/** A `token`-method secret that lives longer than this is flagged: such secrets are meant to be short-lived. */
export const LONG_LIVED_SECRET_MS = 24 * 3600_000;
/** Tokens read for the counts; far beyond any real cluster's, so the answer stays bounded. */
const MAX_TOKENS_COUNTED = 100_000;
/** Join events read per method for the last 24 hours (the audit API's page). */
const JOIN_EVENTS_PER_METHOD = 1000;
const HOURS = 24;

export interface Overview {
  tokens: { total: number; by_method: Record<JoinMethod, { active: number; expired: number }>; long_lived_secrets: number; truncated: boolean };
  nodes: { by_status: Record<NodeStatus, number>; by_method: Record<string, Record<NodeStatus, number>> };
  joins: {
    since: string;
    accepted: number;
    refused: number;
    /** One bucket per hour, oldest first. */
    hourly: { start: string; accepted: number; refused: number }[];
    top_refusals: { code: string; count: number }[];
    /** Whether older events of the window were left out (more than the per-method page in 24 h). */
    truncated: boolean;
  };
}

/** Whether a token-method token's secret outlives LONG_LIVED_SECRET_MS from now (or never expires). */
export function isLongLivedSecret(token: { spec: { join_method?: string }; metadata: { expires?: string } }, now: Date): boolean {
  if (token.spec.join_method !== 'token') return false;
  if (!token.metadata.expires) return true;
  return Date.parse(token.metadata.expires) - now.getTime() > LONG_LIVED_SECRET_MS;
}

async function tokenCounts(store: Store, now: Date): Promise<Overview['tokens']> {
  const by_method = Object.fromEntries(JOIN_METHODS.map((m) => [m, { active: 0, expired: 0 }])) as Overview['tokens']['by_method'];
  let total = 0;
  let long_lived_secrets = 0;
  let after: string | undefined;
  do {
    const page = await store.tokens.list({ limit: 1000, after });
    for (const { token } of page.items) {
      total++;
      const bucket = by_method[token.spec.join_method as JoinMethod];
      if (bucket) bucket[isExpired(token, now) ? 'expired' : 'active']++;
      if (!isExpired(token, now) && isLongLivedSecret(token, now)) long_lived_secrets++;
    }
    after = page.next;
  } while (after !== undefined && total < MAX_TOKENS_COUNTED);
  return { total, by_method, long_lived_secrets, truncated: after !== undefined };
}

function joinCounts(events: AuditEvent[][], now: Date): Overview['joins'] {
  const start = Math.floor(now.getTime() / 3600_000) * 3600_000 - (HOURS - 1) * 3600_000;
  const hourly = Array.from({ length: HOURS }, (_, i) => ({ start: new Date(start + i * 3600_000).toISOString(), accepted: 0, refused: 0 }));
  const codes = new Map<string, number>();
  let truncated = false;
  for (const list of events) {
    const oldest = list[list.length - 1];
    if (list.length >= JOIN_EVENTS_PER_METHOD && oldest && Date.parse(oldest.time) >= start) truncated = true;
    for (const e of list) {
      const t = Date.parse(e.time);
      if (!(t >= start && t <= now.getTime())) continue;
      const bucket = hourly[Math.floor((t - start) / 3600_000)];
      if (e.success) bucket.accepted++;
      else {
        bucket.refused++;
        const code = e.code ?? 'unknown';
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
  }
  const top_refusals = [...codes].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, 5);
  return {
    since: new Date(start).toISOString(),
    accepted: hourly.reduce((n, h) => n + h.accepted, 0),
    refused: hourly.reduce((n, h) => n + h.refused, 0),
    hourly,
    top_refusals,
    truncated,
  };
}

async function nodeCounts(store: Store, now: Date): Promise<Overview['nodes']> {
  const by_method = await store.nodes.countByMethodAndStatus(now);
  const by_status: Record<NodeStatus, number> = { active: 0, expired: 0, removed: 0 };
  for (const counts of Object.values(by_method)) for (const [k, n] of Object.entries(counts)) by_status[k as NodeStatus] += n;
  return { by_status, by_method };
}

export async function overview(store: Store, now: Date): Promise<Overview> {
  // One query after another: the page is read rarely, and a burst of them should not take the
  // pool's every connection from the joins.
  const tokens = await tokenCounts(store, now);
  const nodes = await nodeCounts(store, now);
  const events: AuditEvent[][] = [];
  for (const m of JOIN_METHODS) events.push(await store.audit.list({ limit: JOIN_EVENTS_PER_METHOD, type: `join.${m}` }));
  return { tokens, nodes, joins: joinCounts(events, now) };
}
