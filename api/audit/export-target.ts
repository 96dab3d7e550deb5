// JOINERY_AUDIT_EXPORT: where the audit export writes, read once by loadConfig.

import * as path from 'node:path';

export type AuditExportTarget = { kind: 'file'; path: string } | { kind: 'stdout' };

/** `file:/var/log/joinery/audit.jsonl` or `stdout`; empty or unset: no export. */
export function parseAuditExport(value: string | undefined): AuditExportTarget | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (v === 'stdout') return { kind: 'stdout' };
  if (v.startsWith('file:') && v.length > 'file:'.length && !v.includes('\0')) return { kind: 'file', path: path.resolve(v.slice('file:'.length)) };
  throw new Error(`JOINERY_AUDIT_EXPORT must be file:/path/to/audit.jsonl or stdout (got ${JSON.stringify(v.slice(0, 200))})`);
}
