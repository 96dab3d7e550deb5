// The cty msgpack codec and the planning rules, without a process or an API.

import { decode, encode, ExtData } from '@msgpack/msgpack';
import { ctyEqual, decodeJson, decodeMsgpack, encodeMsgpack, isWhollyKnown, UNKNOWN, type CtyObject, type CtyType } from '../../provider/cty';
import { parseFieldPath } from '../../provider/diagnostics';
import { planToken } from '../../provider/resource';
import { validateResourceConfig } from '../../provider/token-state';

const T: CtyType = ['object', { a: 'string', n: 'number', b: 'bool', l: ['list', 'string'], m: ['map', 'string'], o: ['object', { x: 'string' }] }];

describe('msgpack codec', () => {
  test('every object attribute is encoded, absent ones as nil', () => {
    expect(decode(encodeMsgpack({ a: 'x' }, T))).toEqual({ a: 'x', n: null, b: null, l: null, m: null, o: null });
  });

  test('round trip of known values', () => {
    const v = { a: 'x', n: 1.5, b: true, l: ['p', 'q'], m: { k: 'v' }, o: { x: 'y' } };
    expect(decodeMsgpack(encodeMsgpack(v, T), T)).toEqual(v);
  });

  test('unknown is fixext1 type 0; every extension type decodes as unknown', () => {
    const bytes = encodeMsgpack({ a: UNKNOWN }, T);
    const raw = decode(bytes) as Record<string, unknown>;
    expect(raw.a).toBeInstanceOf(ExtData);
    expect((raw.a as ExtData).type).toBe(0);
    for (const type of [0, 12, 5]) {
      const v = decodeMsgpack(encode({ a: new ExtData(type, new Uint8Array([1, 2])), l: ['p', new ExtData(type, new Uint8Array([0]))] }), T) as CtyObject;
      expect(v.a).toBe(UNKNOWN);
      expect(v.l).toEqual(['p', UNKNOWN]);
      expect(isWhollyKnown(v)).toBe(false);
    }
  });

  test('a whole unknown object or list', () => {
    const v = decodeMsgpack(encode({ o: new ExtData(0, new Uint8Array([0])), l: new ExtData(12, new Uint8Array([0x80])) }), T) as CtyObject;
    expect(v.o).toBe(UNKNOWN);
    expect(v.l).toBe(UNKNOWN);
  });

  test('JSON state fills missing attributes and drops unknown ones', () => {
    expect(decodeJson(Buffer.from('{"a":"x","gone":1}'), T)).toEqual({ a: 'x', n: null, b: null, l: null, m: null, o: null });
  });

  test('wrong types are rejected, not coerced', () => {
    expect(() => decodeMsgpack(encode({ a: 5 }), T)).toThrow(/a: expected string/);
  });

  test('ctyEqual', () => {
    expect(ctyEqual({ a: ['x'] }, { a: ['x'] })).toBe(true);
    expect(ctyEqual({ a: ['x'] }, { a: ['y'] })).toBe(false);
    expect(ctyEqual(UNKNOWN, 'x')).toBe(false);
  });
});

describe('field paths of the token schema', () => {
  test('become attribute steps', () => {
    expect(parseFieldPath('spec.allow[1].aws_regions[0]')).toEqual(['spec', 'allow', 1, 'aws_regions', 0]);
    expect(parseFieldPath('metadata.labels["a.b/c"]')).toEqual(['metadata', 'labels', { key: 'a.b/c' }]);
    expect(parseFieldPath('')).toEqual([]);
  });
});

describe('planning', () => {
  const base = (spec: Partial<CtyObject>, metadata: CtyObject | null = { name: 't', description: null, labels: null, expires: null }): CtyObject => ({
    id: null,
    kind: null,
    version: 'v2',
    labels: null,
    metadata,
    spec: { roles: ['Node'], join_method: null, bot_name: null, aws_iid_ttl: null, allow: null, ...spec },
  });
  const rule = { aws_account: '111111111111', aws_regions: null, aws_role: null, aws_arn: null };

  test('inferred ec2 gets the default TTL; switching to iam drops the TTL the prior state had', () => {
    const cfg = base({ allow: [rule] });
    const created = planToken(null, cfg, cfg).planned as CtyObject;
    expect(created.spec).toMatchObject({ join_method: 'ec2', aws_iid_ttl: '5m' });

    const iam = base({ join_method: 'iam', allow: [{ ...rule, aws_arn: 'arn:aws:iam::111111111111:role/x' }] });
    const proposed = { ...iam, spec: { ...(iam.spec as CtyObject), aws_iid_ttl: '5m' } }; // Terraform keeps optional+computed values
    const updated = planToken(created, proposed, iam);
    expect((updated.planned as CtyObject).spec).toMatchObject({ join_method: 'iam', aws_iid_ttl: null });
    expect(updated.requiresReplace).toEqual([]);
  });

  test('an unknown allow list leaves join_method and aws_iid_ttl unknown', () => {
    const cfg = base({ allow: UNKNOWN });
    const planned = planToken(null, cfg, cfg).planned as CtyObject;
    expect(planned.spec).toMatchObject({ join_method: UNKNOWN, aws_iid_ttl: UNKNOWN });
    expect(planned.id).toBe(UNKNOWN); // the ID depends on the join method (a token-method name is a secret)
  });

  test('an unknown name is unknown in the plan, as is the id, and forces replacement of an existing token', () => {
    const prior = { ...(planToken(null, base({}), base({})).planned as CtyObject) };
    const cfg = base({}, { name: UNKNOWN, description: null, labels: null, expires: null });
    const r = planToken(prior, cfg, cfg);
    expect((r.planned as CtyObject).id).toBe(UNKNOWN);
    expect(r.requiresReplace).toEqual([['metadata', 'name']]);
  });

  test('conflicting top-level and metadata labels are reported on the alias', () => {
    const cfg = { ...base({}, { name: 'label-conflict-secret', description: null, labels: { a: '1' }, expires: null }), labels: { a: '2' } };
    expect(validateResourceConfig(cfg).map((d) => d.path)).toEqual([['labels', { key: 'a' }]]);
  });
});
