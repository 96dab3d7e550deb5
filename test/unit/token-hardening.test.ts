// Issue 9 hardening of the token schema: times that fail closed, bounded lists and error lists,
// invisible characters, aws_iid_ttl bounds, token-method secret length.

import { isExpired, MAX_REPORTED_ERRORS, parseToken, TokenValidationError, validateToken, type FieldError, type ProvisionToken } from '../../schema/token';
import { parseRfc3339, rfc3339Ms, sameInstant } from '../../schema/time';

const SECRET = 'b7c1e0f4a9d24b8e9c3f5a6d7e8f9012';
const ec2 = (metadata: Record<string, unknown> = { name: 'ec2-token' }, spec: Record<string, unknown> = {}) => ({
  kind: 'token',
  version: 'v2',
  metadata,
  spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }], ...spec },
});

function errorsOf(input: unknown): FieldError[] {
  const r = validateToken(input);
  if (r.ok) throw new Error(`expected a validation error for ${JSON.stringify(input).slice(0, 200)}`);
  return r.errors;
}
const fieldsOf = (input: unknown) => errorsOf(input).map((e) => e.field);
const messageFor = (input: unknown, field: string) => errorsOf(input).find((e) => e.field === field)?.message;

describe('metadata.expires: real ranges, stored in UTC', () => {
  test.each([
    ['offset hour 24', '2000-01-01T00:00:00+24:00'],
    ['offset hour 99', '2000-01-01T00:00:00+99:00'],
    ['offset minute 60', '2000-01-01T00:00:00+00:60'],
    ['hour 24', '2030-01-01T24:00:00Z'],
    ['minute 60', '2030-01-01T12:60:00Z'],
    ['month 13', '2030-13-01T00:00:00Z'],
    ['month 00', '2030-00-01T00:00:00Z'],
    ['day 00', '2030-01-00T00:00:00Z'],
    ['30 February', '2030-02-30T00:00:00Z'],
    ['29 February of a common year', '2031-02-29T00:00:00Z'],
    ['31 April', '2030-04-31T00:00:00Z'],
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['year 10000 once in UTC', '9999-12-31T23:59:59-01:00'],
  ])('%s (%s) is refused as not a real time', (_name, expires) => {
    expect(messageFor(ec2({ name: 'x', expires }), 'metadata.expires')).toMatch(/not a real date and time/);
  });

  test('a leap second is refused with its own message', () => {
    expect(messageFor(ec2({ name: 'x', expires: '2030-06-30T12:00:60Z' }), 'metadata.expires')).toMatch(/leap second/);
    expect(messageFor(ec2({ name: 'x', expires: '2016-12-31T23:59:60Z' }), 'metadata.expires')).toMatch(/leap second/);
  });

  test.each([
    ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z'],
    ['2030-01-02t03:04:05z', '2030-01-02T03:04:05Z'],
    ['2030-01-02T05:04:05+02:00', '2030-01-02T03:04:05Z'],
    ['2030-01-01T23:30:00-23:59', '2030-01-02T23:29:00Z'],
    ['2030-01-01T00:00:00+00:30', '2029-12-31T23:30:00Z'],
    ['2032-02-29T00:00:00Z', '2032-02-29T00:00:00Z'],
    ['2030-01-02T03:04:05.000Z', '2030-01-02T03:04:05Z'],
    ['2030-01-02T03:04:05.250+01:00', '2030-01-02T02:04:05.25Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00Z'],
  ])('%s is stored as %s', (expires, stored) => {
    expect(parseToken(ec2({ name: 'x', expires })).metadata.expires).toBe(stored);
  });

  test('a YAML-style Date keeps working; an invalid Date is refused, not thrown', () => {
    expect(parseToken(ec2({ name: 'x', expires: new Date('2030-01-02T03:04:05Z') })).metadata.expires).toBe('2030-01-02T03:04:05Z');
    expect(fieldsOf(ec2({ name: 'x', expires: new Date(Number.NaN) }))).toContain('metadata.expires');
  });

  test('isExpired fails closed on a stored value it cannot read', () => {
    const stored = (expires: string) => ({ ...parseToken(ec2()), metadata: { name: 'x', expires } }) as ProvisionToken;
    const now = new Date('2026-01-01T00:00:00Z');
    for (const bad of ['2000-01-01T00:00:00+24:00', '2999-01-01T00:00:00+99:00', '2999-06-30T12:00:60Z', 'tomorrow', '', '2999-02-30T00:00:00Z']) {
      expect({ bad, expired: isExpired(stored(bad), now) }).toEqual({ bad, expired: true });
    }
    expect(isExpired(stored('2999-01-01T00:00:00+02:00'), now)).toBe(false);
    expect(isExpired(stored('2026-01-01T00:00:00Z'), now)).toBe(true);
    expect(isExpired(stored('2026-01-01T00:00:00.001Z'), now)).toBe(false);
  });

  test('time helpers', () => {
    expect(rfc3339Ms('1970-01-01T00:00:01Z')).toBe(1000);
    expect(rfc3339Ms('1970-01-01T01:00:00+01:00')).toBe(0);
    expect(rfc3339Ms('1970-01-01T00:00:00+24:00')).toBeUndefined();
    expect(sameInstant('2030-01-02T05:04:05+02:00', '2030-01-02T03:04:05Z')).toBe(true);
    expect(sameInstant('2030-01-02T05:04:05+02:00', '2030-01-02T05:04:05Z')).toBe(false);
    expect(parseRfc3339('x'.repeat(1000))).toEqual({ ok: false, problem: 'syntax' });
  });
});

