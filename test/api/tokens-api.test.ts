import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, JoineryClient } from '../../client/api-client';
import { startTestServer, type TestServer } from '../support/server';
import { caught } from '../support/caught';

const SEEDS = path.join(__dirname, '..', 'fixtures', 'seeds');
let server: TestServer;
let client: JoineryClient;

beforeAll(async () => {
  server = await startTestServer({ env: { JOINERY_LOG_LEVEL: 'info' } });
  client = server.client();
});
afterAll(() => server.stop());

const apiError = (p: Promise<unknown>) => caught(p, ApiError);

const ec2 = (name: string) => ({ kind: 'token', version: 'v2', metadata: { name }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });

describe('token CRUD', () => {
  test('create from each seed YAML body and read back with defaults', async () => {
    for (const f of ['ec2-token.yaml', 'ec2-multiaccount-token.yaml', 'iam-token.yaml']) {
      await client.request('POST', '/v1/tokens', fs.readFileSync(path.join(SEEDS, f), 'utf8'), { contentType: 'application/yaml' });
    }
    const multi = await client.getToken('ec2-multiaccount-token');
    expect(multi!.spec.join_method).toBe('ec2');
    expect(multi!.spec.aws_iid_ttl).toBe('5m');
    expect(multi!.metadata.labels).toEqual({ 'teleport.dev/origin': 'dynamic' });
    expect(multi!.status).toEqual({ expired: false });
    const iam = await client.getToken('iam-token');
    expect(iam!.spec.allow![2].aws_arn).toBe('arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*');
    const names = (await client.listTokens()).map((t) => t.metadata.name);
    expect(names).toEqual(expect.arrayContaining(['ec2-token', 'ec2-multiaccount-token', 'iam-token']));
  });

  test('JSON body; 409 on duplicate POST; PUT replaces and changes the revision', async () => {
    const created = await client.createToken(ec2('crud-1'));
    expect(created.metadata.revision).toMatch(/^[0-9a-f-]{36}$/);
    const dup = await apiError(client.createToken(ec2('crud-1')));
    expect([dup.status, dup.code]).toEqual([409, 'already_exists']);

    const updated = await client.putToken({ ...ec2('crud-1'), spec: { roles: ['Node', 'App'], allow: [{ aws_account: '222222222222' }] } });
    expect(updated.spec.roles).toEqual(['Node', 'App']);
    expect(updated.metadata.revision).not.toBe(created.metadata.revision);
    expect((await client.getToken('crud-1'))!.spec.allow).toEqual([{ aws_account: '222222222222' }]);
  });

  test('PUT creates when absent (201) and honours revision for conflict detection', async () => {
    const first = await client.putToken(ec2('crud-2'));
    const second = await client.putToken({ ...ec2('crud-2'), metadata: { name: 'crud-2', revision: first.metadata.revision } });
    const stale = await apiError(client.putToken({ ...ec2('crud-2'), metadata: { name: 'crud-2', revision: first.metadata.revision } }));
    expect([stale.status, stale.code, stale.field]).toEqual([409, 'revision_conflict', 'metadata.revision']);
    expect((await client.getToken('crud-2'))!.metadata.revision).toBe(second.metadata.revision);
  });

  test('PUT with a body name that differs from the URL is refused', async () => {
    const e = await apiError(client.request('PUT', '/v1/tokens/a-name', ec2('another-name')));
    expect([e.status, e.code, e.field]).toEqual([400, 'name_mismatch', 'metadata.name']);
  });

  test('DELETE then 404', async () => {
    await client.createToken(ec2('crud-3'));
    expect(await client.deleteToken('crud-3')).toBe(true);
    expect(await client.getToken('crud-3')).toBeUndefined();
    const e = await apiError(client.request('DELETE', '/v1/tokens/crud-3'));
    expect([e.status, e.code]).toEqual([404, 'not_found']);
  });

  test('a token-method token with no name gets a generated secret name', async () => {
    const t = await client.createToken({ version: 'v2', metadata: {}, spec: { roles: ['Node'] } });
    expect(t.metadata.name).toMatch(/^[0-9a-f]{32}$/);
    const e = await apiError(client.createToken({ version: 'v2', metadata: {}, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } }));
    expect([e.status, e.field]).toEqual([400, 'metadata.name']);
  });

  test('expired tokens are stored and reported as expired', async () => {
    const t = await client.createToken({ ...ec2('old'), metadata: { name: 'old', expires: '2001-01-01T00:00:00Z' } });
    expect(t.status).toEqual({ expired: true });
  });

  test('names with slashes and unicode round-trip through the URL', async () => {
    await client.createToken(ec2('team/a b/ünï'));
    expect((await client.getToken('team/a b/ünï'))!.metadata.name).toBe('team/a b/ünï');
  });
});

