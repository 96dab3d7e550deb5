// docs/iam.md stays true: its token example is valid and means what it says, and it lists every
// refusal code the server can give.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { matchIamRules } from '../../api/join/iam/arn-glob';
import { IAM_REFUSAL_CODES } from '../../api/join/iam/join-iam';
import { parseToken } from '../../schema/token';

const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'iam.md'), 'utf8');

test('the token example parses and admits what the text says', () => {
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1];
  const token = parseToken(YAML.parse(yaml));
  expect(token.spec.join_method).toBe('iam');
  const rules = token.spec.allow!;
  expect(matchIamRules(rules, { account: '111111111111', arn: 'arn:aws:iam::111111111111:user/anyone' }).ok).toBe(true);
  expect(matchIamRules(rules, { account: '333333333333', arn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0abc' }).ok).toBe(true);
  expect(matchIamRules(rules, { account: '333333333333', arn: 'arn:aws:sts::333333333333:assumed-role/other/i-0abc' })).toEqual({ ok: false, reason: 'arn' });
  expect(matchIamRules(rules, { account: '444444444444', arn: 'arn:aws:iam::444444444444:user/x' })).toEqual({ ok: false, reason: 'account' });
});

test('every refusal code is documented with its status, and nothing else', () => {
  const documented = Object.fromEntries([...doc.matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
  const declared = Object.fromEntries(Object.entries(IAM_REFUSAL_CODES).map(([code, r]) => [code, r.status]));
  expect(documented).toEqual(declared);
});
