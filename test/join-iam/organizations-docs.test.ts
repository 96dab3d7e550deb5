// docs/iam.md's AWS Organizations section stays true: its token example passes the rules and
// admits what the text says, and its IAM policy grants the calls the server makes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { admitByIamRules, type AccountOrganization, type IamAllowRule } from '../../api/join/iam/organizations';
import { checkOrganizationRule } from '../../schema/aws-organizations';

const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'iam.md'), 'utf8');
const section = doc.slice(doc.indexOf('### AWS Organizations rules'), doc.indexOf('### Refusal codes'));

test('the example rules pass the organization rules', () => {
  const token = YAML.parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]);
  for (const rule of token.spec.allow) expect(checkOrganizationRule(rule, token.spec.join_method)).toEqual([]);
});

test('the example admits members of the organization and refuses others', async () => {
  const token = YAML.parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]);
  const rules = token.spec.allow as IamAllowRule[];
  const answers: Record<string, AccountOrganization> = {
    '111111111111': { member: true, organizationId: 'o-a1b2c3d4e5', managementAccount: '999999999999', ancestry: ['ou-ab12-sandbox1', 'ou-ab12-prod0001', 'r-ab12'] },
    '222222222222': { member: true, organizationId: 'o-zzzzzzzzzz', managementAccount: '999999999999', ancestry: ['r-zz12'] },
  };
  const lookup = { account: async (_p: string, a: string) => answers[a] ?? { member: false as const } };
  const arn = (a: string) => `arn:aws:sts::${a}:assumed-role/teleport-node-role/i-0abc`;
  await expect(admitByIamRules(rules, { account: '111111111111', arn: arn('111111111111') }, { lookup })).resolves.toBe(rules[0]);
  await expect(admitByIamRules(rules, { account: '222222222222', arn: arn('222222222222') }, { lookup })).rejects.toMatchObject({ code: 'aws_organization_not_allowed' });
  // The second rule alone: the sandbox OU is excluded although it is under prod.
  await expect(admitByIamRules([rules[1]], { account: '111111111111', arn: arn('111111111111') }, { lookup })).rejects.toMatchObject({ code: 'aws_organization_not_allowed' });
});

test('the IAM policy grants exactly the calls the server makes', () => {
  const policy = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]);
  expect(policy.Statement[0].Action.sort()).toEqual(['organizations:DescribeAccount', 'organizations:ListParents']);
});
