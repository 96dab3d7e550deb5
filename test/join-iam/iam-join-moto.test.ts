// The iam join end to end against moto in authenticated mode (signatures are checked), with a
// counting proxy between the API server and moto to show which refusals never reached "AWS".

import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../client/api-client';
import { prepareIamJoin, type AwsCredentials } from '../../cli/agent/iam';
import { startCountingProxy, type CountingProxy } from '../support/counting-proxy';
import { startMotoWithIam, type MotoIam } from '../support/moto-iam';
import { runCli, startTestServer, type TestServer } from '../support/server';
import { newPublicKeyPem, setHeader, withoutHeader, type JoinBody } from './signed-request';

let aws: MotoIam;
let proxy: CountingProxy;
let server: TestServer;

beforeAll(async () => {
  aws = await startMotoWithIam();
  proxy = await startCountingProxy(aws.moto.endpoint);
  server = await startTestServer({ env: { JOINERY_IAM_STS_TEST_ENDPOINT: proxy.url } });
  const c = server.client();
  const iamToken = (name: string, allow: Record<string, string>[], roles = ['Node']) => c.createToken({ version: 'v2', metadata: { name }, spec: { roles, join_method: 'iam', allow } });
  await iamToken('iam-users', [{ aws_account: aws.account, aws_arn: `arn:aws:iam::${aws.account}:user/join*` }], ['Node', 'App']);
  await iamToken('iam-roles', [{ aws_account: aws.account, aws_arn: `arn:aws:sts::${aws.account}:assumed-role/teleport-node-role/i-*` }]);
  await iamToken('iam-account', [{ aws_account: aws.account }]);
  await iamToken('iam-other-account', [{ aws_account: '111111111111' }, { aws_account: '222222222222' }]);
  await iamToken('iam-other-arn', [{ aws_account: aws.account, aws_arn: `arn:aws:sts::${aws.account}:assumed-role/other-role/*` }]);
});

afterAll(async () => {
  await server?.stop();
  await proxy?.stop();
  await aws?.stop();
});

async function signedBody(tokenName: string, credentials: AwsCredentials, opts: { region?: string; role?: string } = {}): Promise<JoinBody> {
  const prepared = await prepareIamJoin({ client: server.client(), tokenName, role: opts.role ?? 'Node', publicKeyPem: newPublicKeyPem(), region: opts.region, credentials, env: {} });
  expect(prepared.path).toBe('/v1/join/iam');
  return prepared.body as unknown as JoinBody;
}

async function post(body: unknown): Promise<{ host_id: string; certificate: string; ca_certificates: string[] }> {
  return server.client().post('/v1/join/iam', body);
}

/** Posts and expects a refusal; returns its code and whether the request reached moto. */
async function refused(body: unknown): Promise<{ status: number; code: string; reachedAws: boolean }> {
  const before = proxy.count();
  try {
    await post(body);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(500);
    return { status: err.status, code: err.code, reachedAws: proxy.count() !== before };
  }
  throw new Error('the join was accepted');
}

const userBody = (token = 'iam-users') => signedBody(token, aws.user.credentials);
const roleBody = (token = 'iam-roles') => signedBody(token, aws.role.credentials);

