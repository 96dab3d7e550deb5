// A small strict XML reader for the one document shape STS answers with: an optional XML
// declaration, then one element tree of elements and text (entities decoded), then nothing.
// Comments, CDATA, DOCTYPE and processing instructions are refused: STS sends none, and a
// DOCTYPE is how entity-expansion attacks start.

export class StrictXmlError extends Error {}

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data; only meaningful for leaf elements. */
  text: string;
}

const MAX_DEPTH = 16;
const MAX_ELEMENTS = 256;
const NAME_RE = /[A-Za-z_][A-Za-z0-9._:-]*/y;
const DECL_RE = /^<\?xml\s+version\s*=\s*(["'])1\.[0-9]\1(?:\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\3)?\s*\?>/;
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(raw: string, fail: (what: string) => never): string {
  return raw.replace(/&([^;]{0,10});?/g, (all, ref: string) => {
    if (!all.endsWith(';')) fail('unterminated entity reference');
    if (ref in NAMED_ENTITIES) return NAMED_ENTITIES[ref];
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (!m) fail(`unknown entity &${ref};`);
    const cp = m![1] !== undefined ? parseInt(m![1], 16) : parseInt(m![2], 10);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail('invalid character reference');
    return String.fromCodePoint(cp);
  });
}

export function parseStrictXml(text: string): XmlElement {
  let pos = 0;
  let count = 0;
  const fail = (what: string): never => {
    throw new StrictXmlError(`${what} at offset ${pos}`);
  };
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos++;
  };
  const name = (): string => {
    NAME_RE.lastIndex = pos;
    const m = NAME_RE.exec(text);
    if (!m) return fail('expected a name');
    pos += m[0].length;
    return m[0];
  };

  const element = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    if (++count > MAX_ELEMENTS) fail('too many elements');
    if (text[pos] !== '<') fail('expected an element');
    pos++;
    const el: XmlElement = { name: name(), attributes: Object.create(null), children: [], text: '' };
    for (;;) {
      const before = pos;
      ws();
      if (text.startsWith('/>', pos)) {
        pos += 2;
        return el;
      }
      if (text[pos] === '>') {
        pos++;
        break;
      }
      if (pos === before) fail('expected white space before an attribute');
      const attr = name();
      ws();
      if (text[pos++] !== '=') fail('expected = after an attribute name');
      ws();
      const quote = text[pos++];
      if (quote !== '"' && quote !== "'") fail('expected a quoted attribute value');
      const end = text.indexOf(quote, pos);
      if (end < 0) fail('unterminated attribute value');
      const raw = text.slice(pos, end);
      if (raw.includes('<')) fail('< in an attribute value');
      if (attr in el.attributes) fail(`duplicate attribute ${attr}`);
      el.attributes[attr] = decodeEntities(raw, fail);
      pos = end + 1;
    }
    // Content: character data and child elements, until the matching end tag.
    let rawText = '';
    for (;;) {
      if (pos >= text.length) fail(`unclosed element <${el.name}>`);
      const lt = text.indexOf('<', pos);
      if (lt < 0) fail(`unclosed element <${el.name}>`);
      rawText += text.slice(pos, lt);
      pos = lt;
      if (text.startsWith('</', pos)) {
        pos += 2;
        const closing = name();
        if (closing !== el.name) fail(`</${closing}> does not close <${el.name}>`);
        ws();
        if (text[pos++] !== '>') fail('expected > in an end tag');
        break;
      }
      if (text[pos + 1] === '!' || text[pos + 1] === '?') fail('comments, CDATA, DOCTYPE and processing instructions are not accepted');
      el.children.push(element(depth + 1));
    }
    if (rawText.includes(']]>')) fail(']]> in character data');
    el.text = decodeEntities(rawText, fail);
    if (el.children.length > 0 && el.text.trim() !== '') fail(`<${el.name}> mixes text and elements`);
    return el;
  };

  const decl = DECL_RE.exec(text);
  if (decl) pos = decl[0].length;
  ws();
  const root = element(0);
  ws();
  if (pos !== text.length) fail('trailing data after the root element');
  return root;
}
