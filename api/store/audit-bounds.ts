// Audit events quote what clients sent (token names, refusal messages that repeat input, details
// copied from requests). Those clients are unauthenticated, so every string is cut to a bound and
// `details` to a bounded shape before it is stored: a flood of refused joins costs rows, not
// megabytes per row. Every string (keys of details too) also has its control and invisible
// characters written out visibly (`\u{202e}`) first, whatever a join method or route put in: the
// audit is read on terminals, and a C1 control or a bidirectional override from an
// unauthenticated client must not act there.

import { escapeUnsafeText } from '../../schema/text-safety';
import type { AuditEvent } from './types';

export const AUDIT_LIMITS = {
  /** Short identifiers: type, code, token name, host ID, remote address. */
  field: 256,
  message: 1024,
  /** Each string inside details. */
  detailString: 512,
  detailKeys: 32,
  detailItems: 16,
  detailDepth: 4,
  /** The whole of details, serialized: nesting within the other bounds can still multiply. */
  detailsJson: 8192,
} as const;

const MARK = '…[truncated]';

/** Escapes `s` (see the file comment), then cuts it to `max` characters. */
function bound(s: string, max: number): string {
  return truncate(escapeUnsafeText(s), max);
}

/** Cuts `s` to at most `max` characters (marker included), never inside a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - MARK.length;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return s.slice(0, end) + MARK;
}

function boundValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return bound(v, AUDIT_LIMITS.detailString);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= AUDIT_LIMITS.detailDepth) return '[nested too deep]';
  if (Array.isArray(v)) {
    const items = v.slice(0, AUDIT_LIMITS.detailItems).map((x) => boundValue(x, depth + 1));
    if (v.length > AUDIT_LIMITS.detailItems) items.push(`[${v.length - AUDIT_LIMITS.detailItems} more]`);
    return items;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries.slice(0, AUDIT_LIMITS.detailKeys)) {
    Object.defineProperty(out, bound(k, AUDIT_LIMITS.field), { value: boundValue(x, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  if (entries.length > AUDIT_LIMITS.detailKeys) out['…'] = `${entries.length - AUDIT_LIMITS.detailKeys} more keys`;
  return out;
}

export function boundAuditEvent(e: AuditEvent): AuditEvent {
  const short = (s: string | undefined) => (s === undefined ? undefined : bound(s, AUDIT_LIMITS.field));
  return {
    ...e,
    type: bound(e.type, AUDIT_LIMITS.field),
    code: short(e.code),
    message: e.message === undefined ? undefined : bound(e.message, AUDIT_LIMITS.message),
    tokenName: short(e.tokenName),
    hostId: short(e.hostId),
    remoteAddr: short(e.remoteAddr),
    details: e.details === undefined ? undefined : boundDetails(e.details),
  };
}

function boundDetails(details: Record<string, unknown>): Record<string, unknown> {
  const bounded = boundValue(details, 0) as Record<string, unknown>;
  const json = JSON.stringify(bounded);
  if (json.length <= AUDIT_LIMITS.detailsJson) return bounded;
  // Kept as text; quoting it again escapes characters, so shrink until the stored form fits.
  let budget = AUDIT_LIMITS.detailsJson - 32;
  for (let i = 0; i < 8 && budget > 64; i++) {
    const cut = { truncated: truncate(json, budget) };
    const size = JSON.stringify(cut).length;
    if (size <= AUDIT_LIMITS.detailsJson) return cut;
    budget -= size - AUDIT_LIMITS.detailsJson;
  }
  return { truncated: MARK };
}
