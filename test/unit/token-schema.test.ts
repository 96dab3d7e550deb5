import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { parseToken, validateToken, isExpired, maskTokenName, TokenValidationError, type FieldError } from '../../schema/token';
import { parseGoDuration, formatDuration } from '../../schema/duration';

const SEEDS = path.join(__dirname, '..', 'fixtures', 'seeds');
const seed = (f: string) => YAML.parse(fs.readFileSync(path.join(SEEDS, f), 'utf8'));

/** A token-method name long enough to be a secret (as Teleport generates them: 32 hex). */
const SECRET = 'b7c1e0f4a9d24b8e9c3f5a6d7e8f9012';

const base = () => ({ kind: 'token', version: 'v2', metadata: { name: 't1' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } as Record<string, unknown> });

function errorsOf(input: unknown): FieldError[] {
  const r = validateToken(input);
  if (r.ok) throw new Error(`expected a validation error for ${JSON.stringify(input)}`);
  return r.errors;
}

function expectError(input: unknown, field: string, message?: RegExp) {
  const errors = errorsOf(input);
  const hit = errors.find((e) => e.field === field);
  expect({ field, errors }).toEqual({ field, errors: expect.arrayContaining([expect.objectContaining({ field })]) });
  if (message) expect(hit!.message).toMatch(message);
}

describe('seed documents load exactly as written', () => {
  test('EC2 single-account token.yaml', () => {
    const t = parseToken(seed('ec2-token.yaml'));
    expect(t.spec).toEqual({ roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }] });
    expect(t.metadata.labels).toEqual({ 'teleport.dev/origin': 'dynamic' });
  });

  test('EC2 multi-account token.yaml infers join_method ec2', () => {
    const t = parseToken(seed('ec2-multiaccount-token.yaml'));
    expect(t.spec.join_method).toBe('ec2');
    expect(t.spec.allow![1]).toEqual({ aws_account: '333333333333', aws_regions: ['us-west-1', 'us-west-2'], aws_role: 'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role' });
  });

  test('IAM token.yaml (re-indented) with aws_arn wildcard', () => {
    const t = parseToken(seed('iam-token.yaml'));
    expect(t.spec.join_method).toBe('iam');
    expect(t.spec.aws_iid_ttl).toBeUndefined();
    expect(t.spec.allow).toHaveLength(3);
    expect(t.spec.allow![2].aws_arn).toBe('arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*');
  });
});

describe('defaults and normalisation', () => {
  test('join_method inferred as token without allow rules', () => {
    expect(parseToken({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['node'] } }).spec.join_method).toBe('token');
  });
  test('roles are case-insensitive and stored canonically', () => {
    expect(parseToken({ ...base(), spec: { ...base().spec, roles: ['NODE', 'db', 'windowsdesktop'] } }).spec.roles).toEqual(['Node', 'Db', 'WindowsDesktop']);
  });
  test('aws_iid_ttl defaults to 5m for ec2 and is kept as written', () => {
    expect(parseToken(base()).spec.aws_iid_ttl).toBe('5m');
    expect(parseToken({ ...base(), spec: { ...base().spec, aws_iid_ttl: '1h30m' } }).spec.aws_iid_ttl).toBe('1h30m');
  });
  test('origin label defaults to dynamic and keeps other labels', () => {
    const t = parseToken({ ...base(), metadata: { name: 'x', labels: { env: 'prod' } } });
    expect(t.metadata.labels).toEqual({ env: 'prod', 'teleport.dev/origin': 'dynamic' });
    expect(parseToken({ ...base(), metadata: { name: 'x', labels: { 'teleport.dev/origin': 'kubernetes' } } }).metadata.labels).toEqual({ 'teleport.dev/origin': 'kubernetes' });
  });
  test('a label keyed "__proto__" is an ordinary label', () => {
    const t = parseToken(JSON.parse(`{"version":"v2","metadata":{"name":"${SECRET}","labels":{"__proto__":"x","a":"b"}},"spec":{"roles":["Node"]}}`));
    expect(Object.entries(t.metadata.labels!)).toEqual([['__proto__', 'x'], ['a', 'b'], ['teleport.dev/origin', 'dynamic']]);
    expect(JSON.parse(JSON.stringify(t)).metadata.labels.__proto__).toBe('x');
  });
  test('kind may be omitted; empty allow list and empty strings count as unset', () => {
    const t = parseToken({ version: 'v2', metadata: { name: SECRET, description: '' }, spec: { roles: ['Node'], allow: [], join_method: '' } });
    expect(t.spec.join_method).toBe('token');
    expect(t.metadata.description).toBeUndefined();
  });
  test('Bot role with bot_name', () => {
    expect(parseToken({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['bot'], bot_name: 'ci' } }).spec).toMatchObject({ roles: ['Bot'], bot_name: 'ci' });
  });
  test('YAML timestamps are accepted as expires', () => {
    const t = parseToken(YAML.parse(`version: v2\nmetadata:\n  name: ${SECRET}\n  expires: 2030-01-02T03:04:05Z\nspec:\n  roles: [Node]\n`));
    expect(t.metadata.expires).toBe('2030-01-02T03:04:05Z');
  });
});

