// How the admin commands print: tables for people, YAML and JSON for programs, the same three
// formats for every command that prints a resource or a list.

import * as YAML from 'yaml';
import type { NodeView, TokenResource } from '../client/api-client';
import type { Format } from './common';

export const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

/** One value (a resource, a list, a status) as YAML or JSON. */
export function printValue(value: unknown, format: Exclude<Format, 'text'>): void {
  out(format === 'json' ? JSON.stringify(value, null, 2) : YAML.stringify(value));
}

/** Resources as a YAML stream (one document each, as `create -f` reads them back) or a JSON array. */
export function printResources(list: unknown[], format: Exclude<Format, 'text'>): void {
  if (format === 'json') out(JSON.stringify(list, null, 2));
  else if (list.length) out(list.map((r) => YAML.stringify(r)).join('---\n'));
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

export const NODE_TABLE: TableLayout<NodeView> = {
  header: ['Host ID', 'Status', 'Method', 'Role', 'Token', 'Joined', 'Last renewed', 'Serial', 'Expires'],
  row: (n) => [n.host_id, n.status, n.join_method, n.role, n.token_name, n.joined_at, n.last_renewed_at ?? '-', n.cert_serial, n.cert_expires_at],
  empty: 'No nodes have joined.',
};

function layoutTable<T>(layout: TableLayout<T>, list: T[]): string {
  return list.length === 0 ? layout.empty : table([layout.header, ...list.map(layout.row)]);
}

export const tokenTable = (list: TokenResource[]): string => layoutTable(TOKEN_TABLE, list);
export const nodeTable = (list: NodeView[]): string => layoutTable(NODE_TABLE, list);
