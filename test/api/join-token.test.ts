import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../client/api-client';
import { pinOf } from '../../client/trust';
import { runCli, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-'));
const SECRET = 'b7c1e0f4a9d24b8e9c3f5a6d7e8f9012';

beforeAll(async () => {
  server = await startTestServer();
  const c = server.client();
  await c.createToken({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node', 'App'] } });
  await c.createToken({ version: 'v2', metadata: { name: 'old-secret-token', expires: '2001-01-01T00:00:00Z' }, spec: { roles: ['Node'] } });
  await c.createToken({ version: 'v2', metadata: { name: 'ec2-token' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
});
afterAll(() => server.stop());

function join(dataDir: string, extra: string[] = [], token = SECRET) {
  return runCli(['join', '--method', 'token', '--token', token, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', dataDir, ...extra]);
}

test('token join end to end through the CLI: key, certificate and CA in the data directory', async () => {
  const dir = tmp();
  const r = await join(dir, ['--role', 'app']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const identity = JSON.parse(fs.readFileSync(path.join(dir, 'identity.json'), 'utf8'));
  expect(identity).toMatchObject({ join_method: 'token', role: 'app', host_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  expect(r.stdout).toContain(`joined as ${identity.host_id}`);

  expect(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  const ca = new X509Certificate(fs.readFileSync(path.join(dir, 'ca.pem')));
  const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
  // The certificate verifies against the CA whose pin the server advertises.
  expect(pinOf(ca)).toBe(server.caPin);
  expect(cert.verify(ca.publicKey)).toBe(true);
  expect(cert.checkIssued(ca)).toBe(true);
  expect(cert.subject).toContain(`CN=${identity.host_id}`);
  expect(cert.subject).toContain('OU=App');
  expect(cert.subjectAltName).toContain(identity.host_id);
  expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(createPublicKey(createPrivateKey(fs.readFileSync(path.join(dir, 'key.pem')))).export({ type: 'spki', format: 'pem' }));

  const nodes = await server.client().listNodes();
  expect(nodes).toEqual(expect.arrayContaining([expect.objectContaining({ host_id: identity.host_id, join_method: 'token', role: 'App', token_name: `${'*'.repeat(24)}7e8f9012` })]));
  const ls = await runCli(['nodes', 'ls', '--addr', server.addr, '--ca-file', server.caFile], { env: { JOINERY_ADMIN_TOKEN: server.adminToken } });
  expect(ls.code).toBe(0);
  expect(ls.stdout).toContain(identity.host_id);
  expect(ls.stdout).not.toContain(SECRET);

  // The audit log records the attempt with the secret masked.
  const { events } = await server.client().request<{ events: { type: string; success: boolean; tokenName: string; hostId: string }[] }>('GET', '/v1/audit?type=join.token');
  const ev = events.find((e) => e.hostId === identity.host_id)!;
  expect(ev.success).toBe(true);
  expect(ev.tokenName).toBe(`${'*'.repeat(24)}7e8f9012`);
});

test('a data directory holding another identity is refused before contacting the server', async () => {
  const dir = tmp();
  expect((await join(dir)).code).toBe(0);
  const again = await join(dir);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/already holds the identity of host/);
});

test.each([
  ['unknown token', 'no-such-token', [], /the join token is not valid \(403 token_not_found\)/],
  ['expired token', 'old-secret-token', [], /expired at 2001-01-01T00:00:00Z \(403 token_expired\)/],
  ['token of another join method', 'ec2-token', [], /join_method ec2.*\(403 join_method_mismatch\)/],
  ['role not in the token', SECRET, ['--role', 'Proxy'], /role "Proxy" is not allowed.*\(403 role_not_allowed\)/],
])('refused: %s', async (_label, token, extra, message) => {
  const dir = tmp();
  const r = await join(dir, extra as string[], token as string);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message as RegExp);
  expect(fs.existsSync(path.join(dir, 'identity.json'))).toBe(false);
});

test('a wrong CA pin is refused before anything is sent', async () => {
  const r = await runCli(['join', '--token', SECRET, '--server', server.addr, '--ca-pin', `sha256:${'0'.repeat(64)}`, '--data-dir', tmp()]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/does not present a CA matching/);
});

test('--insecure works but warns loudly', async () => {
  const r = await runCli(['join', '--token', SECRET, '--server', server.addr, '--insecure', '--data-dir', tmp()]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/WARNING: --insecure/);
});

test('every accepted agent key type gets a certificate for that key', async () => {
  const c = server.client();
  for (const [type, opts] of [['ed25519', {}], ['rsa', { modulusLength: 2048 }], ['ec', { namedCurve: 'secp384r1' }], ['ec', { namedCurve: 'prime256v1' }]] as const) {
    const publicKey = generateKeyPairSync(type as 'ec', opts as { namedCurve: string }).publicKey;
    const r = await c.post<{ certificate: string; ca_certificates: string[] }>('/v1/join/token', { token_name: SECRET, role: 'Node', public_key: publicKey.export({ type: 'spki', format: 'pem' }) });
    const cert = new X509Certificate(r.certificate);
    expect([type, cert.publicKey.export({ type: 'spki', format: 'pem' })]).toEqual([type, publicKey.export({ type: 'spki', format: 'pem' })]);
    expect(cert.verify(new X509Certificate(r.ca_certificates[0]).publicKey)).toBe(true);
  }
});

test('join request validation: bad public keys and fields are 400 with a code, audited', async () => {
  const c = server.client();
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
  for (const [body, code] of [
    [{ token_name: SECRET, role: 'Node', public_key: 'not a key' }, 'invalid_public_key'],
    [{ token_name: SECRET, role: 'Node', public_key: weak }, 'invalid_public_key'],
    [{ token_name: SECRET, role: 'Node' }, 'invalid_public_key'],
    [{ role: 'Node', public_key: 'x' }, 'invalid_request'],
    [{ token_name: 'x'.repeat(5000), role: 'Node', public_key: 'x' }, 'invalid_request'],
    [{ token_name: SECRET, role: 'Node', public_key: weak, host_id: 'chosen' }, 'invalid_request'],
  ] as const) {
    const e = await c.post('/v1/join/token', body).catch((x: ApiError) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect([(e as ApiError).status, (e as ApiError).code]).toEqual([400, code]);
  }
  const arr = await c.request('POST', '/v1/join/token', '[]', { contentType: 'application/json' }).catch((x: ApiError) => x);
  expect((arr as ApiError).status).toBe(400);
  const { events } = await c.request<{ events: { success: boolean; code: string }[] }>('GET', '/v1/audit?type=join.token&limit=50');
  expect(events.filter((e) => !e.success && e.code === 'invalid_public_key').length).toBeGreaterThanOrEqual(3);
});

test('CLI admin commands: create -f with several documents, get, tokens ls/rm, and errors exit non-zero', async () => {
  const env = { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_CA_PIN: server.caPin };
  const dir = tmp();
  const file = path.join(dir, 'tokens.yaml');
  fs.writeFileSync(file, 'kind: token\nversion: v2\nmetadata:\n  name: multi-a\nspec:\n  roles: [Node]\n  allow:\n  - aws_account: "111111111111"\n---\n{"version":"v2","metadata":{"name":"multi-b"},"spec":{"roles":["db"],"join_method":"iam","allow":[{"aws_arn":"arn:aws:iam::111111111111:role/*"}]}}\n');
  const created = await runCli(['create', '-f', file], { env });
  expect([created.code, created.stdout]).toEqual([0, 'token "multi-a" has been created\ntoken "multi-b" has been created\n']);
  expect((await runCli(['create', '-f', file], { env })).stderr).toMatch(/already exists; use --force/);
  expect((await runCli(['create', '-f', file, '--force'], { env })).code).toBe(0);

  const got = await runCli(['get', 'token/multi-b', '--format', 'json'], { env });
  expect(JSON.parse(got.stdout).spec).toEqual({ roles: ['Db'], join_method: 'iam', allow: [{ aws_arn: 'arn:aws:iam::111111111111:role/*' }] });
  expect((await runCli(['get', 'token/multi-a'], { env })).stdout).toMatch(/aws_iid_ttl: 5m/);

  const ls = await runCli(['tokens', 'ls'], { env });
  expect(ls.stdout).toMatch(/multi-a\s+ec2\s+Node\s+1\s+never/);
  expect((await runCli(['tokens', 'rm', 'multi-a'], { env })).stdout).toBe('token "multi-a" has been deleted\n');

  // A bad second document means nothing is created.
  fs.writeFileSync(file, 'version: v2\nmetadata: {name: ok-one-long-enough-secret}\nspec: {roles: [Node]}\n---\nversion: v2\nmetadata: {name: bad-two}\nspec: {roles: [Node], join_method: ec2}\n');
  const bad = await runCli(['create', '-f', file], { env });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/document 2\): spec\.allow: is required for join_method ec2/);
  expect(await server.client().getToken('ok-one-long-enough-secret')).toBeUndefined();

  for (const args of [['get', 'token/nope'], ['tokens', 'rm', 'nope'], ['nodes', 'rm', 'nope'], ['create', '-f', '/no/such/file'], ['frobnicate'], ['tokens', 'ls', '--bogus']]) {
    const r = await runCli(args, { env });
    expect([args, r.code === 0]).toEqual([args, false]);
    expect(r.stderr).toMatch(/^error: .+\n$/);
  }
  const unauth = await runCli(['tokens', 'ls'], { env: { ...env, JOINERY_ADMIN_TOKEN: 'wrong-wrong-wrong-wrong' } });
  expect([unauth.code, unauth.stderr]).toEqual([1, expect.stringMatching(/not valid \(401\)/)]);
  const down = await runCli(['tokens', 'ls', '--addr', '127.0.0.1:1', '--insecure'], { env });
  expect(down.stderr).toMatch(/cannot reach Joinery at https:\/\/127\.0\.0\.1:1/);
});
