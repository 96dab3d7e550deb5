// The write-time rules of an IAM allow rule's AWS Organizations fields, written from Teleport's
// lib/auth validateProvisionToken (and its TestValidateProvisionToken table) and
// lib/utils/aws/organizations (OrganizationalUnitsMatch), plus AWS's ID formats.

import { checkOrganizationRule, hasOrganizationConditions, organizationFieldsOf, ouAncestryMatches } from '../../schema/aws-organizations';

const ORG = 'o-a1b2c3d4e5';
const ROOT = 'r-ab12';
const OU = 'ou-ab12-cdef3456';
const OU2 = 'ou-ab12-99998888';

const fields = (raw: unknown, method?: string) => checkOrganizationRule(raw, method).map((e) => e.field);

describe('accepted (Teleport accepts these)', () => {
  test.each([
    ['organization alone', { aws_organization_id: ORG }],
    ['organization with aws_account', { aws_account: '123456789012', aws_organization_id: ORG }],
    ['wildcard include', { aws_organization_id: ORG, aws_organizational_units: { include: ['*'] } }],
    ['explicit include and exclude', { aws_organization_id: ORG, aws_organizational_units: { include: [OU], exclude: [OU2] } }],
    ['the root in include', { aws_organization_id: ORG, aws_organizational_units: { include: [ROOT] } }],
    ['wildcard include with an exclude', { aws_organization_id: ORG, aws_organizational_units: { include: ['*'], exclude: [OU] } }],
    ['an empty matcher counts as none', { aws_organization_id: ORG, aws_organizational_units: {} }],
    ['empty lists count as none, even without an organization', { aws_account: '123456789012', aws_organizational_units: { include: [], exclude: [] } }],
    ['no organization fields at all', { aws_account: '123456789012' }],
  ])('%s', (_name, rule) => {
    expect(checkOrganizationRule(rule)).toEqual([]);
  });
});

describe('refused as Teleport refuses them', () => {
  test('OU matchers on an ec2 token', () => {
    expect(fields({ aws_account: '123456789012', aws_organizational_units: { include: [OU] } }, 'ec2')).toEqual(['aws_organizational_units']);
    expect(checkOrganizationRule({ aws_account: '123456789012', aws_organizational_units: { exclude: [OU] } }, 'ec2')[0].message).toMatch(/only valid for join_method iam/);
  });

  test('OU matchers without aws_organization_id', () => {
    const errors = checkOrganizationRule({ aws_account: '123456789012', aws_organizational_units: { include: [OU] } });
    expect(errors).toEqual([{ field: 'aws_organizational_units', message: expect.stringMatching(/needs aws_organization_id/) }]);
  });

  test('exclude without include', () => {
    const errors = checkOrganizationRule({ aws_organization_id: ORG, aws_organizational_units: { exclude: [OU] } });
    expect(errors).toEqual([{ field: 'aws_organizational_units.include', message: expect.stringMatching(/at least one entry/) }]);
  });

  test('wildcard mixed with other include entries', () => {
    expect(fields({ aws_organization_id: ORG, aws_organizational_units: { include: ['*', OU] } })).toEqual(['aws_organizational_units.include']);
  });

  test('wildcard in exclude', () => {
    expect(fields({ aws_organization_id: ORG, aws_organizational_units: { include: [OU], exclude: ['*'] } })).toEqual(['aws_organizational_units.exclude[0]']);
  });
});

describe('stricter than Teleport, with a reason', () => {
  test.each([
    ['an organization ID too short (never an AWS ID)', { aws_organization_id: 'o-123abcd' }, ['aws_organization_id']],
    ['an organization ID in upper case', { aws_organization_id: 'o-A1B2C3D4E5' }, ['aws_organization_id']],
    ['an organization ID that is not a string', { aws_organization_id: 12 }, ['aws_organization_id']],
    ['an account ID in include', { aws_organization_id: ORG, aws_organizational_units: { include: ['123456789012'] } }, ['aws_organizational_units.include[0]']],
    ['a malformed OU ID', { aws_organization_id: ORG, aws_organizational_units: { include: ['ou-1234'] } }, ['aws_organizational_units.include[0]']],
    ['a duplicate entry', { aws_organization_id: ORG, aws_organizational_units: { include: [OU, OU] } }, ['aws_organizational_units.include[1]']],
    ['an unknown key in the matcher', { aws_organization_id: ORG, aws_organizational_units: { include: [OU], only: [OU] } }, ['aws_organizational_units.only']],
    ['a matcher that is a list', { aws_organization_id: ORG, aws_organizational_units: [OU] }, ['aws_organizational_units']],
    ['include that is a string', { aws_organization_id: ORG, aws_organizational_units: { include: OU } }, ['aws_organizational_units.include']],
    ['too many entries', { aws_organization_id: ORG, aws_organizational_units: { include: Array.from({ length: 101 }, (_, i) => `ou-ab12-${String(i).padStart(8, '0')}`) } }, ['aws_organizational_units.include']],
  ])('%s', (_name, rule, expected) => {
    expect(fields(rule)).toEqual(expected);
  });

  test('aws_organization_id on an ec2 token (Teleport stores it and ignores it: it would admit any organization)', () => {
    expect(fields({ aws_account: '123456789012', aws_organization_id: ORG }, 'ec2')).toEqual(['aws_organization_id']);
  });
});

test('which rules need an Organizations lookup', () => {
  expect(hasOrganizationConditions({})).toBe(false);
  expect(hasOrganizationConditions({ aws_organizational_units: {} })).toBe(false);
  expect(hasOrganizationConditions({ aws_organization_id: ORG })).toBe(true);
  expect(hasOrganizationConditions({ aws_organization_id: ORG, aws_organizational_units: { include: ['*'] } })).toBe(true);
});

describe('ancestry matching (exclusion wins, any level counts)', () => {
  const ancestry = [OU, 'ou-ab12-11112222', ROOT]; // the account's OU, its parent, the root
  test.each([
    [{ include: ['*'] }, true],
    [{ include: [ROOT] }, true],
    [{ include: ['ou-ab12-11112222'] }, true],
    [{ include: [OU2] }, false],
    [{ include: ['*'], exclude: ['ou-ab12-11112222'] }, false],
    [{ include: [OU], exclude: [ROOT] }, false],
    [{ include: [OU2], exclude: [OU] }, false],
    [{ exclude: [OU2] }, false],
    [{}, true],
  ])('%j', (matcher, expected) => {
    expect(ouAncestryMatches(matcher, ancestry)).toBe(expected);
  });

  test('an account with no reported ancestry never passes an active matcher', () => {
    expect(ouAncestryMatches({ include: ['*'] }, [])).toBe(false);
  });
});

test('the stored form keeps what was written and nothing else', () => {
  expect(organizationFieldsOf({ aws_account: '123456789012' })).toEqual({});
  expect(organizationFieldsOf({ aws_organization_id: ORG, aws_organizational_units: { include: [OU], exclude: [OU2] } })).toEqual({ aws_organization_id: ORG, aws_organizational_units: { include: [OU], exclude: [OU2] } });
  expect(organizationFieldsOf({ aws_organization_id: ORG, aws_organizational_units: { include: ['*'] } })).toEqual({ aws_organization_id: ORG, aws_organizational_units: { include: ['*'] } });
});
