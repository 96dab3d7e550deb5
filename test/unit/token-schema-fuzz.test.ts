// Properties of the token schema under random input: it accepts exactly what it should, refuses
// everything else with a bounded list of field errors, and never throws anything else. Times and
// durations get their own properties, checked against an independent computation.

import fc from 'fast-check';
import { parseGoDuration } from '../../schema/duration';
import { parseRfc3339 } from '../../schema/time';
import {
  checkDuration,
  checkExpires,
  isExpired,
  MAX_AWS_IID_TTL_MS,
  MAX_REPORTED_ERRORS,
  MIN_AWS_IID_TTL_MS,
  parseToken,
  TokenValidationError,
  type ProvisionToken,
} from '../../schema/token';

const RUNS = { numRuns: 300 };

/** parseToken either returns a token or throws a bounded TokenValidationError. */
function outcome(input: unknown): ProvisionToken | undefined {
  try {
    return parseToken(input);
  } catch (e) {
    if (!(e instanceof TokenValidationError)) throw new Error(`parseToken threw ${String(e)}`, { cause: e });
    expect(e.errors.length).toBeGreaterThan(0);
    expect(e.errors.length).toBeLessThanOrEqual(MAX_REPORTED_ERRORS);
    for (const err of e.errors) {
      expect(typeof err.field).toBe('string');
      expect(err.message.length).toBeLessThan(1000);
      expect(err.field.length).toBeLessThan(300);
    }
    return undefined;
  }
}

const account = fc.stringMatching(/^[0-9]{12}$/);
const region = fc.constantFrom('us-west-2', 'us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1');
const name = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,40}[a-z0-9]$/);
const secret = fc.stringMatching(/^[0-9a-f]{16,64}$/);
const role = fc.constantFrom('Node', 'node', 'Proxy', 'App', 'Db', 'Kube', 'WindowsDesktop', 'Discovery');
const expires = fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('9998-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().replace('.000Z', 'Z'));
const ttl = fc.constantFrom('1s', '90s', '5m', '1h30m', '2h', '168h', '0.5h');

const validToken = fc.oneof(
  fc.record({
    version: fc.constant('v2'),
    metadata: fc.record({ name, expires, description: fc.string({ maxLength: 50 }).filter((s) => !/[\u0000-\u001f]/.test(s)) }, { requiredKeys: ['name'] }),
    spec: fc.record(
      {
        roles: fc.uniqueArray(role, { minLength: 1, maxLength: 4, selector: (r) => r.toLowerCase() }),
        join_method: fc.constant('ec2'),
        aws_iid_ttl: ttl,
        allow: fc.array(fc.record({ aws_account: account, aws_regions: fc.uniqueArray(region, { maxLength: 3 }) }), { minLength: 1, maxLength: 4 }),
      },
      { requiredKeys: ['roles', 'allow'] },
    ),
  }),
  fc.record({
    version: fc.constant('v2'),
    metadata: fc.record({ name: secret, expires }, { requiredKeys: ['name'] }),
    spec: fc.record({ roles: fc.uniqueArray(role, { minLength: 1, maxLength: 3, selector: (r) => r.toLowerCase() }) }),
  }),
  fc.record({
    version: fc.constant('v2'),
    metadata: fc.record({ name }),
    spec: fc.record({ roles: fc.constant(['Node']), join_method: fc.constant('iam'), allow: fc.array(fc.record({ aws_account: account, aws_arn: fc.constant('arn:aws:sts::*:assumed-role/r/*') }), { minLength: 1, maxLength: 3 }) }),
  }),
);

describe('token schema', () => {
  test('valid tokens are accepted, and a parsed token parses to itself', () => {
    fc.assert(
      fc.property(validToken, (t) => {
        const once = outcome(t);
        expect(once).toBeDefined();
        expect(parseToken(once)).toEqual(once);
      }),
      RUNS,
    );
  });

  test('arbitrary values are accepted or refused with bounded field errors', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 4 }), (v) => void outcome(v)), RUNS);
  });

  test('a valid token with any one field replaced by anything is accepted or refused, never a crash', () => {
    const paths = ['kind', 'version', 'metadata', 'metadata.name', 'metadata.labels', 'metadata.expires', 'metadata.description', 'spec', 'spec.roles', 'spec.allow', 'spec.join_method', 'spec.aws_iid_ttl', 'spec.bot_name'];
    fc.assert(
      fc.property(validToken, fc.constantFrom(...paths), fc.anything({ maxDepth: 3 }), (t, path, value) => {
        const copy = structuredClone(t) as unknown as Record<string, Record<string, unknown>>;
        const [a, b] = path.split('.');
        if (b === undefined) (copy as Record<string, unknown>)[a] = value;
        else copy[a] = { ...(copy[a] ?? {}), [b]: value };
        outcome(copy);
      }),
      RUNS,
    );
  });

  test('lists of any length are refused in one short answer beyond their bound', () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), fc.constantFrom('Node', 'x', 1), (n, item) => {
        try {
          parseToken({ version: 'v2', metadata: { name: 'fuzz-list' }, spec: { roles: new Array(n).fill(item), allow: [{ aws_account: '111111111111' }] } });
        } catch (e) {
          expect((e as TokenValidationError).message.length).toBeLessThan(10_000);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('times', () => {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const parts = fc.record({
    y: fc.integer({ min: 0, max: 9999 }),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 25 }),
    mi: fc.integer({ min: 0, max: 61 }),
    s: fc.integer({ min: 0, max: 61 }),
    frac: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
    zone: fc.oneof(fc.constant('Z'), fc.record({ sign: fc.constantFrom('+', '-'), oh: fc.integer({ min: 0, max: 99 }), om: fc.integer({ min: 0, max: 99 }) })),
  });

  test('expires is accepted exactly when every part is in range, and then names the instant it says', () => {
    fc.assert(
      fc.property(parts, (p) => {
        const zone = p.zone === 'Z' ? 'Z' : `${p.zone.sign}${pad(p.zone.oh)}:${pad(p.zone.om)}`;
        const text = `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${p.frac !== undefined ? `.${p.frac}` : ''}${zone}`;
        // Independent check: build the local time, and compare each part after a round trip.
        const local = new Date(0);
        local.setUTCFullYear(p.y, p.mo - 1, p.d);
        local.setUTCHours(p.h, p.mi, p.s, 0);
        const real = p.mo >= 1 && p.mo <= 12 && local.getUTCFullYear() === p.y && local.getUTCMonth() === p.mo - 1 && local.getUTCDate() === p.d && p.h <= 23 && p.mi <= 59 && p.s <= 59;
        const offsetOk = p.zone === 'Z' || (p.zone.oh <= 23 && p.zone.om <= 59);
        const offsetMs = p.zone === 'Z' ? 0 : (p.zone.sign === '-' ? -1 : 1) * (p.zone.oh * 60 + p.zone.om) * 60_000;
        const utc = new Date(local.getTime() - offsetMs);
        const inYears = utc.getUTCFullYear() >= 1 && utc.getUTCFullYear() <= 9999;
        const r = parseRfc3339(text);
        expect({ text, ok: r.ok }).toEqual({ text, ok: real && offsetOk && inYears });
        expect(checkExpires(text) === undefined).toBe(r.ok);
        if (!r.ok) return;
        const fracMs = p.frac ? Number((p.frac + '00').slice(0, 3)) : 0;
        expect(r.time.ms).toBe(utc.getTime() + fracMs);
        expect(r.time.utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$/);
        // The stored form reads back as the same instant; where Date.parse can read it, it agrees.
        const again = parseRfc3339(r.time.utc);
        expect(again.ok && again.time.ms).toBe(r.time.ms);
        if (utc.getUTCFullYear() >= 1000) expect(Math.floor(Date.parse(r.time.utc))).toBe(r.time.ms);
      }),
      { numRuns: 1000 },
    );
  });

  test('isExpired on any stored text: a readable time compares, anything else is expired', () => {
    const base = parseToken({ version: 'v2', metadata: { name: 'fuzz-expiry' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), expires), fc.date({ noInvalidDate: true }), (text, now) => {
        const token = { ...base, metadata: { ...base.metadata, expires: text } };
        const r = parseRfc3339(text);
        expect(isExpired(token, now)).toBe(r.ok ? r.time.ms <= now.getTime() : true);
      }),
      RUNS,
    );
  });
});

