// The event catalogue and its schemas: one stable code per type and outcome, a schema for every
// type, and docs/audit-schemas/ exactly what the code generates.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { eventCode, eventTypes } from '../../api/audit/catalog';
import { bundleSchema, eventSchema, eventTypeTable, schemaFiles, withEventTypeTable } from '../../api/audit/schemas';
import { REPO_ROOT } from '../support/server';

const DOCS = path.join(REPO_ROOT, 'docs', 'audit-schemas');

test('docs/audit-schemas holds exactly the generated schemas (regenerate: npm run gen:audit-schemas)', () => {
  const files = schemaFiles();
  expect(fs.readdirSync(DOCS).sort()).toEqual([...files.keys()].sort());
  for (const [name, text] of files) expect(`${name}: ${fs.readFileSync(path.join(DOCS, name), 'utf8')}`).toBe(`${name}: ${text}`);
});

test('docs/audit.md carries the generated table of event types and codes (npm run gen:audit-schemas)', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'audit.md'), 'utf8');
  expect(doc).toContain(`<!-- audit-event-types -->\n${eventTypeTable()}\n<!-- /audit-event-types -->`);
  expect(withEventTypeTable(doc)).toBe(doc);
});

test('event codes are unique, well formed, and name the outcome', () => {
  const codes = eventTypes().flatMap((t) => [t.accepted, t.refused]).filter((c): c is string => c !== undefined);
  expect(new Set(codes).size).toBe(codes.length);
  for (const c of codes) expect(c).toMatch(/^J[A-Z]\d{3}[IW]$/);
  for (const t of eventTypes()) {
    if (t.accepted) expect(eventCode(t.type, true)).toMatch(/I$/);
    if (t.refused) expect(eventCode(t.type, false)).toMatch(/W$/);
  }
  expect(eventCode('some.future.type', false)).toBe('JX000W');
});

test('every schema compiles under strict draft 2020-12, and holds its type to its outcomes', () => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  const bundle = ajv.compile(bundleSchema());
  for (const t of eventTypes()) {
    const one = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(eventSchema(t));
    const base = { id: 7, time: '2026-12-04T03:00:00.123Z', type: t.type, tokenName: 'ec2-token', hostId: 'h', remoteAddr: '10.0.0.1' };
    if (t.accepted) {
      const ok = { ...base, eventCode: t.accepted, success: true };
      expect([one(ok), bundle(ok)]).toEqual([true, true]);
      expect(one({ ...ok, code: 'x' })).toBe(false); // an accepted event carries no refusal code
      expect(one({ ...ok, eventCode: t.refused ?? 'JX000W' })).toBe(false);
    }
    if (t.refused) {
      const refused = { ...base, eventCode: t.refused, success: false, code: 'some_code', message: 'why' };
      expect([one(refused), bundle(refused)]).toEqual([true, true]);
      const { code: _code, ...noCode } = refused;
      expect(one(noCode)).toBe(false); // a refusal always says which
    }
    expect(one({ ...base, eventCode: t.accepted ?? t.refused, success: !!t.accepted, extra: 1 })).toBe(false);
  }
});

test('join details: the fields written today and the identity and per-rule results both validate; blobs do not', () => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  const ec2 = ajv.compile(eventSchema(eventTypes().find((t) => t.type === 'join.ec2')!));
  const base = { id: 1, time: '2026-12-04T03:00:00Z', type: 'join.ec2', eventCode: 'JJ002W', success: false, code: 'ec2_rule_mismatch' };
  expect(ec2({ ...base, details: { role: 'Node', account: '111111111111', region: 'eu-west-1', instance_id: 'i-0abc', pending_time: '2026-12-04T02:59:00Z' } })).toBe(true);
  const rules = Array.from({ length: 16 }, (_, index) => ({ index, matched: false, failures: [`aws_regions [us-west-1] does not include eu-west-1`] }));
  const withIdentity = { method: 'ec2', role: 'Node', identity: { aws_account: '111111111111', aws_region: 'eu-west-1', instance_id: 'i-0abc', image_id: 'ami-1' }, rules: [...rules, '[240 more]'] };
  expect(ec2({ ...base, details: withIdentity })).toBe(true);
  expect(ec2({ ...base, details: { ...withIdentity, rules: [{ index: 0, matched: 'no' }] } })).toBe(false);
  expect(ec2({ ...base, details: { document: { nested: true } } })).toBe(false);
  expect(ec2({ ...base, details: { truncated: 'cut…[truncated]' } })).toBe(true); // the store's bound on details
});