describe('every rule names the offending field', () => {
  const cases: [string, unknown, string, RegExp?][] = [
    ['not an object', 'x', ''],
    ['wrong kind', { ...base(), kind: 'role' }, 'kind', /must be "token"/],
    ['missing version', { ...base(), version: undefined }, 'version', /required/],
    ['wrong version', { ...base(), version: 'v1' }, 'version'],
    ['unknown top-level field', { ...base(), labels: {} }, 'labels', /unknown field/],
    ['metadata missing', { ...base(), metadata: undefined }, 'metadata'],
    ['empty name', { ...base(), metadata: { name: '' } }, 'metadata.name', /empty/],
    ['over-long name', { ...base(), metadata: { name: 'a'.repeat(254) } }, 'metadata.name', /at most 253/],
    ['control characters in name', { ...base(), metadata: { name: 'a\nb' } }, 'metadata.name', /control/],
    ['DEL in name', { ...base(), metadata: { name: 'a\u007fb' } }, 'metadata.name', /control/],
    ['numeric name', { ...base(), metadata: { name: 42 } }, 'metadata.name'],
    ['unknown metadata field', { ...base(), metadata: { name: 'x', generation: 1 } }, 'metadata.generation', /unknown/],
    ['bad label key', { ...base(), metadata: { name: 'x', labels: { 'bad key!': 'v' } } }, 'metadata.labels["bad key!"]', /must match/],
    ['non-string label value', { ...base(), metadata: { name: 'x', labels: { k: 1 } } }, 'metadata.labels["k"]'],
    ['unknown origin', { ...base(), metadata: { name: 'x', labels: { 'teleport.dev/origin': 'martian' } } }, 'metadata.labels["teleport.dev/origin"]', /must be one of/],
    ['expires not RFC 3339', { ...base(), metadata: { name: 'x', expires: 'tomorrow' } }, 'metadata.expires', /RFC 3339/],
    ['expires without zone', { ...base(), metadata: { name: 'x', expires: '2030-01-01T00:00:00' } }, 'metadata.expires'],
    ['expires impossible date', { ...base(), metadata: { name: 'x', expires: '2030-02-30T00:00:00Z' } }, 'metadata.expires', /not a real date/],
    ['spec missing', { ...base(), spec: undefined }, 'spec'],
    ['roles missing', { ...base(), spec: { join_method: 'token' } }, 'spec.roles', /at least one role/],
    ['roles empty', { ...base(), spec: { roles: [] } }, 'spec.roles'],
    ['unknown role', { ...base(), spec: { ...base().spec, roles: ['Node', 'Wizard'] } }, 'spec.roles[1]', /not a known role/],
    ['duplicate role (case-insensitive)', { ...base(), spec: { ...base().spec, roles: ['Node', 'node'] } }, 'spec.roles[1]', /duplicate/],
    ['Bot without bot_name', { ...base(), spec: { roles: ['Bot'] } }, 'spec.bot_name', /required/],
    ['bot_name without Bot', { ...base(), spec: { roles: ['Node'], bot_name: 'x' } }, 'spec.bot_name', /only be set/],
    ['unknown join method', { ...base(), spec: { ...base().spec, join_method: 'gcp' } }, 'spec.join_method', /one of token, ec2, iam/],
    ['unknown spec field', { ...base(), spec: { ...base().spec, aws_region: 'us-west-2' } }, 'spec.aws_region', /unknown/],
    ['token method with allow rules', { ...base(), spec: { roles: ['Node'], join_method: 'token', allow: [{ aws_account: '111111111111' }] } }, 'spec.allow', /must be empty/],
    ['token method with aws_iid_ttl', { ...base(), spec: { roles: ['Node'], join_method: 'token', aws_iid_ttl: '5m' } }, 'spec.aws_iid_ttl', /only valid for join_method ec2/],
    ['ec2 without allow rules', { ...base(), spec: { roles: ['Node'], join_method: 'ec2' } }, 'spec.allow', /required for join_method ec2/],
    ['ec2 rule with neither account nor role', { ...base(), spec: { ...base().spec, allow: [{ aws_regions: ['us-west-2'] }] } }, 'spec.allow[0]', /aws_account or aws_role/],
    ['ec2 account not 12 digits', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '1234' }] } }, 'spec.allow[0].aws_account', /12-digit/],
    ['ec2 account as a YAML number', { ...base(), spec: { ...base().spec, allow: [{ aws_account: 111111111111 }] } }, 'spec.allow[0].aws_account', /quote it/],
    ['second rule wrong account', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '111111111111' }, { aws_account: 'abc' }] } }, 'spec.allow[1].aws_account'],
    ['ec2 invalid region', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2', 'mars-1'] }] } }, 'spec.allow[0].aws_regions[1]', /region/],
    ['ec2 duplicate region', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2', 'us-west-2'] }] } }, 'spec.allow[0].aws_regions[1]', /duplicate/],
    ['ec2 with aws_arn', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '111111111111', aws_arn: 'arn:aws:sts::111111111111:*' }] } }, 'spec.allow[0].aws_arn', /only valid for join_method iam/],
    ['ec2 role not an IAM role ARN', { ...base(), spec: { ...base().spec, allow: [{ aws_role: 'teleport-role' }] } }, 'spec.allow[0].aws_role', /IAM role ARN/],
    ['ec2 role in another account', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '222222222222', aws_role: 'arn:aws:iam::333333333333:role/r' }] } }, 'spec.allow[0].aws_role', /account 333333333333/],
    ['ec2 zero TTL', { ...base(), spec: { ...base().spec, aws_iid_ttl: '0s' } }, 'spec.aws_iid_ttl', /greater than zero/],
    ['ec2 bad TTL', { ...base(), spec: { ...base().spec, aws_iid_ttl: '5 minutes' } }, 'spec.aws_iid_ttl', /duration/],
    ['iam without allow rules', { ...base(), spec: { roles: ['Node'], join_method: 'iam' } }, 'spec.allow', /required for join_method iam/],
    ['iam rule empty', { ...base(), spec: { roles: ['Node'], join_method: 'iam', allow: [{}] } }, 'spec.allow[0]', /aws_account and\/or aws_arn/],
    ['iam with regions', { ...base(), spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2'] }] } }, 'spec.allow[0].aws_regions', /only valid for join_method ec2/],
    ['iam with aws_role', { ...base(), spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '111111111111', aws_role: 'arn:aws:iam::111111111111:role/r' }] } }, 'spec.allow[0].aws_role'],
    ['iam with aws_iid_ttl', { ...base(), spec: { roles: ['Node'], join_method: 'iam', aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111' }] } }, 'spec.aws_iid_ttl'],
    ['iam arn with spaces', { ...base(), spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_arn: 'arn:aws:sts::1 *' }] } }, 'spec.allow[0].aws_arn', /white space/],
    ['allow rule not an object', { ...base(), spec: { ...base().spec, allow: ['111111111111'] } }, 'spec.allow[0]', /object/],
    ['unknown rule field', { ...base(), spec: { ...base().spec, allow: [{ aws_account: '111111111111', aws_acount: 'x' }] } }, 'spec.allow[0].aws_acount', /unknown/],
  ];
  for (const [name, input, field, message] of cases) {
    test(`${name} -> ${field || '(root)'}`, () => expectError(input, field, message));
  }

  test('all problems are reported, not only the first', () => {
    const errors = errorsOf({ version: 'v1', metadata: { name: '' }, spec: { roles: ['x'] } });
    expect(errors.map((e) => e.field).sort()).toEqual(['metadata.name', 'spec.roles[0]', 'version']);
  });

  test('TokenValidationError names the first field and joins messages', () => {
    try {
      parseToken({ ...base(), metadata: { name: '' } });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(TokenValidationError);
      expect((e as TokenValidationError).field).toBe('metadata.name');
      expect((e as Error).message).toMatch(/^metadata\.name: /);
    }
  });
});

describe('helpers', () => {
  test('expiry', () => {
    const t = parseToken({ ...base(), metadata: { name: 'x', expires: '2020-01-01T00:00:00Z' } });
    expect(isExpired(t)).toBe(true);
    expect(isExpired(parseToken({ ...base(), metadata: { name: 'x', expires: '2999-01-01T00:00:00+02:00' } }))).toBe(false);
    expect(isExpired(parseToken(base()))).toBe(false);
  });
  test('masking: names under 16 characters are hidden entirely, longer ones keep the last quarter', () => {
    expect(maskTokenName('abcdefgh')).toBe('********');
    expect(maskTokenName('abc')).toBe('***');
    expect(maskTokenName('123456789012345')).toBe('***************');
    expect(maskTokenName('0123456789abcdef')).toBe('************cdef');
    expect(maskTokenName(SECRET)).toBe('*'.repeat(24) + SECRET.slice(24));
  });
  test('Go durations', () => {
    expect(parseGoDuration('5m')).toBe(300_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('0')).toBe(0);
    for (const bad of ['', '5', 'm', '5 m', '-5m', '5d', '1h 30m', '5m!']) expect(parseGoDuration(bad)).toBeUndefined();
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(42_000)).toBe('42s');
  });
});
