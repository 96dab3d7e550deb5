// Issue 17, item 4: control and invisible characters are written out visibly wherever text the
// server did not write is stored (the audit) or shown (the CLI).

import fc from 'fast-check';
import { boundAuditEvent } from '../../api/store/audit-bounds';
import { escapeUnsafeAsJson, escapeUnsafeText, isSafeText } from '../../schema/text-safety';
import { checkName } from '../../schema/token';

const UNSAFE_SAMPLES: [string, string][] = [
  ['ESC', '\u001b'],
  ['BEL', '\u0007'],
  ['NUL', '\u0000'],
  ['a newline', '\n'],
  ['DEL', '\u007f'],
  ['C1 NEL', '\u0085'],
  ['C1 CSI', '\u009b'],
  ['C1 OSC', '\u009d'],
  ['RIGHT-TO-LEFT OVERRIDE', '\u202e'],
  ['LEFT-TO-RIGHT EMBEDDING', '\u202a'],
  ['FIRST STRONG ISOLATE', '\u2068'],
  ['POP DIRECTIONAL ISOLATE', '\u2069'],
  ['ARABIC LETTER MARK', '\u061c'],
  ['ZERO WIDTH SPACE', '\u200b'],
  ['RIGHT-TO-LEFT MARK', '\u200f'],
  ['WORD JOINER', '\u2060'],
  ['BYTE ORDER MARK', '\ufeff'],
  ['LINE SEPARATOR', '\u2028'],
  ['PARAGRAPH SEPARATOR', '\u2029'],
  ['a lone high surrogate', '\ud800'],
  ['a lone low surrogate', '\udc00'],
  // Review of issue 17: the kind is "shown as nothing", not a list of bidi and zero-width marks.
  ['LEFT-TO-RIGHT MARK', '\u200e'],
  ['INTERLINEAR ANNOTATION ANCHOR', '\ufff9'],
  ['INTERLINEAR ANNOTATION TERMINATOR', '\ufffb'],
  ['HANGUL CHOSEONG FILLER', '\u115f'],
  ['HANGUL FILLER', '\u3164'],
  ['HALFWIDTH HANGUL FILLER', '\uffa0'],
  ['LANGUAGE TAG', '\u{e0001}'],
  ['TAG LATIN CAPITAL LETTER A', '\u{e0041}'],
  ['CANCEL TAG', '\u{e007f}'],
  ['VARIATION SELECTOR-16', '\ufe0f'],
  ['VARIATION SELECTOR-17', '\u{e0100}'],
  ['MONGOLIAN VOWEL SEPARATOR', '\u180e'],
  ['SOFT HYPHEN', '\u00ad'],
  ['COMBINING GRAPHEME JOINER', '\u034f'],
  ['INHIBIT SYMMETRIC SWAPPING', '\u206a'],
  ['ARABIC NUMBER SIGN', '\u0600'],
  ['MUSICAL SYMBOL BEGIN BEAM', '\u{1d173}'],
];

/** Every string in a value, keys included. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [...(Array.isArray(v) ? [] : [k]), ...strings(x)]);
}

/** Any string: control characters, invisible ones and lone surrogates come up often. */
const anyText = fc.array(
  fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.constantFrom(...UNSAFE_SAMPLES.map(([, c]) => c), '😀', 'é', '\\', '"', 'a'),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u)),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(''));

describe('escapeUnsafeText', () => {
  test.each(UNSAFE_SAMPLES)('%s is written out visibly', (_name, c) => {
    const shown = escapeUnsafeText(`a${c}b`);
    expect(shown).toBe(`a\\u{${c.codePointAt(0)!.toString(16)}}b`);
    expect(isSafeText(shown)).toBe(true);
    expect(isSafeText(`a${c}b`)).toBe(false);
  });

  test('other scripts, emoji and ordinary punctuation are left alone', () => {
    for (const text of ['grüße', 'ノード', 'مرحبا', '😀 ok', 'tab-free text: "quoted" \\ back', '']) {
      expect(escapeUnsafeText(text)).toBe(text);
      expect(isSafeText(text)).toBe(true);
    }
  });

  test('characters in keep stay (the CLI keeps its own line breaks); a surrogate pair is one character', () => {
    expect(escapeUnsafeText('one\ntwo\u001b[31m', '\n')).toBe('one\ntwo\\u{1b}[31m');
    expect(escapeUnsafeText('\ud83d\ude00\ud83d')).toBe('😀\\u{d83d}');
  });

  test('isSafeText holds after repeated calls (no regular-expression state carried over)', () => {
    expect([isSafeText('\u202e'), isSafeText('\u202e'), isSafeText('x'), isSafeText('\u009b')]).toEqual([false, false, true, false]);
  });

  test('property: the escaped text holds no control or invisible character', () => {
    fc.assert(fc.property(anyText, (s) => isSafeText(escapeUnsafeText(s))), { numRuns: 2000 });
  });

  test('property: JSON with the escapes parses to the same value and holds nothing unsafe', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const json = escapeUnsafeAsJson(JSON.stringify({ [s]: [s] }));
        expect(isSafeText(json)).toBe(true);
        expect(JSON.parse(json)).toEqual({ [s]: [s] });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('characters outside the Basic Multilingual Plane', () => {
  test('JSON and YAML carry a tag character as its surrogate pair, which parses back to it', () => {
    const value = { smuggled: 'ok\u{e0041}\u{e0042}' };
    const json = escapeUnsafeAsJson(JSON.stringify(value));
    expect(json).toContain('ok\\udb40\\udc41\\udb40\\udc42');
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe('the token schema uses the same definition', () => {
  test.each(UNSAFE_SAMPLES.filter(([, c]) => c !== '\n'))('a name holding %s is refused', (_name, c) => {
    expect(checkName(`name${c}x`)).toEqual(expect.any(String));
  });
});

describe('the audit stores no raw control or invisible character', () => {
  test.each(UNSAFE_SAMPLES)('%s in every field and in details (keys, values, nested, in arrays)', (_name, c) => {
    const t = `x${c}y`;
    const stored = boundAuditEvent({
      time: '2026-01-01T00:00:00.000Z',
      type: `join.${t}`,
      success: false,
      code: t,
      message: `role ${t} is not allowed`,
      tokenName: t,
      hostId: t,
      remoteAddr: t,
      details: { role: t, [t]: 1, nested: { issuer: `CN=${t}`, list: [t, { deeper: t }] } },
    });
    for (const s of strings(stored)) expect(isSafeText(s)).toBe(true);
    const escaped = `x\\u{${c.codePointAt(0)!.toString(16)}}y`;
    expect(stored.message).toBe(`role ${escaped} is not allowed`);
    expect(stored.details).toEqual({ role: escaped, [escaped]: 1, nested: { issuer: `CN=${escaped}`, list: [escaped, { deeper: escaped }] } });
  });

  test('property: whatever the strings, every stored string is safe', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        const stored = boundAuditEvent({ time: 't', type: a, success: false, message: b, tokenName: a, details: { [a]: b, x: [a, { [b]: a }] } });
        for (const s of strings(stored)) expect(isSafeText(s)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('escaping happens before the bound: a field of escapes is still cut to its limit', () => {
    const stored = boundAuditEvent({ time: 't', type: 't', success: false, tokenName: '\u202e'.repeat(1000) });
    expect(stored.tokenName!.length).toBeLessThanOrEqual(256);
    expect(stored.tokenName!.startsWith('\\u{202e}\\u{202e}')).toBe(true);
  });
});
