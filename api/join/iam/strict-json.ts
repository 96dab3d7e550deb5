// A small strict JSON reader for the STS answer. JSON.parse keeps the last of two equal keys, so
// a second GetCallerIdentityResult would silently win; this reader refuses duplicate keys, and
// (like JSON.parse) anything before or after the one value.

export class StrictJsonError extends Error {}

const MAX_DEPTH = 16;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export function parseStrictJson(text: string): unknown {
  let pos = 0;
  const fail = (what: string): never => {
    throw new StrictJsonError(`${what} at offset ${pos}`);
  };
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos++;
  };
  const literal = (word: string, value: unknown) => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return value;
    }
    return fail('unexpected character');
  };
  const string = (): string => {
    pos++; // opening quote
    let out = '';
    for (;;) {
      if (pos >= text.length) return fail('unterminated string');
      const c = text[pos++];
      if (c === '"') return out;
      if (c < ' ') return fail('control character in string');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[pos++];
      if (e === 'u') {
        const hex = text.slice(pos, pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 4;
      } else if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
      } else {
        return fail('bad escape');
      }
    }
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) return fail('nesting too deep');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj: Record<string, unknown> = Object.create(null);
      ws();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') return fail('expected a key');
        const key = string();
        if (Object.prototype.hasOwnProperty.call(obj, key)) return fail(`duplicate key ${JSON.stringify(key)}`);
        ws();
        if (text[pos++] !== ':') return fail('expected :');
        obj[key] = value(depth + 1);
        ws();
        const sep = text[pos++];
        if (sep === '}') return obj;
        if (sep !== ',') return fail('expected , or }');
      }
    }
    if (c === '[') {
      pos++;
      const arr: unknown[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const sep = text[pos++];
        if (sep === ']') return arr;
        if (sep !== ',') return fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (!m || m[0].length === 0) return fail('unexpected character');
    pos += m[0].length;
    return Number(m[0]);
  };
  const result = value(0);
  ws();
  if (pos !== text.length) fail('trailing data after the JSON value');
  return result;
}