describe('bounded lists and a bounded error list', () => {
  test('125,000 roles answer one short error', () => {
    const roles = new Array(125_000).fill('Wizard');
    const r = validateToken(ec2({ name: 'x' }, { roles }));
    expect(r.ok).toBe(false);
    const errors = (r as { errors: FieldError[] }).errors;
    expect(errors).toEqual([{ field: 'spec.roles', message: 'must list at most 32 roles (got 125000)' }]);
  });

  test('too many labels, allow rules, regions', () => {
    const labels = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    expect(messageFor(ec2({ name: 'x', labels }), 'metadata.labels')).toMatch(/at most 128 labels \(got 129\)/);
    const allow = Array.from({ length: 257 }, () => ({ aws_account: '111111111111' }));
    expect(messageFor(ec2({ name: 'x' }, { allow }), 'spec.allow')).toMatch(/at most 256 rules \(got 257\)/);
    const regions = Array.from({ length: 65 }, () => 'us-west-2');
    expect(messageFor(ec2({ name: 'x' }, { allow: [{ aws_account: '111111111111', aws_regions: regions }] }), 'spec.allow[0].aws_regions')).toMatch(/at most 64 regions/);
  });

  test('at most 20 problems are listed; the rest are counted', () => {
    const allow = Array.from({ length: 200 }, () => ({ aws_account: 'nope' }));
    try {
      parseToken(ec2({ name: 'x' }, { allow }));
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(TokenValidationError);
      const err = e as TokenValidationError;
      expect(err.errors).toHaveLength(MAX_REPORTED_ERRORS);
      expect(err.more).toBe(180);
      expect(err.message).toMatch(/; and 180 more problems$/);
      expect(err.message.length).toBeLessThan(5000);
    }
  });

  test('huge values and keys are quoted short in messages and paths', () => {
    const huge = 'x'.repeat(200_000);
    const errors = errorsOf(ec2({ name: 'x', expires: huge, labels: { [huge]: 'v' }, [huge]: 1 }, { aws_iid_ttl: huge }));
    expect(JSON.stringify(errors).length).toBeLessThan(3000);
  });
});

describe('invisible and bidirectional-control characters', () => {
  const sneaky = ['\u202e', '\u202a', '\u2066', '\u2069', '\u200b', '\u200d', '\u200f', '\ufeff', '\u2060', '\ud800'];
  test.each(sneaky.map((c) => [c.charCodeAt(0).toString(16)]))('U+%s is refused in names, bot names, label values and descriptions', (hex) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    expect(messageFor(ec2({ name: `a${c}b` }), 'metadata.name')).toMatch(/invisible or bidirectional-control/);
    expect(messageFor(ec2({ name: 'x', description: `d${c}` }), 'metadata.description')).toMatch(/invisible/);
    expect(messageFor(ec2({ name: 'x', labels: { env: `p${c}` } }), 'metadata.labels["env"]')).toMatch(/invisible/);
    expect(messageFor({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Bot'], bot_name: `c${c}i` } }, 'spec.bot_name')).toMatch(/invisible/);
    expect(fieldsOf(ec2({ name: 'x', labels: { [`k${c}`]: 'v' } }))).toContain(`metadata.labels[${JSON.stringify(`k${c}`)}]`);
  });
  test('ordinary non-ASCII text stays accepted', () => {
    expect(parseToken(ec2({ name: 'jeton-été', description: 'für die Knoten 🚀', labels: { team: 'ñandú' } })).metadata.description).toBe('für die Knoten 🚀');
  });
});

describe('aws_iid_ttl bounds (1s to the largest Go duration, as Teleport)', () => {
  test.each(['1s', '5m', '1h30m', '168h', '1000ms', '8760h', '51698h', '2562047h'])('%s is accepted', (ttl) => {
    expect(parseToken(ec2(undefined, { aws_iid_ttl: ttl })).spec.aws_iid_ttl).toBe(ttl);
  });
  test.each([
    ['999ms', /at least 1s/],
    ['1ns', /at least 1s/],
    ['2562048h', /at most 2562047h47m16.854775807s, the largest Go duration/],
    ['3000000h', /largest Go duration/],
    ['99999999999999999999h', /largest Go duration/],
    ['0s', /greater than zero/],
  ])('%s is refused', (ttl, message) => {
    expect(messageFor(ec2(undefined, { aws_iid_ttl: ttl }), 'spec.aws_iid_ttl')).toMatch(message);
  });
});

describe('token-method secrets', () => {
  const tokenMethod = (name: string) => ({ version: 'v2', metadata: { name }, spec: { roles: ['Node'] } });
  test('a name under 16 characters is refused with a clear message', () => {
    expect(messageFor(tokenMethod('1234'), 'metadata.name')).toBe("a token-method token's name is its secret: use at least 16 characters (got 4), or leave it empty to have one generated");
    expect(messageFor(tokenMethod('a'.repeat(15)), 'metadata.name')).toMatch(/at least 16/);
  });
  test('16 characters and Teleport-style 32 hex are accepted; ec2 and iam names may stay short', () => {
    expect(parseToken(tokenMethod('a'.repeat(16))).metadata.name).toHaveLength(16);
    expect(parseToken(tokenMethod(SECRET)).metadata.name).toBe(SECRET);
    expect(parseToken(ec2({ name: 'x' })).metadata.name).toBe('x');
  });
  test('an empty name reports only that it is required', () => {
    expect(errorsOf(tokenMethod('')).filter((e) => e.field === 'metadata.name')).toHaveLength(1);
  });
});
