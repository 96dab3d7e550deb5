// Small formatting helpers shared by the pages.

export { maskTokenName } from '../../schema/token';

const UNITS: [number, string][] = [
  [86400_000 * 365, 'y'],
  [86400_000 * 30, 'mo'],
  [86400_000, 'd'],
  [3600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];

/** "in 3 h", "5 min ago", "now". */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = t - now;
  const abs = Math.abs(d);
  if (abs < 1000) return 'now';
  const [ms, unit] = UNITS.find(([ms]) => abs >= ms) ?? UNITS[UNITS.length - 1];
  const n = Math.floor(abs / ms);
  return d > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
