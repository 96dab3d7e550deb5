// How the admin commands print: tables for people, YAML and JSON for programs, the same three
// formats for every command that prints a resource or a list.
//
// Whatever the server sends may hold characters that act on a terminal (ESC, C1 controls,
// bidirectional overrides: see schema/text-safety.ts), so nothing is printed raw. Text is for
// people: such characters are written out visibly (`\u{202e}`). JSON and YAML are for programs:
// they carry them as the formats' own `\u202e` escapes, so a parser reads the exact value back
// and a terminal shows nothing but ASCII escapes.

import * as YAML from 'yaml';
import type { LockView, NodeView, TokenResource } from '../client/api-client';
import { escapeUnsafeAsJson, escapeUnsafeText, isSafeText } from '../schema/text-safety';
import type { Format } from './common';

function write(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}

/** A message for people, its own line breaks kept and everything else unsafe written out. */
export const out = (s: string): void => write(terminalText(s));

/** `s` safe for a terminal: line breaks kept, other control and invisible characters visible. */
export function terminalText(s: string): string {
  return escapeUnsafeText(s, '\n');
}

/** A value inside a line (a table cell, a quoted name): line breaks written out too. */
export function terminalValue(s: string): string {
  return escapeUnsafeText(s);
}

export function table(rows: string[][]): string {
  const safe = rows.map((r) => r.map(terminalValue));
  const widths = safe[0].map((_, c) => Math.max(...safe.map((r) => r[c].length)));
  return safe.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

/** JSON of `value` as JSON.stringify writes it, with control and invisible characters as \u escapes. */
export function jsonText(value: unknown): string {
  return escapeUnsafeAsJson(JSON.stringify(value, null, 2));
}

/**
 * YAML of `value` in which every string holding a control or invisible character is a
 * double-quoted scalar, where the character is written as a \u escape. Only such scalars can
 * hold one (YAML's own syntax is ASCII), so escaping the whole text escapes only inside them.
 */
export function yamlText(value: unknown): string {
  const doc = new YAML.Document(value);
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !isSafeText(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return escapeUnsafeAsJson(doc.toString());
}

/** One value (a resource, a list, a status) as YAML or JSON. */
export function printValue(value: unknown, format: Exclude<Format, 'text'>): void {
  write(format === 'json' ? jsonText(value) : yamlText(value));
}

/** Resources as a YAML stream (one document each, as `create -f` reads them back) or a JSON array. */
export function printResources(list: unknown[], format: Exclude<Format, 'text'>): void {
  if (format === 'json') write(jsonText(list));
  else if (list.length) write(list.map((r) => yamlText(r)).join('---\n'));
}

/** A token as stored, without the read-only status the server adds. */
export function tokenResource(t: TokenResource): Omit<TokenResource, 'status'> {
  const { status: _status, ...resource } = t;
  return resource;
}

function expiry(t: TokenResource): string {
  if (!t.metadata.expires) return 'never';
  return t.status?.expired ? `${t.metadata.expires} (expired)` : t.metadata.expires;
}

/** A list as a table: its header, one row per item, and what to say when it is empty. */
export interface TableLayout<T> {
  header: string[];
  row(item: T): string[];
  empty: string;
}

export const TOKEN_TABLE: TableLayout<TokenResource> = {
  header: ['Token', 'Join Method', 'Roles', 'Allow Rules', 'Expiry'],
  row: (t) => [t.metadata.name, t.spec.join_method, t.spec.roles.join(','), String(t.spec.allow?.length ?? 0), expiry(t)],
  empty: 'No tokens found.',
};

/** The verified identity in one cell: instance or ARN, account, region. */
function identityText(id: Record<string, string>): string {
  return [id.instance_id ?? id.arn, id.aws_account, id.aws_region].filter(Boolean).join(' ') || '-';
}

export const LOCK_TABLE: TableLayout<LockView> = {
  header: ['ID', 'Kind', 'Target', 'Expires', 'Message'],
  row: (l) => [l.id, l.kind, l.target, l.expires_at ?? 'never', l.message ?? ''],
  empty: 'No active locks.',
};

export const NODE_TABLE: TableLayout<NodeView> = {
  header: ['Host ID', 'Status', 'Method', 'Role', 'Token', 'Last seen', 'Agent', 'Hostname', 'Identity', 'Labels', 'Expires'],
  row: (n) => [
    n.host_id,
    n.status,
    n.join_method,
    n.role,
    n.token_name,
    n.last_seen ?? n.last_renewed_at ?? n.joined_at,
    n.agent_version ?? '-',
    n.hostname ?? '-',
    identityText(n.identity ?? {}),
    Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    n.cert_expires_at,
  ],
  empty: 'No nodes have joined.',
};

function layoutTable<T>(layout: TableLayout<T>, list: T[]): string {
  return list.length === 0 ? layout.empty : table([layout.header, ...list.map(layout.row)]);
}

export const tokenTable = (list: TokenResource[]): string => layoutTable(TOKEN_TABLE, list);
export const nodeTable = (list: NodeView[]): string => layoutTable(NODE_TABLE, list);