describe('bad input is a 4xx with a JSON error and loses nothing', () => {
  test('validation error names the field', async () => {
    const e = await apiError(client.createToken({ ...ec2('bad'), spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }, { aws_account: '12' }] } }));
    expect([e.status, e.code, e.field]).toEqual([400, 'invalid_token', 'spec.allow[1].aws_account']);
    expect(await client.getToken('bad')).toBeUndefined();
  });
  test('malformed JSON is 400', async () => {
    const e = await apiError(client.request('POST', '/v1/tokens', '{"kind": ', { contentType: 'application/json' }));
    expect([e.status, e.code]).toEqual([400, 'invalid_json']);
  });
  test('malformed YAML and multi-document YAML are 400', async () => {
    const e = await apiError(client.request('POST', '/v1/tokens', 'kind: [token', { contentType: 'application/yaml' }));
    expect([e.status, e.code]).toEqual([400, 'invalid_yaml']);
    const two = await apiError(client.request('POST', '/v1/tokens', 'a: 1\n---\nb: 2\n', { contentType: 'application/yaml' }));
    expect([two.status, two.code]).toEqual([400, 'invalid_yaml']);
  });
  test('a YAML alias bomb is refused, not expanded', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 9; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
    const e = await apiError(client.request('POST', '/v1/tokens', bomb.join('\n'), { contentType: 'application/yaml' }));
    expect(e.status).toBe(400);
  });
  test('JSON that is not an object is 400', async () => {
    const e = await apiError(client.request('POST', '/v1/tokens', '[1,2]', { contentType: 'application/json' }));
    expect([e.status, e.code]).toEqual([400, 'invalid_token']);
  });
  test('unsupported media type is 415', async () => {
    const e = await apiError(client.request('POST', '/v1/tokens', 'kind=token', { contentType: 'application/x-www-form-urlencoded' }));
    expect([e.status, e.code]).toEqual([415, 'unsupported_media_type']);
  });
  test('oversized body is 413', async () => {
    const big = JSON.stringify({ ...ec2('big'), metadata: { name: 'big', description: 'x'.repeat(300 * 1024) } });
    const e = await apiError(client.request('POST', '/v1/tokens', big));
    expect([e.status, e.code]).toEqual([413, 'body_too_large']);
  });
  test('unknown route is a JSON 404', async () => {
    const e = await apiError(client.request('GET', '/v1/nothing'));
    expect([e.status, e.code]).toEqual([404, 'not_found']);
  });
});

describe('admin authentication', () => {
  test.each([
    ['missing', undefined],
    ['wrong', 'not-the-admin-token-at-all'],
  ])('%s credential is 401 with a JSON error on every admin endpoint', async (_label, token) => {
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile, adminToken: token });
    for (const [method, p] of [
      ['GET', '/v1/tokens'],
      ['POST', '/v1/tokens'],
      ['GET', '/v1/tokens/ec2-token'],
      ['PUT', '/v1/tokens/ec2-token'],
      ['DELETE', '/v1/tokens/ec2-token'],
      ['GET', '/v1/nodes'],
      ['DELETE', '/v1/nodes/x'],
      ['GET', '/v1/audit'],
    ]) {
      const e = await apiError(anon.request(method, p, method === 'POST' || method === 'PUT' ? ec2('ec2-token') : undefined));
      expect([method, p, e.status, e.code]).toEqual([method, p, 401, 'unauthenticated']);
    }
    expect(await client.getToken('ec2-token')).toBeDefined();
  });

  test('public endpoints need no credential', async () => {
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    expect(await anon.request('GET', '/healthz')).toEqual({ status: 'ok' });
    expect(await anon.request('GET', '/readyz')).toEqual({ status: 'ready' });
    const status = await anon.status();
    expect(status).toMatchObject({ cluster_name: 'test-cluster', ca_pin: server.caPin, storage: 'sqlite' });
  });
});

describe('observability', () => {
  test('metrics in Prometheus text format', async () => {
    const res = await fetchText(`${server.url}/metrics`);
    expect(res).toMatch(/^# HELP joinery_http_requests_total/m);
    expect(res).toMatch(/joinery_tokens \d+/);
    expect(res).toMatch(/joinery_http_requests_total\{method="GET",route="\/v1\/tokens\/:name",status="200"\} \d+/);
    // The loop delay from its histogram; not the gauge that waits a loop turn at every scrape.
    expect(res).toMatch(/^joinery_process_nodejs_eventloop_lag_p99_seconds \d/m);
    expect(res).not.toMatch(/^joinery_process_nodejs_eventloop_lag_seconds /m);
  });

  test('OpenAPI document lists exactly the served routes', async () => {
    const doc = await client.request<{ paths: Record<string, Record<string, unknown>> }>('GET', '/v1/openapi.json');
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) if (m !== 'parameters') documented.add(`${m.toUpperCase()} ${p}`);
    // Every documented operation answers with something other than the catch-all 404.
    for (const op of documented) {
      const [method, p] = op.split(' ');
      const url = p.replace('{name}', 'ec2-token').replace('{hostId}', 'nope');
      const r = await client.request(method, url, method === 'POST' || method === 'PUT' ? {} : undefined).catch((e: ApiError) => e);
      const code = r instanceof ApiError ? r.message : '';
      expect([op, code]).not.toEqual([op, expect.stringMatching(/^no route for/)]);
    }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/tokens', '/v1/tokens/{name}', '/v1/nodes', '/v1/nodes/{hostId}', '/v1/join/token', '/healthz', '/readyz', '/metrics']));
  });

  test('access logs carry request ids and route patterns, never token names', async () => {
    await client.createToken({ version: 'v2', metadata: { name: 'super-secret-join-token' }, spec: { roles: ['Node'] } });
    await client.getToken('super-secret-join-token');
    await new Promise((r) => setTimeout(r, 200));
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'request', route: '/v1/tokens/:name', status: 200, reqId: expect.any(String) })]));
    expect(server.output()).not.toContain('super-secret-join-token');
  });
});

function fetchText(url: string): Promise<string> {
  const https = require('node:https') as typeof import('node:https');
  return new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(server.caFile) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