describe('durations', () => {
  const goDuration = fc
    .array(fc.tuple(fc.oneof(fc.nat({ max: 100000 }).map(String), fc.nat({ max: 5_000_000 }).map(String), fc.stringMatching(/^[0-9]{0,3}\.[0-9]{1,3}$/)), fc.constantFrom('ns', 'us', 'µs', 'ms', 's', 'm', 'h')), { minLength: 1, maxLength: 4 })
    .map((ps) => ps.map(([n, u]) => n + u).join(''));

  test('aws_iid_ttl is accepted exactly when it is a duration from 1s to the largest Go duration', () => {
    fc.assert(
      fc.property(fc.oneof(goDuration, fc.string({ maxLength: 12 })), (text) => {
        const ms = parseGoDuration(text);
        const ok = ms !== undefined && ms >= MIN_AWS_IID_TTL_MS && ms <= MAX_AWS_IID_TTL_MS;
        expect({ text, ok: checkDuration(text) === undefined }).toEqual({ text, ok });
      }),
      RUNS,
    );
  });

  test('parseGoDuration sums its parts', () => {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 1000 }), fc.constantFrom(...Object.keys(unit))), { minLength: 1, maxLength: 5 }), (ps) => {
        const expected = ps.reduce((sum, [n, u]) => sum + n * unit[u], 0);
        expect(parseGoDuration(ps.map(([n, u]) => `${n}${u}`).join(''))).toBeCloseTo(expected, 6);
      }),
      RUNS,
    );
  });
});
