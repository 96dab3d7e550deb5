// Reading the audit: every event type the server writes, valid against its schema; GET /v1/audit's
// filters and pages; `joinery audit ls` in text (one line per attempt, refusals down to the rule),
// YAML and JSON; and the public schema route.

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { expireLocks } from '../../api/server/housekeeping';
import { eventTypes } from '../../api/audit/catalog';
import { bundleSchema, eventSchema } from '../../api/audit/schemas';
import { runCli } from '../support/server';
import { joinWithToken, newHostKey, renew, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';
import { bundleValidator } from './support';

jest.setTimeout(120_000);

let s: LifecycleServer;
const secret = randomBytes(16).toString('hex');
const bogus = randomBytes(16).toString('hex');
let host: string;
const EC2_HOST = '111111111111-i-0abc1234567890def';

beforeAll(async () => {
  s = await startLifecycleServer();
  const id = await joinWithToken(s, secret); // token.create, join.token ok
  host = id.host_id;
  expect((await s.request('POST', '/v1/join/token', { body: { token_name: bogus, role: 'Node', public_key: newHostKey().publicPem } })).status).toBe(403);
  expect((await s.request('POST', '/v1/join/token', { body: { token_name: secret, role: 'Proxy', public_key: newHostKey().publicPem } })).status).toBe(403);
  expect((await renew(s, id)).status).toBe(200);
  expect((await s.request('POST', '/v1/renew', { body: {} })).status).toBe(401);
  await s.admin('PUT', `/v1/tokens/${secret}`, { version: 'v2', metadata: { name: secret }, spec: { roles: ['Node', 'Proxy'], join_method: 'token' } });
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: 'ec2-three-rules' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1'] }, { aws_account: '222222222222' }, { aws_account: '333333333333', aws_regions: ['us-east-1'] }] } });
  // An EC2 refusal as the join pipeline records it: the verified identity and each rule's checks.
  await s.server.store.audit.append({
    time: s.now().toISOString(),
    type: 'join.ec2',
    success: false,
    code: 'ec2_rule_mismatch',
    message: 'no allow rule matches account 111111111111 in eu-west-1',
    tokenName: 'ec2-three-rules',
    hostId: EC2_HOST,
    remoteAddr: '10.1.2.3',
    details: {
      method: 'ec2',
      role: 'Node',
      identity: { aws_account: '111111111111', aws_region: 'eu-west-1', instance_id: 'i-0abc1234567890def' },
      rules: [
        { index: 0, matched: false, failures: ['aws_regions [us-west-1] does not include eu-west-1'] },
        { index: 1, matched: false, failures: ['aws_account 222222222222 is not 111111111111'] },
        { index: 2, matched: false, failures: ['aws_account 333333333333 is not 111111111111', 'aws_regions [us-east-1] does not include eu-west-1'] },
      ],
    },
  });
  await s.admin('DELETE', '/v1/tokens/ec2-three-rules');
  await s.admin('DELETE', `/v1/nodes/${host}`);
  // A lock's life: created, removed; another one expired by housekeeping.
  const lock = await s.admin<{ id: string }>('POST', '/v1/locks', { kind: 'host_id', target: host, message: 'audit' });
  await s.admin('DELETE', `/v1/locks/${lock.id}`);
  const tokenLock = await s.admin<{ id: string }>('POST', '/v1/locks', { kind: 'token', target: secret, ttl: '1m' });
  await s.admin('PATCH', `/v1/locks/${tokenLock.id}`, { message: 'audit: extended' });
  await expireLocks(s.server.store, new Date(Date.now() + 3600_000));
  expect((await s.request('GET', '/v1/nodes', { headers: { authorization: 'Bearer not-the-credential' } })).status).toBe(401);
  // The web console's sign-in and sign-out.
  const signIn = await s.request('POST', '/console/api/session', { body: { credential: s.adminToken }, headers: { 'content-type': 'application/json' } });
  expect(signIn.status).toBe(201);
  const cookie = String((signIn.headers['set-cookie'] as string[])[0]).split(';')[0];
  const signOut = await s.request('DELETE', '/console/api/session', { headers: { cookie, 'x-csrf-token': signIn.json<{ csrf_token: string }>().csrf_token } });
  expect(signOut.status).toBe(204);
  // A CA rotation started and rolled back: the CA is the first one again.
  await s.admin('POST', '/v1/ca/rotate', { manual: true });
  await s.admin('POST', '/v1/ca/rotate', { rollback: true });
  await s.admin('POST', '/v1/ca/rotate', { phase: 'standby' });
});
afterAll(() => s?.stop());

type Event = { id: number; type: string; success: boolean; eventCode: string; code?: string; hostId?: string; tokenName?: string; remoteAddr?: string; details?: Record<string, unknown> };

async function all(query = ''): Promise<Event[]> {
  return (await s.admin<{ events: Event[] }>('GET', `/v1/audit?limit=1000${query}`)).events;
}

const cli = (...args: string[]) =>
  runCli(['audit', 'ls', '--addr', new URL(s.url).host, '--ca-file', path.join(s.dataDir, 'ca.crt'), ...args], { env: { JOINERY_ADMIN_TOKEN: s.adminToken } });

test('every event type the server writes is in the catalogue and valid against its schema; no secret in any', async () => {
  await new Promise((r) => setTimeout(r, 100)); // the admin.auth event is written after the 401 is sent
  const events = await all();
  // Every type but join.iam (an IAM join needs an STS; the IAM suites make them).
  expect(new Set(events.map((e) => e.type))).toEqual(new Set(eventTypes().map((t) => t.type).filter((t) => t !== 'join.iam')));
  const validate = bundleValidator();
  expect(events.map((e) => [e.type, validate(e)]).filter(([, err]) => err)).toEqual([]);
  expect(events.some((e) => e.eventCode.startsWith('JX'))).toBe(false);
  const text = JSON.stringify(events);
  expect(text).not.toContain(secret);
  expect(text).not.toContain(bogus);
  expect(text).not.toContain(s.adminToken);
  expect(text).not.toContain('not-the-credential');
});

test('GET /v1/audit: newest first, filters combine, pages follow next_page_token to the end', async () => {
  const events = await all();
  expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => b - a));

  const paged: Event[] = [];
  let token: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await s.admin<{ events: Event[]; next_page_token?: string }>('GET', `/v1/audit?limit=2${token ? `&page_token=${token}` : ''}`);
    expect(page.events.length).toBeLessThanOrEqual(2);
    paged.push(...page.events);
    token = page.next_page_token;
    if (!token) break;
  }
  expect(paged.map((e) => e.id)).toEqual(events.map((e) => e.id));

  const refused = await all('&refused=true');
  expect(refused.length).toBeGreaterThanOrEqual(5);
  expect(refused.every((e) => !e.success)).toBe(true);
  expect((await all('&refused=true&type=join.token')).map((e) => e.code).sort()).toEqual(['role_not_allowed', 'token_not_found']);
  // A token-method token is found by its name, though events hold it masked.
  const bySecret = await all(`&token=${secret}`);
  expect(bySecret.map((e) => e.type).sort()).toEqual(['join.token', 'join.token', 'token.create', 'token.update']);
  expect(new Set(bySecret.map((e) => e.tokenName)).size).toBe(1);
  expect((await all(`&host=${host}`)).map((e) => e.type).sort()).toEqual(['join.token', 'node.delete', 'renew']);
  expect((await all('&code=ec2_rule_mismatch')).map((e) => e.hostId)).toEqual([EC2_HOST]);
  expect(await all('&since=2099-01-01T00:00:00Z')).toEqual([]);
  expect((await all('&since=1h')).length).toBe(events.length);
});

