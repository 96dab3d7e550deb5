// Characters that change how text is shown rather than what it says. One definition for what
// input may hold (token fields, certificate subjects) and for what the server stores and the CLI
// prints of text it did not write (the audit, server answers on a terminal).
//
// - Control characters: C0 (ESC and BEL start terminal escape sequences), DEL, C1 (U+009B is a
//   one-character CSI on terminals that honour C1), and the Unicode line and paragraph separators.
// - Invisible characters, by Unicode property rather than by a list, so a character not thought of
//   is covered too: every format character (Cf: bidirectional marks, embeddings, overrides and
//   isolates, zero-width characters, word joiners, invisible operators, the BOM, interlinear
//   annotations U+FFF9-FFFB, tag characters U+E0001-E007F, the soft hyphen), every default
//   ignorable code point (what a renderer shows as nothing: Hangul fillers U+115F/U+3164/U+FFA0,
//   variation selectors, the combining grapheme joiner), and lone surrogates (not text at all: no
//   encoder can write them). Emoji sequences built with a zero-width joiner, a variation selector
//   or tags are shown with those parts written out: the price of showing every hidden character.

/** C0, DEL, C1, U+2028 and U+2029. */
export const CONTROL_CHARS = /[\p{Cc}\u2028\u2029]/u;

/** Format characters, default ignorable code points (invisible when rendered), lone surrogates. */
export const INVISIBLE_CHARS = /[\p{Cf}\p{Default_Ignorable_Code_Point}]|\p{Cs}/u;

// With the u flag a character class reads a surrogate pair as one code point, so \p{Cs} matches
// only a lone surrogate and an emoji is left alone.
const UNSAFE = new RegExp(`${CONTROL_CHARS.source}|${INVISIBLE_CHARS.source}`, 'gu');

/** True when `text` holds no control or invisible character. */
export function isSafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return !UNSAFE.test(text);
}

/**
 * `text` with every control or invisible character written out visibly as `\u{202e}`, except the
 * characters in `keep` (the CLI keeps the line breaks of its own multi-line messages). For
 * display and for the audit, not a reversible encoding: a literal `\u{202e}` typed by a client
 * reads the same. Everything else, other scripts and single emoji included, is left as it is.
 */
export function escapeUnsafeText(text: string, keep = ''): string {
  return text.replace(UNSAFE, (c) => (keep.includes(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

/**
 * Serialized JSON or YAML with each control or invisible character as a `\uXXXX` escape: the
 * same value to a parser, nothing that acts on a terminal. Only characters inside quoted strings
 * may be escaped so, which is why the layout's line breaks are kept. A character outside the
 * Basic Multilingual Plane (a tag character) is written as its surrogate pair, `\udb40\udc01`, the
 * only way JSON and YAML escape it in four hex digits.
 */
export function escapeUnsafeAsJson(text: string): string {
  const unit = (u: number) => `\\u${u.toString(16).padStart(4, '0')}`;
  return text.replace(UNSAFE, (c) => (c === '\n' ? c : Array.from({ length: c.length }, (_, i) => unit(c.charCodeAt(i))).join('')));
}
