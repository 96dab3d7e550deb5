// How the server treats what STS answers, with a local fake STS (mapped through the operator's
// test endpoint setting) that can answer anything: errors, throttling, junk, two results. Also
// the property that no sts_request shape ever yields a 5xx.

import fc from 'fast-check';
import { IAM_REFUSAL_CODES } from '../../api/join/iam/join-iam';
import { ApiError } from '../../client/api-client';
import { prepareIamJoin } from '../../cli/agent/iam';
import { callerIdentityJson, callerIdentityXml, startFakeSts, type FakeSts } from '../support/fake-sts';
import { startTestServer, type TestServer } from '../support/server';
import { newPublicKeyPem, TEST_CREDENTIALS, type JoinBody } from './signed-request';

const ACCOUNT = '123456789012';
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/joiner`;
const OK_XML = { status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, USER_ARN) };

let sts: FakeSts;
let server: TestServer;

beforeAll(async () => {
  sts = await startFakeSts(OK_XML);
  server = await startTestServer({ env: { JOINERY_IAM_STS_TEST_ENDPOINT: sts.url, JOINERY_IAM_STS_TIMEOUT_MS: '1500' } });
  await server.client().createToken({ version: 'v2', metadata: { name: 'iam-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT, aws_arn: `arn:aws:iam::${ACCOUNT}:user/*` }] } });
});

afterAll(async () => {
  await server?.stop();
  await sts?.stop();
});

beforeEach(() => {
  sts.answer = OK_XML;
});

async function signedBody(): Promise<JoinBody> {
  const prepared = await prepareIamJoin({ client: server.client(), tokenName: 'iam-token', role: 'Node', publicKeyPem: newPublicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });
  return prepared.body as unknown as JoinBody;
}

async function attempt(body: unknown): Promise<{ status: number; code?: string }> {
  try {
    await server.client().post('/v1/join/iam', body);
    return { status: 200 };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { status: e.status, code: e.code };
  }
}

test('the forwarded request is the signed one: headers in order and case, body, path, Host', async () => {
  const body = await signedBody();
  const before = sts.requests.length;
  expect(await attempt(body)).toEqual({ status: 200 });
  expect(sts.requests.length).toBe(before + 1);
  const got = sts.requests[before];
  expect(got.method).toBe('POST');
  expect(got.url).toBe('/');
  expect(got.body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
  // Exactly the signed headers, first and in order; then only framing the server adds.
  expect(got.rawHeaders.slice(0, body.sts_request.headers.length)).toEqual(body.sts_request.headers);
  expect(got.rawHeaders.slice(body.sts_request.headers.length).map(([n]) => n.toLowerCase()).sort()).toEqual(['connection', 'content-length']);
  expect(got.rawHeaders.find(([n]) => n.toLowerCase() === 'host')![1]).toBe('sts.amazonaws.com');
});

test('a JSON answer (Accept: application/json) is accepted', async () => {
  sts.answer = { status: 200, contentType: 'application/json', body: callerIdentityJson(ACCOUNT, USER_ARN) };
  expect(await attempt(await signedBody())).toEqual({ status: 200 });
});

test.each([
  ['403 SignatureDoesNotMatch', { status: 403, contentType: 'text/xml', body: '<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>' }, 403, 'iam_sts_denied'],
  ['403 with an identity-shaped body', { status: 403, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, USER_ARN) }, 403, 'iam_sts_denied'],
  ['500', { status: 500, contentType: 'text/xml', body: '<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>' }, 403, 'iam_sts_error'],
  ['400 Throttling', { status: 400, contentType: 'text/xml', body: '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>' }, 429, 'iam_sts_throttled'],
  ['400 Throttling as JSON', { status: 400, contentType: 'application/json', body: '{"Error":{"Code":"Throttling","Message":"Rate exceeded"}}' }, 429, 'iam_sts_throttled'],
  ['429', { status: 429, body: '' }, 429, 'iam_sts_throttled'],
  ['a redirect', { status: 302, contentType: 'text/plain', body: 'moved' }, 403, 'iam_sts_error'],
  ['non-JSON with a JSON content type', { status: 200, contentType: 'application/json', body: '<html>hello</html>' }, 403, 'iam_sts_response_invalid'],
  ['HTML', { status: 200, contentType: 'text/html', body: '<html><body>hello</body></html>' }, 403, 'iam_sts_response_invalid'],
  ['two JSON results', { status: 200, contentType: 'application/json', body: callerIdentityJson(ACCOUNT, USER_ARN) + callerIdentityJson(ACCOUNT, USER_ARN) }, 403, 'iam_sts_response_invalid'],
  [
    'two results in one JSON object',
    { status: 200, contentType: 'application/json', body: `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"${ACCOUNT}","Arn":"${USER_ARN}"},"GetCallerIdentityResult":{"Account":"${ACCOUNT}","Arn":"arn:aws:iam::${ACCOUNT}:user/other"}}}` },
    403,
    'iam_sts_response_invalid',
  ],
  ['two XML results', { status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, USER_ARN) + callerIdentityXml(ACCOUNT, USER_ARN) }, 403, 'iam_sts_response_invalid'],
  ['leading junk', { status: 200, contentType: 'text/xml', body: `x${callerIdentityXml(ACCOUNT, USER_ARN)}` }, 403, 'iam_sts_response_invalid'],
  ['an empty body', { status: 200, contentType: 'text/xml', body: '' }, 403, 'iam_sts_response_invalid'],
  ['an oversized answer', { status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, USER_ARN) + ' '.repeat(200_000) }, 403, 'iam_sts_response_too_large'],
  ['an ARN in another account', { status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, 'arn:aws:iam::999999999999:user/joiner') }, 403, 'iam_identity_invalid'],
  ['an empty Account', { status: 200, contentType: 'text/xml', body: callerIdentityXml('', USER_ARN) }, 403, 'iam_identity_invalid'],
])('STS answering %s is refused', async (_what, answer, status, code) => {
  sts.answer = answer;
  const before = sts.requests.length;
  expect(await attempt(await signedBody())).toEqual({ status, code });
  // Asked exactly once: no retries, no redirect following.
  expect(sts.requests.length).toBe(before + 1);
});

test.each([
  ['does not answer in time', true],
  ['refuses connections', false],
])('an STS that %s is refused, not waited for', async (_what, hang) => {
  const hanging = await startFakeSts({ ...OK_XML, hang: true });
  const endpoint = hang ? hanging.url : 'http://127.0.0.1:1';
  const other = await startTestServer({ env: { JOINERY_IAM_STS_TEST_ENDPOINT: endpoint, JOINERY_IAM_STS_TIMEOUT_MS: '1000' } });
  try {
    await other.client().createToken({ version: 'v2', metadata: { name: 'iam-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } });
    const prepared = await prepareIamJoin({ client: other.client(), tokenName: 'iam-token', role: 'Node', publicKeyPem: newPublicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });
    try {
      await other.client().post('/v1/join/iam', prepared.body);
      throw new Error('accepted');
    } catch (e) {
      expect((e as ApiError).code).toBe('iam_sts_unreachable');
      expect((e as ApiError).status).toBe(403);
    }
    expect(hanging.requests.length).toBe(hang ? 1 : 0);
  } finally {
    await other.stop();
    await hanging.stop();
  }
});

describe('property: any sts_request shape gets a 4xx with a code, never a 5xx', () => {
  const WEIRD_URLS = [
    'https://sts.amazonaws.com/',
    'https://evil.example/',
    'https://sts.amazonaws.com.evil.example/',
    'https://sts.amazonaws.com@evil.example/',
    'https://127.0.0.1/',
    'https://[::1]/',
    'https://sts.amazonaws.com:8443/',
    'https://sts.amazonaws.com./',
    'https://sts.amazonaws.com/x',
    'https://sts.amazonaws.com/?a=b',
    'https://sts.amazonaws.com/#x',
    'http://sts.amazonaws.com/',
    'https://sts.eu-west-1.amazonaws.com/',
    '//sts.amazonaws.com/',
    'https://sts.amazonaws.com\\@evil.example/',
    'https://%73ts.amazonaws.com/',
    '',
  ];
  const BODIES = ['Action=GetCallerIdentity&Version=2011-06-15', 'Action=GetCallerIdentity', 'Action=AssumeRole&Version=2011-06-15', ''];
  const headerName = fc.oneof(fc.constantFrom('Host', 'host', 'Authorization', 'X-Teleport-Challenge', 'X-Amz-Date', 'Content-Length', 'Transfer-Encoding', 'x-amz-security-token'), fc.string({ maxLength: 20 }));
  const headerValue = fc.oneof(fc.constantFrom('sts.amazonaws.com', 'evil.example', '0', 'chunked', 'AWS4-HMAC-SHA256 Credential=x'), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 }));
  type Mutation = { kind: 'keep' } | { kind: 'drop'; i: number } | { kind: 'dup'; i: number } | { kind: 'add'; name: string; value: string } | { kind: 'set'; i: number; value: string };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.constant({ kind: 'keep' as const }),
    fc.record({ kind: fc.constant('drop' as const), i: fc.nat(10) }),
    fc.record({ kind: fc.constant('dup' as const), i: fc.nat(10) }),
    fc.record({ kind: fc.constant('add' as const), name: headerName, value: headerValue }),
    fc.record({ kind: fc.constant('set' as const), i: fc.nat(10), value: headerValue }),
  );
  const shaped = fc.record({
    method: fc.oneof(fc.constant('POST'), fc.constantFrom('GET', 'post', 'PUT', ''), fc.string({ maxLength: 20 })),
    url: fc.oneof(fc.constantFrom(...WEIRD_URLS), fc.webUrl(), fc.string({ maxLength: 60 })),
    body: fc.oneof(fc.constantFrom(...BODIES), fc.string({ maxLength: 60 })),
    mutations: fc.array(mutation, { maxLength: 3 }),
  });
  const anyShape = fc.oneof({ weight: 4, arbitrary: shaped.map((s) => ({ shaped: s })) }, { weight: 1, arbitrary: fc.anything().map((raw) => ({ raw })) });

  function apply(headers: [string, string][], ms: Mutation[]): unknown[] {
    let out: unknown[] = headers.map((h) => [...h]);
    for (const m of ms) {
      const i = 'i' in m ? m.i % Math.max(out.length, 1) : 0;
      if (m.kind === 'drop') out = out.filter((_, j) => j !== i);
      else if (m.kind === 'dup' && out[i]) out = [...out, out[i]];
      else if (m.kind === 'add') out = [...out, [m.name, m.value]];
      else if (m.kind === 'set' && out[i]) out = out.map((h, j) => (j === i ? [(h as string[])[0], m.value] : h));
    }
    return out;
  }

  test('over random requests', async () => {
    // Anything that does reach "STS" is refused by it, so every outcome must be a refusal.
    sts.answer = { status: 403, contentType: 'text/xml', body: '<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>' };
    await fc.assert(
      fc.asyncProperty(anyShape, async (shape) => {
        const body = await signedBody();
        const sts_request = 'raw' in shape ? shape.raw : { ...shape.shaped, headers: apply(body.sts_request.headers, shape.shaped.mutations) };
        const r = await attempt({ ...body, sts_request });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(Object.keys(IAM_REFUSAL_CODES)).toContain(r.code);
      }),
      { numRuns: 150 },
    );
  });
});