test('GET /v1/audit refuses what it does not understand, naming the parameter', async () => {
  const bad = async (query: string) => {
    const r = await s.request('GET', `/v1/audit?${query}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    return [r.status, r.json().error.code, r.json().error.field];
  };
  expect(await bad('refuse=true')).toEqual([400, 'invalid_query', 'refuse']);
  expect(await bad('refused=maybe')).toEqual([400, 'invalid_query', 'refused']);
  expect(await bad('since=yesterday')).toEqual([400, 'invalid_query', 'since']);
  expect(await bad('type=a&type=b')).toEqual([400, 'invalid_query', 'type']);
  expect(await bad(`host=${'x'.repeat(300)}`)).toEqual([400, 'invalid_query', 'host']);
  expect(await bad('limit=0')).toEqual([400, 'invalid_query', 'limit']);
  expect(await bad('page_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toEqual([400, 'invalid_page_token', 'page_token']);
  expect((await s.request('GET', '/v1/audit')).status).toBe(401);
});

test('GET /v1/audit/schema is public: the bundle, or one type; an unknown type is 404', async () => {
  const bundle = await s.request('GET', '/v1/audit/schema');
  expect(bundle.status).toBe(200);
  expect(bundle.headers['content-type']).toMatch(/^application\/schema\+json/);
  expect(bundle.json()).toEqual(bundleSchema());
  expect((await s.request('GET', '/v1/audit/schema?type=join.ec2')).json()).toEqual(eventSchema(eventTypes().find((t) => t.type === 'join.ec2')!));
  const missing = await s.request('GET', '/v1/audit/schema?type=nope');
  expect([missing.status, missing.json().error.code]).toEqual([404, 'not_found']);
});

test('audit ls --refused: one line per attempt, with host, token, source and each rule\'s failed checks', async () => {
  const r = await cli('--refused');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^Time\s+Type\s+Result\s+Code\s+Host\s+Token\s+From\s+Reason$/);
  expect(lines.slice(1).every((l) => / refused /.test(l))).toBe(true);
  const ec2 = lines.find((l) => l.includes('ec2_rule_mismatch'))!;
  expect(ec2).toContain(EC2_HOST);
  expect(ec2).toContain('ec2-three-rules');
  expect(ec2).toContain('10.1.2.3');
  expect(ec2).toMatch(/allow\[0\]: aws_regions \[us-west-1\] does not include eu-west-1 \| allow\[1\]: aws_account 222222222222 is not 111111111111 \| allow\[2\]: aws_account 333333333333 is not 111111111111; aws_regions \[us-east-1\] does not include eu-west-1$/);
  expect(lines.find((l) => l.includes('token_not_found'))).toMatch(/the join token is not valid$/);
  expect(r.stdout).not.toContain(secret);
  expect(r.stdout).not.toContain(bogus);
});

test('audit ls filters and formats', async () => {
  const json = await cli('--type', 'join.token', '--format', 'json');
  expect(json.code).toBe(0);
  const joins = JSON.parse(json.stdout) as Event[];
  expect(joins.map((e) => e.type)).toEqual(['join.token', 'join.token', 'join.token']);

  const yaml = await cli('--host', host, '--format', 'yaml', '--limit', '2');
  const two = YAML.parse(yaml.stdout) as Event[];
  expect(two.map((e) => e.type)).toEqual(['node.delete', 'renew']); // the newest two

  expect(JSON.parse((await cli('--token', secret, '--code', 'role_not_allowed', '--format', 'json')).stdout)).toHaveLength(1);
  expect((await cli('--since', '2099-01-01T00:00:00Z')).stdout.trim()).toBe('No audit events match.');

  const badSince = await cli('--since', 'yesterday');
  expect(badSince.code).toBe(2);
  expect(badSince.stderr).toMatch(/^error: --since must be an RFC 3339 time/);
  expect((await cli('--limit', '0')).code).toBe(2);
  expect((await cli('--frobnicate')).code).toBe(2);
});

test('audit ls pages through more than one server page, newest first, none twice', async () => {
  for (let i = 0; i < 1100; i++) await s.server.store.audit.append({ time: s.now().toISOString(), type: 'token.create', success: true, tokenName: 'bulk-token' });
  const r = await cli('--token', 'bulk-token', '--limit', '1050', '--format', 'json');
  expect(r.code).toBe(0);
  const ids = (JSON.parse(r.stdout) as Event[]).map((e) => e.id);
  expect(ids).toHaveLength(1050);
  expect(new Set(ids).size).toBe(1050);
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
});
