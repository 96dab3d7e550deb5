// The AWS side of the EC2 join in-process: DescribeInstances and AssumeRole against moto, the
// per-role credential cache, and AWS errors (answered by a local endpoint in EC2's and STS's wire
// format, parsed by the real SDK) turned into distinct refusal codes.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsInstanceLookup, awsJoinError } from '../../api/join/ec2/describe-instance';
import { JoinError } from '../../api/join/errors';
import { MOTO_DEFAULT_ACCOUNT, assumeRole, createRole, freePort, runInstance, type AwsCredentials, type Moto, startMoto } from '../support/moto';
import { caught } from '../support/caught';

const ACCOUNT_B = '333333333333';
let moto: Moto;
let roleB: string;
let bCreds: AwsCredentials;
const savedEnv = { ...process.env };

jest.setTimeout(90_000);

beforeAll(async () => {
  moto = await startMoto();
  // The SDK reads these when each client is created, as the server's would.
  process.env.AWS_ENDPOINT_URL = moto.endpoint;
  delete process.env.AWS_ENDPOINT_URL_EC2;
  delete process.env.AWS_ENDPOINT_URL_STS;
  const bootstrap = await assumeRole(moto, `arn:aws:iam::${ACCOUNT_B}:role/bootstrap`);
  roleB = await createRole(moto, { roleName: 'teleport-DescribeInstances-role', accountId: ACCOUNT_B, trustedAccount: MOTO_DEFAULT_ACCOUNT, credentials: bootstrap });
  bCreds = await assumeRole(moto, roleB);
});

afterAll(async () => {
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_EC2', 'AWS_ENDPOINT_URL_STS']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await moto?.stop();
});

// No waiting out throttling here: the error table wants the refusal itself (the bounded wait is in test/scale).
function lookup(now?: () => number): AwsInstanceLookup {
  return new AwsInstanceLookup({ baseCredentials: async () => moto.credentials, now, throttleWaitMs: 0, describePerSecond: 20 });
}

const refusal = (p: Promise<unknown>) => caught(p, JoinError);

describe('against moto', () => {
  test('own account: running, and unknown instances', async () => {
    const inst = await runInstance(moto, 'eu-west-1');
    const l = lookup();
    await expect(l.instanceState({ region: 'eu-west-1', accountId: MOTO_DEFAULT_ACCOUNT, instanceId: inst.instanceId })).resolves.toBe('running');
    await expect(l.instanceState({ region: 'eu-west-1', accountId: MOTO_DEFAULT_ACCOUNT, instanceId: 'i-0123456789abcdef0' })).resolves.toBeUndefined();
    // The same instance ID in another region is not this instance.
    await expect(l.instanceState({ region: 'eu-west-2', accountId: MOTO_DEFAULT_ACCOUNT, instanceId: inst.instanceId })).resolves.toBeUndefined();
  });

  test('a foreign account only through its role; credentials are cached per account and role until shortly before expiry', async () => {
    const inst = await runInstance(moto, 'eu-west-1', bCreds);
    let now = Date.now();
    const l = lookup(() => now);
    const q = { region: 'eu-west-1', accountId: ACCOUNT_B, instanceId: inst.instanceId };
    await expect(l.instanceState(q)).resolves.toBeUndefined();
    await expect(l.instanceState({ ...q, roleArn: roleB })).resolves.toBe('running');

    // STS goes away: the cached credentials keep working...
    process.env.AWS_ENDPOINT_URL_STS = `http://127.0.0.1:${await freePort()}`;
    try {
      await expect(l.instanceState({ ...q, roleArn: roleB })).resolves.toBe('running');
      // ...until they are within minutes of expiring; then AssumeRole is tried again and its failure is a refusal.
      now += 58 * 60_000;
      const err = await refusal(l.instanceState({ ...q, roleArn: roleB }));
      expect(err.code).toBe('aws_assume_role_failed');
      expect(err.message).toContain(roleB);
      // The failure is not cached: with STS back, the next join succeeds.
      delete process.env.AWS_ENDPOINT_URL_STS;
      await expect(l.instanceState({ ...q, roleArn: roleB })).resolves.toBe('running');
    } finally {
      delete process.env.AWS_ENDPOINT_URL_STS;
    }
  });
});

describe('AWS errors become distinct refusals', () => {
  let server: http.Server;
  let endpoint: string;
  let answer: { status: number; body: string; contentType: string };
  let hits = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits++;
        res.writeHead(answer.status, { 'Content-Type': answer.contentType });
        res.end(answer.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    delete process.env.AWS_ENDPOINT_URL_STS;
    await new Promise((r) => server.close(r));
  });

  const ec2Error = (status: number, code: string) => ({
    status,
    contentType: 'text/xml',
    body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${code} from the test endpoint</Message></Error></Errors><RequestID>req-1</RequestID></Response>`,
  });
  const stsError = (status: number, code: string) => ({
    status,
    contentType: 'text/xml',
    body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${code} from the test endpoint</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`,
  });
  const q = { region: 'eu-west-1', accountId: MOTO_DEFAULT_ACCOUNT, instanceId: 'i-0123456789abcdef0' };

  test.each([
    ['UnauthorizedOperation', 403, 'aws_access_denied', 403],
    ['AuthFailure', 401, 'aws_access_denied', 403],
    ['RequestLimitExceeded', 503, 'aws_throttled', 429],
    ['InternalError', 500, 'aws_request_failed', 403],
  ])('DescribeInstances %s', async (code, httpStatus, refusalCode, refusalStatus) => {
    process.env.AWS_ENDPOINT_URL_EC2 = endpoint;
    answer = ec2Error(httpStatus, code);
    hits = 0;
    const err = await refusal(lookup().instanceState(q));
    expect({ code: err.code, status: err.status }).toEqual({ code: refusalCode, status: refusalStatus });
    expect(hits).toBeGreaterThan(0);
    delete process.env.AWS_ENDPOINT_URL_EC2;
  });

  test.each([
    ['AccessDenied', 403, 'aws_assume_role_failed', 403],
    ['Throttling', 400, 'aws_throttled', 429],
  ])('AssumeRole %s', async (code, httpStatus, refusalCode, refusalStatus) => {
    process.env.AWS_ENDPOINT_URL_STS = endpoint;
    answer = stsError(httpStatus, code);
    const err = await refusal(lookup().instanceState({ ...q, accountId: ACCOUNT_B, roleArn: `arn:aws:iam::${ACCOUNT_B}:role/x` }));
    expect({ code: err.code, status: err.status }).toEqual({ code: refusalCode, status: refusalStatus });
    delete process.env.AWS_ENDPOINT_URL_STS;
  });

  test('no credentials at all', () => {
    const err = awsJoinError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'describe', q);
    expect(err.code).toBe('aws_credentials_unavailable');
  });
});
