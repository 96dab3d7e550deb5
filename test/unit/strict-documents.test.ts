// Strict reading of JSON and YAML documents: what common parsers let through silently is refused.

import fc from 'fast-check';
import { decodeUtf8Strict, DocumentError, parseJsonStrict, parseYamlStrict } from '../../schema/strict-documents';

function refusal(fn: () => unknown): DocumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DocumentError);
    return e as DocumentError;
  }
  throw new Error('accepted');
}

describe('JSON', () => {
  test('duplicate keys at any depth are refused with their path', () => {
    const cases: [string, string][] = [
      ['{"a":1,"a":2}', 'a'],
      ['{"metadata":{"name":"x","name":"y"}}', 'metadata.name'],
      ['{"spec":{"allow":[{"aws_account":"1"},{"aws_account":"1","aws_account":"2"}]}}', 'spec.allow[1].aws_account'],
      ['{"metadata":{"labels":{"teleport.dev/origin":"a","teleport.dev/origin":"b"}}}', 'metadata.labels["teleport.dev/origin"]'],
      ['{"a":"\\"}{,","a":1}', 'a'],
      ['{"k\\u0041":1,"kA":2}', 'kA'],
      ['[{"x":[1,{"y":0,"y":0}]}]', '[0].x[1].y'],
    ];
    for (const [text, field] of cases) {
      const e = refusal(() => parseJsonStrict(text));
      expect({ text, code: e.code, field: e.field }).toEqual({ text, code: 'duplicate_key', field });
    }
  });
  test('equal keys in different objects are fine', () => {
    expect(parseJsonStrict('{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}')).toEqual({ a: { x: 1 }, b: { x: 2 }, c: [{ x: 1 }, { x: 2 }] });
  });
  test('syntax errors stay invalid_json; deep nesting is an error, not a crash', () => {
    expect(refusal(() => parseJsonStrict('{"a":')).code).toBe('invalid_json');
    expect(() => parseJsonStrict('['.repeat(100_000) + ']'.repeat(100_000))).not.toThrow(TypeError);
  });
  test('fuzz: on any JSON text the result equals JSON.parse unless a key repeats', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (v, dup) => {
        let text = JSON.stringify(v);
        if (dup) text = text.replace(/^\{"([^"\\]*)":/, '{"$1":0,"$1":');
        let out: unknown;
        try {
          out = parseJsonStrict(text);
        } catch (e) {
          expect((e as DocumentError).code).toBe('duplicate_key');
          expect(dup).toBe(true);
          return;
        }
        expect(out).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });
});

describe('YAML', () => {
  test.each([
    ['!!js/function', 'a: !!js/function "function () {}"\n', 'a'],
    ['a local tag', 'spec:\n  roles: [!custom Node]\n', 'spec.roles[0]'],
    ['!!timestamp (YAML 1.1, not core)', 'expires: !!timestamp 2030-01-01\n', 'expires'],
    ['!!binary', 'b: !!binary aGk=\n', 'b'],
    ['!!set on a map', 's: !!set {a, b}\n', 's'],
    ['a tag on a key', '!!js/regexp k: v\n', undefined],
  ])('%s is refused', (_name, text, field) => {
    const e = refusal(() => parseYamlStrict(text));
    expect(e.code).toBe('unsupported_yaml_tag');
    if (field) expect(e.field).toBe(field);
  });

  test('core tags and the non-specific tag are accepted', () => {
    expect(parseYamlStrict('a: !!str 5\nb: !!int "7"\nc: ! x\nd: !!map {e: !!seq [!!null ~, !!bool true, !!float 1.5]}\n')[0].value).toEqual({ a: '5', b: 7, c: 'x', d: { e: [null, true, 1.5] } });
  });

  test('duplicate keys are refused with their path, in block and flow style', () => {
    expect(refusal(() => parseYamlStrict('metadata:\n  name: a\n  name: b\n')).field).toBe('metadata.name');
    expect(refusal(() => parseYamlStrict('spec: {roles: [Node], roles: [Proxy]}\n')).field).toBe('spec.roles');
    expect(refusal(() => parseYamlStrict('1: a\n"1": b\n')).code).toBe('duplicate_key');
  });

  test('complex keys, syntax errors, alias bombs', () => {
    expect(refusal(() => parseYamlStrict('? [a, b]\n: c\n')).code).toBe('invalid_yaml');
    expect(refusal(() => parseYamlStrict('a: [\n')).code).toBe('invalid_yaml');
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`)].join('\n');
    expect(refusal(() => parseYamlStrict(bomb)).code).toBe('invalid_yaml');
  });

  test('several documents keep their position; an empty stream has none', () => {
    expect(parseYamlStrict('a: 1\n---\nb: 2\n').map((d) => d.index)).toEqual([1, 2]);
    expect(parseYamlStrict('# only a comment\n')).toEqual([]);
    expect(refusal(() => parseYamlStrict('a: 1\n---\nb: !x 2\n')).message).toMatch(/document 2/);
  });

  test('fuzz: arbitrary text either parses or is refused with a DocumentError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', ',', '!', '&', '*', '"', "'", '?', '|', '>', '#', '%', '@', '`', '\t', 'b', '1') }), (text) => {
        try {
          parseYamlStrict(text);
        } catch (e) {
          expect(e).toBeInstanceOf(DocumentError);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('UTF-8', () => {
  test('invalid sequences are refused with their offset, never replaced', () => {
    for (const [bytes, at] of [
      [[0x61, 0xff, 0x62], 1],
      [[0xed, 0xa0, 0x80], 1],
      [[0xc0, 0xaf], 0],
    ] as [number[], number][]) {
      const e = refusal(() => decodeUtf8Strict(Uint8Array.from(bytes)));
      expect([e.code, e.message]).toEqual(['invalid_encoding', `the body is not valid UTF-8 (invalid byte sequence at offset ${at})`]);
    }
    expect(refusal(() => decodeUtf8Strict(Uint8Array.from([0x61, 0x62, 0xc3]))).message).toMatch(/ends inside a multi-byte sequence/);
    expect(decodeUtf8Strict(Buffer.from('été 🚀'))).toBe('été 🚀');
  });
});
