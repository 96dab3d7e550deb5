// The constructs' props follow the one declaration of the token's fields (schema/token-fields.ts):
// every declared field is a prop of the construct for the join methods that take it, camelCase,
// unless it is listed below with the reason it is not. A field added to the declaration fails
// here until the constructs take it (or the reason is written down).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { allFields } from '../../schema/token-fields';

const SOURCE = path.join(__dirname, '..', '..', 'constructs', 'join-token.ts');

/** Fields that are not props, and why. */
const NOT_PROPS: Record<string, string> = {
  kind: 'always token',
  version: 'always v2',
  sub_kind: 'always empty; accepted only for Teleport exports',
  'metadata.revision': 'assigned by the server',
  'metadata.namespace': 'always default; accepted only for Teleport exports',
  'spec.join_method': 'chosen by the construct class (Ec2JoinToken, IamJoinToken)',
  'spec.suggested_labels': 'stored only, no effect in Joinery yet',
  'spec.suggested_agent_matcher_labels': 'stored only, no effect in Joinery yet',
};

function interfaceMembers(): Map<string, string[]> {
  const sf = ts.createSourceFile(SOURCE, fs.readFileSync(SOURCE, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, string[]>();
  sf.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) out.set(node.name.text, node.members.filter(ts.isPropertySignature).map((m) => m.name.getText(sf)));
  });
  return out;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

test('every declared token field is a construct prop where its join methods are', () => {
  const members = interfaceMembers();
  const has = (iface: string, prop: string) => (members.get(iface) ?? []).includes(prop);
  const missing: string[] = [];
  for (const { path: p, field } of allFields()) {
    if (p in NOT_PROPS || p === 'metadata' || p === 'spec') continue;
    const name = camel(field.name);
    const methods = field.methods ?? ['token', 'ec2', 'iam'];
    let places: string[];
    if (p.startsWith('spec.allow.aws_organizational_units.')) places = ['AwsOrganizationalUnits'];
    else if (p.startsWith('spec.allow.')) places = [...(methods.includes('ec2') ? ['Ec2AllowRule'] : []), ...(methods.includes('iam') ? ['IamAllowRule'] : [])];
    else if (p === 'spec.allow') places = ['Ec2JoinTokenProps', 'IamJoinTokenProps'];
    else if (methods.length === 1 && methods[0] === 'ec2') places = ['Ec2JoinTokenOptions'];
    else places = ['JoinTokenProps'];
    for (const iface of places) if (!has(iface, name)) missing.push(`${p} -> ${iface}.${name}`);
  }
  expect(missing).toEqual([]);
});

test('the fields left out are still declared (the list does not rot)', () => {
  const declared = allFields().map((f) => f.path);
  expect(Object.keys(NOT_PROPS).filter((p) => !declared.includes(p))).toEqual([]);
});
