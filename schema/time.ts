// RFC 3339 times read strictly. Date.parse is not fit for checking: it answers NaN for offsets
// such as +24:00 or a leap second, and it silently rolls 30 February into March, so a check built
// on it can pass a time nothing can compare against. Every field here is range-checked instead,
// and anything that cannot be read is undefined (callers then fail closed).

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export type TimeProblem = 'syntax' | 'range' | 'leap-second';

export interface ParsedTime {
  /** Milliseconds since the epoch (fractions below a millisecond are dropped, i.e. earlier). */
  ms: number;
  /** The same instant in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, fraction only when not zero. */
  utc: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Reads an RFC 3339 date-time with real ranges: month 1-12, a day that month has, hours 00-23,
 * minutes and seconds 00-59, zone offsets up to ±23:59. A leap second (second 60) is refused
 * rather than normalised: no clock the server compares against can represent it, and a token's
 * expiry gains nothing from it. The result must fall in the years 0001-9999 once in UTC.
 */
export function parseRfc3339(text: unknown): { ok: true; time: ParsedTime } | { ok: false; problem: TimeProblem } {
  if (typeof text !== 'string' || text.length > 40) return { ok: false, problem: 'syntax' };
  const m = RFC3339_RE.exec(text);
  if (!m) return { ok: false, problem: 'syntax' };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const fraction = m[7] ? m[7].slice(1).replace(/0+$/, '') : '';
  const sign = m[9] === '-' ? -1 : 1;
  const oh = m[10] ? Number(m[10]) : 0;
  const om = m[11] ? Number(m[11]) : 0;
  if (s === 60) return { ok: false, problem: 'leap-second' };
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59) {
    return { ok: false, problem: 'range' };
  }
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  const local = date.getTime();
  const ms = local - sign * (oh * 60 + om) * 60_000 + Number((fraction + '00').slice(0, 3));
  const utcDate = new Date(local - sign * (oh * 60 + om) * 60_000);
  const year = utcDate.getUTCFullYear();
  if (!Number.isFinite(ms) || year < 1 || year > 9999) return { ok: false, problem: 'range' };
  const utc =
    `${pad(year, 4)}-${pad(utcDate.getUTCMonth() + 1)}-${pad(utcDate.getUTCDate())}` +
    `T${pad(utcDate.getUTCHours())}:${pad(utcDate.getUTCMinutes())}:${pad(utcDate.getUTCSeconds())}` +
    `${fraction ? `.${fraction}` : ''}Z`;
  return { ok: true, time: { ms, utc } };
}

/** Milliseconds since the epoch, or undefined when the text is not a valid RFC 3339 time. */
export function rfc3339Ms(text: unknown): number | undefined {
  const r = parseRfc3339(text);
  return r.ok ? r.time.ms : undefined;
}

/** Whether two RFC 3339 texts name the same instant (e.g. an offset and its UTC form). */
export function sameInstant(a: unknown, b: unknown): boolean {
  const ra = parseRfc3339(a);
  const rb = parseRfc3339(b);
  return ra.ok && rb.ok && ra.time.utc === rb.time.utc;
}
