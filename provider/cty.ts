// Terraform's value model (cty) as plain JavaScript, and its msgpack/JSON wire encodings.
// Values: null, string, number, boolean, arrays (list/set), plain objects (map/object), and
// UNKNOWN for "known after apply". Encoding is driven by the type so that every object
// attribute is present (null when absent), which Terraform requires.

import { decode, encode, ExtData } from '@msgpack/msgpack';

export type CtyType =
  | 'string'
  | 'number'
  | 'bool'
  | 'dynamic'
  | readonly ['list' | 'set' | 'map', CtyType]
  | readonly ['object', Readonly<Record<string, CtyType>>];

/** The one unknown value. Refinements Terraform may attach (1.6+) are not kept. */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Unknown = typeof UNKNOWN;

export type CtyValue = null | Unknown | string | number | boolean | CtyValue[] | { [key: string]: CtyValue };
export type CtyObject = { [key: string]: CtyValue };

export function isUnknown(v: unknown): v is Unknown {
  return v === UNKNOWN;
}

/** Whether the value contains no unknown anywhere. */
export function isWhollyKnown(v: CtyValue): boolean {
  if (v === UNKNOWN) return false;
  if (Array.isArray(v)) return v.every(isWhollyKnown);
  if (v !== null && typeof v === 'object') return Object.values(v).every(isWhollyKnown);
  return true;
}

export class CtyDecodeError extends Error {}

function typeName(t: CtyType): string {
  return typeof t === 'string' ? t : t[0];
}

/** Shapes a decoded wire value to the type: objects get every attribute, extensions become UNKNOWN. */
function fromWire(raw: unknown, t: CtyType, path: string): CtyValue {
  if (raw instanceof ExtData) return UNKNOWN; // type 0 (unknown) and 12 (refined unknown) alike
  if (raw === null || raw === undefined) return null;
  if (t === 'dynamic') {
    // Dynamic values travel as [type JSON, value]; the schema here never declares one.
    throw new CtyDecodeError(`${path || 'value'}: dynamic values are not supported`);
  }
  if (typeof t === 'string') {
    if (t === 'string' && typeof raw === 'string') return raw;
    if (t === 'bool' && typeof raw === 'boolean') return raw;
    if (t === 'number' && typeof raw === 'number') return raw;
    if (t === 'number' && typeof raw === 'string' && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw);
    throw new CtyDecodeError(`${path || 'value'}: expected ${t}, got ${typeof raw}`);
  }
  const [kind, inner] = t;
  if (kind === 'list' || kind === 'set') {
    if (!Array.isArray(raw)) throw new CtyDecodeError(`${path}: expected ${kind}`);
    return raw.map((e, i) => fromWire(e, inner as CtyType, `${path}[${i}]`));
  }
  if (typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) throw new CtyDecodeError(`${path}: expected ${typeName(t)}`);
  const rec = raw as Record<string, unknown>;
  const out: CtyObject = {};
  if (kind === 'map') {
    for (const [k, v] of Object.entries(rec)) out[k] = fromWire(v, inner as CtyType, `${path}[${JSON.stringify(k)}]`);
    return out;
  }
  for (const [name, at] of Object.entries(inner as Record<string, CtyType>)) {
    out[name] = fromWire(rec[name], at, path ? `${path}.${name}` : name);
  }
  return out;
}

const UNKNOWN_EXT = new ExtData(0, new Uint8Array([0]));

function toWire(v: CtyValue | undefined, t: CtyType): unknown {
  if (v === UNKNOWN) return UNKNOWN_EXT;
  if (v === null || v === undefined) return null;
  if (typeof t === 'string') return v;
  const [kind, inner] = t;
  if (kind === 'list' || kind === 'set') return (v as CtyValue[]).map((e) => toWire(e, inner as CtyType));
  const rec = v as CtyObject;
  const out: Record<string, unknown> = {};
  if (kind === 'map') {
    for (const [k, e] of Object.entries(rec)) out[k] = toWire(e, inner as CtyType);
  } else {
    for (const [name, at] of Object.entries(inner as Record<string, CtyType>)) out[name] = toWire(rec[name], at);
  }
  return out;
}

export function decodeMsgpack(bytes: Uint8Array | undefined | null, t: CtyType): CtyValue {
  if (!bytes || bytes.length === 0) return null;
  return fromWire(decode(bytes), t, '');
}

export function encodeMsgpack(v: CtyValue, t: CtyType): Buffer {
  const bytes = encode(toWire(v, t), { ignoreUndefined: false });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** JSON (state files, raw_state) never holds unknowns; attributes missing from it become null. */
export function decodeJson(bytes: Uint8Array | undefined | null, t: CtyType): CtyValue {
  if (!bytes || bytes.length === 0) return null;
  return fromWire(JSON.parse(Buffer.from(bytes).toString('utf8')), t, '');
}

/** A DynamicValue from the wire: msgpack when present, else JSON. */
export function decodeDynamic(dv: { msgpack?: Uint8Array | null; json?: Uint8Array | null } | null | undefined, t: CtyType): CtyValue {
  if (!dv) return null;
  if (dv.msgpack && dv.msgpack.length) return decodeMsgpack(dv.msgpack, t);
  if (dv.json && dv.json.length) return decodeJson(dv.json, t);
  return null;
}

export function dynamic(v: CtyValue, t: CtyType): { msgpack: Buffer } {
  return { msgpack: encodeMsgpack(v, t) };
}

/** The type as Terraform's JSON type notation, used in schemas. */
export function typeJson(t: CtyType): unknown {
  if (typeof t === 'string') return t;
  const [kind, inner] = t;
  if (kind === 'object') {
    return ['object', Object.fromEntries(Object.entries(inner as Record<string, CtyType>).map(([k, at]) => [k, typeJson(at)]))];
  }
  return [kind, typeJson(inner as CtyType)];
}

/** Deep equality of known values (UNKNOWN equals only UNKNOWN). */
export function ctyEqual(a: CtyValue, b: CtyValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === UNKNOWN || b === UNKNOWN) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((e, i) => ctyEqual(e, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && ctyEqual(a[k], b[k]));
  }
  return false;
}
