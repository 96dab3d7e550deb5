// CaSigningKey: the KMS key the cluster CA signs with, its alias, its key policy and the IAM
// policy that lets the server's role sign; every bad prop refused naming the prop.

import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { TerraformOutput, Testing, TerraformStack } from 'cdktf';
import { CaSigningKey, IamPropsError, RoleReference } from '../../constructs';
import { only, ref, resources, synth } from './synth';

function stack(): TerraformStack {
  const s = new TerraformStack(Testing.app(), 'ca');
  new AwsProvider(s, 'aws', { region: 'us-east-1' });
  return s;
}

test('an ECC_NIST_P256 SIGN_VERIFY key, its alias, AWS\'s default key policy and a signing policy on the server role', () => {
  let key!: CaSigningKey;
  const s = synth((scope) => {
    key = new CaSigningKey(scope, 'ca-key', { accountId: '111122223333', partition: 'aws', serverRoles: ['joinery-server'] });
  });
  const kms = only(s, 'aws_kms_key');
  expect(kms).toMatchObject({ customer_master_key_spec: 'ECC_NIST_P256', key_usage: 'SIGN_VERIFY', deletion_window_in_days: 30, description: 'Joinery cluster CA signing key (ECDSA P-256)' });
  expect(JSON.parse(kms.policy)).toEqual({
    Version: '2012-10-17',
    Statement: [{ Sid: 'EnableIamPolicies', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }],
  });
  expect(only(s, 'aws_kms_alias')).toEqual({ name: 'alias/joinery-ca', target_key_id: ref(key.key, 'key_id') });
  const policy = only(s, 'aws_iam_policy');
  expect(policy.name).toBe('joinery-ca-signing');
  expect(JSON.parse(policy.policy)).toEqual({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'ReadCaPublicKey', Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: ref(key.key, 'arn') },
      { Sid: 'SignWithCaKey', Effect: 'Allow', Action: 'kms:Sign', Resource: ref(key.key, 'arn'), Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' } } },
    ],
  });
  expect(only(s, 'aws_iam_role_policy_attachment')).toEqual({ role: 'joinery-server', policy_arn: ref(key.signingPolicy.policy, 'arn') });
  expect(s.json.data).toBeUndefined(); // account and partition given: no lookups
});

test('the account and partition come from the provider when not given; the setting names the key ARN', () => {
  let key!: CaSigningKey;
  const s = synth((scope) => {
    key = new CaSigningKey(scope, 'ca-key');
    new TerraformOutput(scope, 'setting', { value: key.caKeySetting });
  });
  expect(Object.keys(s.json.data ?? {}).sort()).toEqual(['aws_caller_identity', 'aws_partition']);
  expect(JSON.parse(only(s, 'aws_kms_key').policy).Statement[0].Principal.AWS).toMatch(/^arn:\$\{data\.aws_partition\.[\w-]+\.partition\}:iam::\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}:root$/);
  expect(resources(s, 'aws_iam_role_policy_attachment')).toEqual([]);
  expect((s.json as { output?: Record<string, { value: string }> }).output?.setting.value).toBe(`awskms:${ref(key.key, 'arn')}`);
});

test('roles by L1, by imported ARN and through grantSign; options reach the resources', () => {
  const s = stack();
  const role = new IamRole(s, 'server', { name: 'joinery', assumeRolePolicy: '{}' });
  const key = new CaSigningKey(s, 'ca-key', {
    aliasName: 'alias/prod/joinery-ca',
    deletionWindowInDays: 7,
    multiRegion: true,
    description: 'prod CA',
    tags: { team: 'platform' },
    accountId: '111122223333',
    serverRoles: [role],
    signingPolicy: { name: 'prod-ca-signing', path: '/joinery/', attachToUsers: ['ci'] },
  });
  key.grantSign(RoleReference.fromRoleArn(s, 'imported', 'arn:aws:iam::111122223333:role/ops/replica'));
  const out = JSON.parse(Testing.synth(s));
  const r = (t: string) => Object.values(out.resource[t] as Record<string, Record<string, unknown>>);
  expect(r('aws_kms_key')[0]).toMatchObject({ deletion_window_in_days: 7, multi_region: true, description: 'prod CA', tags: { team: 'platform' } });
  expect(r('aws_kms_alias')[0]).toMatchObject({ name: 'alias/prod/joinery-ca' });
  expect(r('aws_iam_policy')[0]).toMatchObject({ name: 'prod-ca-signing', path: '/joinery/', tags: { team: 'platform' } });
  expect(r('aws_iam_role_policy_attachment').map((a) => a.role)).toEqual([ref(role, 'name'), 'replica']);
  expect(r('aws_iam_user_policy_attachment').map((a) => a.user)).toEqual(['ci']);
});

test.each([
  [{ aliasName: 'joinery-ca' }, /ca-key: aliasName must be "alias\/" and 1-250 letters/],
  [{ aliasName: 'alias/aws/joinery' }, /ca-key: aliasName must not start with "alias\/aws\/"/],
  [{ aliasName: 'alias/has space' }, /aliasName must be/],
  [{ deletionWindowInDays: 3 }, /ca-key: deletionWindowInDays must be a whole number of days from 7 to 30 \(got 3\)/],
  [{ deletionWindowInDays: 7.5 }, /deletionWindowInDays must be/],
  [{ accountId: '1234' }, /ca-key: accountId /],
  [{ tags: { 'aws:x': 'y' } }, /ca-key: tags\["aws:x"\] key must be/],
  [{ serverRoles: ['bad role name'] }, /roleName must be 1-64 characters/],
  [{ signingPolicy: { name: 'bad name!' } }, /SigningPolicy: name must be/],
])('refuses %j naming the prop', (props, message) => {
  expect(() => new CaSigningKey(stack(), 'ca-key', props)).toThrow(IamPropsError);
  expect(() => new CaSigningKey(stack(), 'ca-key', props)).toThrow(message);
});
