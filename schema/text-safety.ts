// Characters that change how text is shown rather than what it says. One definition for what
// input may hold (token fields, certificate subjects) and for what the server stores and the CLI
// prints of text it did not write (the audit, server answers on a terminal).
//
// - Control characters: C0 (ESC and BEL start terminal escape sequences), DEL, C1 (U+009B is a
//   one-character CSI on terminals that honour C1), and the Unicode line and paragraph separators.
// - Invisible characters: bidirectional marks, embeddings, overrides and isolates (U+202E shows
//   "exe.txt" as "txt.exe"), zero-width characters, word joiners and invisible operators, the
//   byte order mark, and lone surrogates (not text at all: no encoder can write them).

/** C0, DEL, C1, U+2028 and U+2029. */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/** Bidirectional controls, zero-width and other invisible characters, the BOM, lone surrogates. */
export const INVISIBLE_CHARS = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\p{Cs}/u;

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
 * reads the same. Everything else, other scripts and emoji included, is left as it is.
 */
export function escapeUnsafeText(text: string, keep = ''): string {
  return text.replace(UNSAFE, (c) => (keep.includes(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

/**
 * Serialized JSON or YAML with each control or invisible character as a `\uXXXX` escape: the
 * same value to a parser, nothing that acts on a terminal. Only characters inside quoted strings
 * may be escaped so, which is why the layout's line breaks are kept. Every character in the set
 * is a single UTF-16 unit, so four hex digits always do.
 */
export function escapeUnsafeAsJson(text: string): string {
  return text.replace(UNSAFE, (c) => (c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
