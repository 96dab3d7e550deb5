// Reading resource documents (API bodies, `joinery create -f` files) without the silent liberties
// that common parsers take: JSON.parse and YAML keep the last of two equal keys, YAML drops a tag
// it does not know (`!!js/function`, `!custom`) and keeps the bare value, and a UTF-8 decoder
// replaces bytes it cannot read with U+FFFD. Each of those is refused here, naming the field.

import * as YAML from 'yaml';

export type DocumentErrorCode = 'invalid_encoding' | 'invalid_json' | 'invalid_yaml' | 'duplicate_key' | 'unsupported_yaml_tag';

export class DocumentError extends Error {
  constructor(
    public readonly code: DocumentErrorCode,
    message: string,
    /** Dotted path of the offending key or value, e.g. `metadata.labels.env`. */
    public readonly field?: string,
  ) {
    super(message);
    this.name = 'DocumentError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of UTF-8 bytes; any invalid sequence is refused, never replaced. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new DocumentError('invalid_encoding', `the body is not valid UTF-8 (${at >= 0 ? `invalid byte sequence at offset ${at}` : 'it ends inside a multi-byte sequence'})`);
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  // Binary search on the longest valid prefix: decode() is the only judge of validity.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo < bytes.length ? lo : -1;
}

type Step = string | number;

const PLAIN_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `metadata.labels["teleport.dev/origin"]`, `spec.allow[0].aws_account`. */
export function fieldPath(steps: readonly Step[]): string {
  let out = '';
  for (const s of steps) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (PLAIN_KEY_RE.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s)}]`;
  }
  return out;
}

function duplicate(key: string, steps: Step[]): DocumentError {
  const path = fieldPath([...steps, key]);
  return new DocumentError('duplicate_key', `duplicate key ${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key)} at ${path}: each key may appear once`, path);
}

type Frame = { kind: 'object'; keys: Set<string>; key?: string; expectKey: boolean } | { kind: 'array'; index: number };

/**
 * Parses JSON and refuses an object with two equal keys at any depth. JSON.parse judges the
 * syntax; a second pass over the (then known valid) text finds duplicates with their path.
 */
export function parseJsonStrict(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DocumentError('invalid_json', `not valid JSON: ${e instanceof RangeError ? 'nested too deeply' : (e as Error).message}`);
  }
  const stack: Frame[] = [];
  const steps = (): Step[] => stack.slice(0, -1).map((f) => (f.kind === 'object' ? f.key ?? '' : f.index));
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) throw duplicate(key, steps());
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ kind: 'object', keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top.kind === 'object') top.expectKey = true;
      else top.index++;
    }
  }
  return value;
}

/** Tags of YAML's core schema (and `!`, the non-specific tag). Anything else is refused. */
const CORE_TAGS = new Set(['!', ...['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`)]);

/** Aliases expand at most this many times, so a few bytes cannot become gigabytes. */
export const MAX_YAML_ALIASES = 100;

function tagName(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
}

function checkNode(node: unknown, steps: Step[]): void {
  if (YAML.isAlias(node) || !YAML.isNode(node)) return;
  if (node.tag && !CORE_TAGS.has(node.tag)) {
    const path = fieldPath(steps);
    throw new DocumentError('unsupported_yaml_tag', `YAML tag ${tagName(node.tag)}${path ? ` at ${path}` : ''} is not accepted: only the core schema's tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)`, path || undefined);
  }
  if (YAML.isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const k = pair.key;
      if (!YAML.isScalar(k)) {
        const path = fieldPath(steps);
        throw new DocumentError('invalid_yaml', `keys must be plain values, not lists, maps or aliases${path ? ` (in ${path})` : ''}`, path || undefined);
      }
      checkNode(k, steps);
      const key = k.value === null || k.value === undefined ? '' : String(k.value);
      if (seen.has(key)) throw duplicate(key, steps);
      seen.add(key);
      checkNode(pair.value, [...steps, key]);
    }
  } else if (YAML.isSeq(node)) {
    node.items.forEach((item, i) => checkNode(item, [...steps, i]));
  }
}

/** One YAML document's value, with its 1-based position among the stream's documents. */
export interface ParsedDocument {
  index: number;
  value: unknown;
}

/**
 * Parses a YAML stream (JSON is YAML too) strictly: syntax errors, duplicate keys, non-core tags
 * and non-scalar keys are refused. Empty documents are skipped; `index` still counts them.
 */
export function parseYamlStrict(text: string): ParsedDocument[] {
  let docs: YAML.Document.Parsed[];
  try {
    docs = YAML.parseAllDocuments(text, { uniqueKeys: false, prettyErrors: true }) as YAML.Document.Parsed[];
  } catch (e) {
    throw new DocumentError('invalid_yaml', `not valid YAML: ${e instanceof RangeError ? 'nested too deeply' : (e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(docs)) docs = [docs];
  const out: ParsedDocument[] = [];
  docs.forEach((doc, i) => {
    const where = docs.length > 1 ? ` (document ${i + 1})` : '';
    if (doc.errors.length) throw new DocumentError('invalid_yaml', `not valid YAML${where}: ${doc.errors[0].message.split('\n')[0]}`);
    if (doc.contents === null) return;
    try {
      checkNode(doc.contents, []);
    } catch (e) {
      if (e instanceof DocumentError && where) throw new DocumentError(e.code, `${e.message}${where}`, e.field);
      if (e instanceof RangeError) throw new DocumentError('invalid_yaml', `not valid YAML${where}: nested too deeply`);
      throw e;
    }
    try {
      out.push({ index: i + 1, value: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) });
    } catch (e) {
      throw new DocumentError('invalid_yaml', `not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
    }
  });
  return out;
}