describe('accepted joins', () => {
  test('an IAM user joins through a wildcard ARN rule and gets a certificate', async () => {
    const before = proxy.count();
    const res = await post(await signedBody('iam-users', aws.user.credentials, { role: 'app' }));
    expect(proxy.count()).toBe(before + 1);
    const ca = new X509Certificate(res.ca_certificates[0]);
    const cert = new X509Certificate(res.certificate);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subject).toContain(`CN=${res.host_id}`);
    const node = (await server.client().listNodes()).find((n) => n.host_id === res.host_id);
    expect(node).toMatchObject({ join_method: 'iam', token_name: 'iam-users', role: 'App' });
    expect(node!.attributes).toEqual({ account: aws.account, arn: aws.user.arn });
  });

  test('an assumed role joins as arn:aws:sts::<acct>:assumed-role/<role>/<session>', async () => {
    const res = await post(await roleBody());
    const node = (await server.client().listNodes()).find((n) => n.host_id === res.host_id);
    expect(node!.attributes).toEqual({ account: aws.account, arn: aws.role.sessionArn });
  });

  test('a regional STS endpoint and an account-only rule work too', async () => {
    const res = await post(await signedBody('iam-account', aws.role.credentials, { region: 'eu-west-1' }));
    expect(res.host_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('every attempt is audited with the identity STS returned', async () => {
    const res = await post(await userBody());
    await refused(await signedBody('iam-other-arn', aws.role.credentials));
    const { events } = await server.client().request<{ events: { type: string; success: boolean; code?: string; tokenName?: string; hostId?: string; details?: Record<string, unknown> }[] }>('GET', '/v1/audit?type=join.iam');
    expect(events.find((e) => e.hostId === res.host_id)).toMatchObject({ success: true, tokenName: 'iam-users', details: { method: 'iam', role: 'Node', identity: { aws_account: aws.account, arn: aws.user.arn, sts_host: 'sts.amazonaws.com' }, rules: [{ index: 0, matched: true, failures: [] }] } });
    expect(events.find((e) => e.code === 'iam_arn_not_allowed')).toMatchObject({ success: false, tokenName: 'iam-other-arn', details: { identity: { arn: aws.role.sessionArn }, rules: [{ index: 0, matched: false, failures: [expect.stringContaining(`does not match ${aws.role.sessionArn}`)] }] } });
  });
});

describe('joinery join --method iam', () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-iam-agent-'));
  // No AWS configuration from the machine running the tests leaks into the agent (this file's
  // process.env is its own copy, and the CLI inherits it).
  beforeAll(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  });
  const isolated = (dir: string): Record<string, string> => ({
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  const join = (dataDir: string, token: string, env: Record<string, string>) =>
    runCli(['join', '--method', 'iam', '--token', token, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', dataDir], { env });

  test('joins with credentials from the environment and writes the identity', async () => {
    const dir = tmp();
    const dataDir = path.join(dir, 'data');
    const r = await join(dataDir, 'iam-users', { ...isolated(dir), AWS_ACCESS_KEY_ID: aws.user.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.user.credentials.secretAccessKey });
    expect(r.stderr).not.toMatch(/error/i); // the AWS SDK may print a Node version notice
    expect(r.code).toBe(0);
    const identity = JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8'));
    expect(identity).toMatchObject({ join_method: 'iam', role: 'Node' });
    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
    expect(cert.checkIssued(new X509Certificate(fs.readFileSync(path.join(dataDir, 'ca.pem'))))).toBe(true);
    const node = (await server.client().listNodes()).find((n) => n.host_id === identity.host_id);
    expect(node!.attributes).toEqual({ account: aws.account, arn: aws.user.arn });
  });

  test('joins as an assumed role from a shared-config profile (AWS_PROFILE) through its regional endpoint', async () => {
    const dir = tmp();
    const c = aws.role.credentials;
    fs.writeFileSync(path.join(dir, 'config'), '[profile node]\nregion = eu-central-1\n');
    fs.writeFileSync(path.join(dir, 'credentials'), `[node]\naws_access_key_id = ${c.accessKeyId}\naws_secret_access_key = ${c.secretAccessKey}\naws_session_token = ${c.sessionToken}\n`);
    const r = await join(path.join(dir, 'data'), 'iam-roles', {
      ...isolated(dir),
      AWS_PROFILE: 'node',
      AWS_CONFIG_FILE: path.join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    });
    expect(r.stderr).not.toMatch(/error/i); // the AWS SDK may print a Node version notice
    expect(r.code).toBe(0);
    const { events } = await server.client().request<{ events: { success: boolean; hostId?: string; details?: Record<string, unknown> }[] }>('GET', '/v1/audit?type=join.iam');
    const hostId = JSON.parse(fs.readFileSync(path.join(dir, 'data', 'identity.json'), 'utf8')).host_id;
    expect(events.find((e) => e.hostId === hostId)).toMatchObject({ success: true, details: { identity: { sts_host: 'sts.eu-central-1.amazonaws.com', arn: aws.role.sessionArn } } });
  });

  test('a refused join says why and writes nothing', async () => {
    const dir = tmp();
    const dataDir = path.join(dir, 'data');
    const r = await join(dataDir, 'iam-other-account', { ...isolated(dir), AWS_ACCESS_KEY_ID: aws.user.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.user.credentials.secretAccessKey });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('iam_account_not_allowed');
    expect(fs.existsSync(path.join(dataDir, 'identity.json'))).toBe(false);
  });

  test('without any AWS credentials the agent says so', async () => {
    const dir = tmp();
    const r = await join(path.join(dir, 'data'), 'iam-users', isolated(dir));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no AWS credentials/);
  });
});

describe('refused before any request reaches AWS', () => {
  test.each([
    ['https://evil.example/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com.evil.example/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com@evil.example/', 'iam_sts_userinfo'],
    ['https://127.0.0.1/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com:8443/', 'iam_sts_port'],
    ['https://sts.amazonaws.com./', 'iam_sts_trailing_dot'],
    ['https://sts.amazonaws.com/other', 'iam_sts_path'],
    ['https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15', 'iam_sts_query'],
    ['http://sts.amazonaws.com/', 'iam_sts_scheme'],
  ])('URL %s: %s', async (url, code) => {
    const body = await userBody();
    expect(await refused({ ...body, sts_request: { ...body.sts_request, url } })).toEqual({ status: 400, code, reachedAws: false });
  });

  test.each([
    ['another action', 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/admin&RoleSessionName=x'],
    ['an extra key', 'Action=GetCallerIdentity&Version=2011-06-15&Extra=1'],
    ['a repeated key', 'Action=GetCallerIdentity&Version=2011-06-15&Action=GetCallerIdentity'],
    ['a different encoding', 'Action=GetCallerIdentity&Version=2011%2D06%2D15'],
    ['JSON', '{"Action":"GetCallerIdentity","Version":"2011-06-15"}'],
  ])('body with %s', async (_what, stsBody) => {
    const body = await userBody();
    expect(await refused({ ...body, sts_request: { ...body.sts_request, body: stsBody } })).toEqual({ status: 400, code: 'iam_sts_body', reachedAws: false });
  });

  test('challenge missing from the request', async () => {
    const { challenge: _omit, ...body } = await userBody();
    expect(await refused(body)).toEqual({ status: 400, code: 'iam_challenge_missing', reachedAws: false });
  });

  test('challenge never issued', async () => {
    const body = await userBody();
    const forged = 'A'.repeat(43);
    const r = await refused({ ...body, challenge: forged, sts_request: { ...body.sts_request, headers: setHeader(body.sts_request.headers, 'x-teleport-challenge', forged) } });
    expect(r).toEqual({ status: 403, code: 'iam_challenge_unknown', reachedAws: false });
  });

  test('challenge differing from the signed header', async () => {
    const signed = await userBody();
    const other = await userBody(); // a second issued challenge
    expect(await refused({ ...signed, challenge: other.challenge })).toEqual({ status: 400, code: 'iam_challenge_mismatch', reachedAws: false });
  });

  test('challenge reused after a successful join', async () => {
    const body = await userBody();
    await post(body);
    expect(await refused(body)).toEqual({ status: 403, code: 'iam_challenge_used', reachedAws: false });
  });

  test('challenge used up by a refused attempt', async () => {
    const body = await userBody();
    await refused({ ...body, sts_request: { ...body.sts_request, body: 'Action=GetCallerIdentity' } });
    expect(await refused(body)).toEqual({ status: 403, code: 'iam_challenge_used', reachedAws: false });
  });

  test('challenge header present but not signed', async () => {
    const body = await userBody();
    const auth = body.sts_request.headers.find(([n]) => n.toLowerCase() === 'authorization')![1];
    const headers = setHeader(body.sts_request.headers, 'authorization', auth.replace(';x-teleport-challenge', ''));
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 400, code: 'iam_challenge_not_signed', reachedAws: false });
  });

  test('challenge header absent', async () => {
    const body = await userBody();
    const headers = withoutHeader(body.sts_request.headers, 'x-teleport-challenge');
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 400, code: 'iam_challenge_header_missing', reachedAws: false });
  });

  test('duplicate Authorization headers', async () => {
    const body = await userBody();
    const auth = body.sts_request.headers.find(([n]) => n.toLowerCase() === 'authorization')!;
    const headers: [string, string][] = [...body.sts_request.headers, ['Authorization', auth[1].replace(/Signature=\w+/, `Signature=${'a'.repeat(64)}`)]];
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 400, code: 'iam_sts_authorization_duplicate', reachedAws: false });
  });

  test('Host header differing from the URL', async () => {
    const body = await userBody();
    const headers = setHeader(body.sts_request.headers, 'host', 'evil.example');
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 400, code: 'iam_sts_host_header_mismatch', reachedAws: false });
  });

  test('a token that is not an iam token, or a role it does not grant', async () => {
    await server.client().createToken({ version: 'v2', metadata: { name: 'ec2-only' }, spec: { roles: ['Node'], allow: [{ aws_account: aws.account }] } });
    expect(await refused({ ...(await userBody()), token_name: 'ec2-only' })).toEqual({ status: 403, code: 'join_method_mismatch', reachedAws: false });
    expect(await refused({ ...(await userBody()), token_name: 'no-such-token' })).toEqual({ status: 403, code: 'token_not_found', reachedAws: false });
    expect(await refused({ ...(await roleBody()), role: 'Auth' })).toEqual({ status: 403, code: 'role_not_allowed', reachedAws: false });
  });
});

