// `since` of the audit queries: an RFC 3339 time, or a Go duration back from now ("90m", "24h"),
// as the instant stored times compare against (ISO 8601, UTC, milliseconds). Shared by the API,
// which answers 400 for a bad one, and the CLI, which refuses it before asking.

import { parseGoDuration } from '../../schema/duration';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export const SINCE_HELP = 'an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (90m, 24h)';

/** The instant, or undefined when the text is neither form. */
export function sinceInstant(text: string, now: Date): string | undefined {
  const back = parseGoDuration(text);
  const at = back !== undefined ? now.getTime() - back : RFC3339.test(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN;
  return Number.isFinite(at) && Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : undefined;
}
