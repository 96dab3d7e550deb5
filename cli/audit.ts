// `joinery audit ls`: the audit, newest first, filtered by the server, one line per event in text
// (for a refused rule match, each rule's failed checks), or the events as YAML or JSON.

import type { AuditEventView } from '../api/audit/catalog';
import { SERVER_EVENT_TYPES } from '../api/audit/event-types';
import { SINCE_HELP, sinceInstant } from '../api/audit/since';
import { ApiError } from '../client/api-client';
import { JOIN_METHODS } from '../schema/token-fields';
import { UsageError, type FlagSpec, type Parsed } from './args';
import { adminClient, formatOf, str } from './common';
import { out, printValue, table } from './output';

export const AUDIT_LS_FLAGS: FlagSpec = {
  refused: { kind: 'boolean', help: 'only refused attempts' },
  type: { kind: 'string', arg: '<type>', help: `only this event type: ${[...JOIN_METHODS.map((m) => `join.${m}`), ...SERVER_EVENT_TYPES.map((t) => t.type)].join(', ')}` },
  token: { kind: 'string', arg: '<name>', help: 'only this token (a token-method secret matches its masked form)' },
  host: { kind: 'string', arg: '<host_id>', help: 'only this host' },
  code: { kind: 'string', arg: '<code>', help: 'only this refusal code, e.g. ec2_rule_mismatch' },
  since: { kind: 'string', arg: '<when>', help: `only events since ${SINCE_HELP}` },
  limit: { kind: 'string', arg: '<n>', help: 'at most this many events, newest first (default 100)' },
};

const DEFAULT_LIMIT = 100;
// Held in memory to print: the export, not this command, is for reading everything.
const MAX_LIMIT = 100_000;
/** The server's largest page. */
const PAGE = 1000;

function limitOf(p: Parsed): number {
  const raw = str(p, 'limit');
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw new UsageError(`--limit must be an integer from 1 to ${MAX_LIMIT} (got ${JSON.stringify(raw.slice(0, 32))})`);
  return n;
}

/** The query string of the filters, checked here so a typo is a usage error. */
function filters(p: Parsed, now: Date): URLSearchParams {
  const q = new URLSearchParams();
  if (p.flags.refused === true) q.set('refused', 'true');
  for (const [flag, param] of [['type', 'type'], ['token', 'token'], ['host', 'host'], ['code', 'code']] as const) {
    const v = str(p, flag);
    if (v !== undefined) q.set(param, v);
  }
  const since = str(p, 'since');
  if (since !== undefined) {
    const at = sinceInstant(since, now);
    if (at === undefined) throw new UsageError(`--since must be ${SINCE_HELP} (got ${JSON.stringify(since.slice(0, 64))})`);
    q.set('since', at); // resolved here, so every page asks for the same instant
  }
  return q;
}

interface RuleResult {
  index: number;
  matched: boolean;
  failures?: string[];
}

/** Why an event is what it is, in one line: each failed rule's checks, or the message. */
export function reason(e: AuditEventView): string {
  const rules = (e.details as { rules?: unknown } | undefined)?.rules;
  if (!e.success && Array.isArray(rules)) {
    const failed = rules.filter((r): r is RuleResult => typeof r === 'object' && r !== null && (r as RuleResult).matched === false);
    const more = rules.filter((r): r is string => typeof r === 'string');
    if (failed.length) return [...failed.map((r) => `allow[${r.index}]: ${(r.failures ?? []).join('; ') || 'no match'}`), ...more].join(' | ');
  }
  return e.message ?? '-';
}

/** One line per event: time, type, outcome, code, host, token, source address, reason. */
export function auditTable(events: AuditEventView[]): string {
  if (events.length === 0) return 'No audit events match.';
  return table([
    ['Time', 'Type', 'Result', 'Code', 'Host', 'Token', 'From', 'Reason'],
    ...events.map((e) => [e.time.replace(/\.\d+Z$/, 'Z'), e.type, e.success ? 'ok' : 'refused', e.code ?? '-', e.hostId ?? '-', e.tokenName ?? '-', e.remoteAddr ?? '-', reason(e)]),
  ]);
}

export async function auditLs(p: Parsed): Promise<number> {
  const format = formatOf(p, 'text');
  const limit = limitOf(p);
  const query = filters(p, new Date());
  const client = adminClient(p);
  const events: AuditEventView[] = [];
  const seen = new Set<string>();
  let pageToken: string | undefined;
  while (events.length < limit) {
    const q = new URLSearchParams(query);
    q.set('limit', String(Math.min(PAGE, limit - events.length)));
    if (pageToken !== undefined) q.set('page_token', pageToken);
    const page = await client.request<{ events: AuditEventView[]; next_page_token?: string }>('GET', `/v1/audit?${q}`);
    events.push(...page.events.slice(0, limit - events.length));
    if (page.next_page_token === undefined) break;
    // A server repeating a page token would keep this loop going forever.
    if (seen.has(page.next_page_token)) throw new ApiError(200, 'bad_response', 'the server repeated a next_page_token');
    seen.add(page.next_page_token);
    pageToken = page.next_page_token;
  }
  if (format === 'text') out(auditTable(events));
  else printValue(events, format);
  return 0;
}