describe('refused after asking AWS', () => {
  test('a tampered signature: moto refuses it, so the join is refused', async () => {
    const body = await userBody();
    const auth = body.sts_request.headers.find(([n]) => n.toLowerCase() === 'authorization')![1];
    const flipped = auth.replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === '0' ? '1' : '0'}`);
    const headers = setHeader(body.sts_request.headers, 'authorization', flipped);
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 403, code: 'iam_sts_denied', reachedAws: true });
  });

  test('a signature by credentials AWS does not know', async () => {
    const body = await signedBody('iam-users', { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'nope' });
    expect(await refused(body)).toEqual({ status: 403, code: 'iam_sts_denied', reachedAws: true });
  });

  test('a signed header changed after signing', async () => {
    const body = await userBody();
    const headers = setHeader(body.sts_request.headers, 'x-amz-date', '20200101T000000Z');
    expect(await refused({ ...body, sts_request: { ...body.sts_request, headers } })).toEqual({ status: 403, code: 'iam_sts_denied', reachedAws: true });
  });

  test('the caller account is not allowed', async () => {
    expect(await refused(await userBody('iam-other-account'))).toEqual({ status: 403, code: 'iam_account_not_allowed', reachedAws: true });
  });

  test('the caller ARN matches no rule (a user against a role pattern, a role against another role)', async () => {
    expect(await refused(await userBody('iam-roles'))).toEqual({ status: 403, code: 'iam_arn_not_allowed', reachedAws: true });
    expect(await refused(await roleBody('iam-other-arn'))).toEqual({ status: 403, code: 'iam_arn_not_allowed', reachedAws: true });
    expect(await refused(await roleBody('iam-users'))).toEqual({ status: 403, code: 'iam_arn_not_allowed', reachedAws: true });
  });
});
