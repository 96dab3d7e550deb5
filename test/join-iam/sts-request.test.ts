import { randomBytes } from 'node:crypto';
import { JoinError } from '../../api/join/errors';
import { parseStsRequestShape, validateStsRequest, type StsRequestInput } from '../../api/join/iam/sts-request';
import { setHeader, signedJoinBody, withoutHeader } from './signed-request';

const CHALLENGE = randomBytes(32).toString('base64url');
let good: StsRequestInput;

beforeAll(async () => {
  good = (await signedJoinBody({ challenge: CHALLENGE })).sts_request;
});

function refusal(req: StsRequestInput, challenge = CHALLENGE): { code: string; status: number } {
  try {
    validateStsRequest(req, challenge);
  } catch (e) {
    expect(e).toBeInstanceOf(JoinError);
    return { code: (e as JoinError).code, status: (e as JoinError).status };
  }
  throw new Error('the request was accepted');
}

const withUrl = (url: string): StsRequestInput => ({ ...good, url });

describe('validateStsRequest', () => {
  it('accepts the request the agent signs', () => {
    const v = validateStsRequest(good, CHALLENGE);
    expect(v.host).toBe('sts.amazonaws.com');
    expect(v.signedHeaders).toEqual(expect.arrayContaining(['host', 'x-teleport-challenge', 'x-amz-date']));
    expect(v.headers).toBe(good.headers);
    expect(v.credentialRegion).toBe('us-east-1');
  });

  it('accepts regional endpoints and upper-case hosts', async () => {
    const regional = (await signedJoinBody({ challenge: CHALLENGE, region: 'eu-west-1' })).sts_request;
    expect(validateStsRequest(regional, CHALLENGE).host).toBe('sts.eu-west-1.amazonaws.com');
    const upper = { ...good, url: 'https://STS.AMAZONAWS.COM/', headers: setHeader(good.headers, 'host', 'STS.amazonaws.com') };
    expect(validateStsRequest(upper, CHALLENGE).host).toBe('sts.amazonaws.com');
  });

  it.each([
    ['https://evil.example/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com.evil.example/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com@evil.example/', 'iam_sts_userinfo'],
    ['https://user:pw@sts.amazonaws.com/', 'iam_sts_userinfo'],
    ['https://52.94.0.1/', 'iam_sts_host_not_allowed'],
    ['https://[::1]/', 'iam_sts_host_not_allowed'],
    ['https://sts.amazonaws.com:8443/', 'iam_sts_port'],
    ['https://sts.amazonaws.com:443/', 'iam_sts_port'],
    ['https://sts.amazonaws.com./', 'iam_sts_trailing_dot'],
    ['http://sts.amazonaws.com/', 'iam_sts_scheme'],
    ['ftp://sts.amazonaws.com/', 'iam_sts_scheme'],
    ['https://sts.amazonaws.com', 'iam_sts_path'],
    ['https://sts.amazonaws.com/x', 'iam_sts_path'],
    ['https://sts.amazonaws.com//', 'iam_sts_path'],
    ['https://sts.amazonaws.com/%2F', 'iam_sts_path'],
    ['https://sts.amazonaws.com/?Action=GetCallerIdentity', 'iam_sts_query'],
    ['https://sts.amazonaws.com/?', 'iam_sts_query'],
    ['https://sts.amazonaws.com/#frag', 'iam_sts_url_invalid'],
    ['sts.amazonaws.com/', 'iam_sts_url_invalid'],
    ['https://sts.amazonaws.com/ ', 'iam_sts_url_invalid'],
    ['https:\\\\sts.amazonaws.com\\', 'iam_sts_url_invalid'],
    ['https://sts.amazonaws.com\\@evil.example/', 'iam_sts_userinfo'],
    ['https://sts%2eamazonaws.com/', 'iam_sts_host_not_allowed'],
  ])('refuses the URL %s with %s', (url, code) => {
    expect(refusal(withUrl(url))).toEqual({ code, status: 400 });
  });

  it.each(['GET', 'post', 'PUT', 'POST '])('refuses method %j', (method) => {
    expect(refusal({ ...good, method }).code).toBe('iam_sts_method');
  });

  it.each([
    'Action=GetCallerIdentity&Version=2011-06-15&Action=AssumeRole',
    'Action=AssumeRole&Version=2011-06-15',
    'Action=GetCallerIdentity&Version=2011-06-15&Action=GetCallerIdentity',
    'Version=2011-06-15&Action=GetCallerIdentity',
    'Action=GetCallerIdentity&Version=2011-06-15&',
    'Action=GetCallerIdentity&Version=2011-06-15\n',
    'Action=GetCallerIdentity&Version=2011%2D06%2D15',
    'Action=Get%43allerIdentity&Version=2011-06-15',
    'action=GetCallerIdentity&version=2011-06-15',
    '{"Action":"GetCallerIdentity","Version":"2011-06-15"}',
    '',
  ])('refuses body %j', (body) => {
    expect(refusal({ ...good, body }).code).toBe('iam_sts_body');
  });

  it('refuses a missing, repeated or malformed Authorization header', () => {
    const auth = good.headers.find(([n]) => n.toLowerCase() === 'authorization')!;
    expect(refusal({ ...good, headers: withoutHeader(good.headers, 'authorization') }).code).toBe('iam_sts_authorization_missing');
    expect(refusal({ ...good, headers: [...good.headers, auth] }).code).toBe('iam_sts_authorization_duplicate');
    expect(refusal({ ...good, headers: [...good.headers, ['AUTHORIZATION', auth[1]]] }).code).toBe('iam_sts_authorization_duplicate');
    for (const bad of [
      'Bearer abc',
      auth[1].replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'),
      auth[1].replace('/sts/', '/ec2/'),
      auth[1].replace(/Signature=[0-9a-f]+/, 'Signature=xyz'),
      `${auth[1]}, Signature=${'0'.repeat(64)}`,
      ` ${auth[1]}`,
    ]) {
      expect(refusal({ ...good, headers: setHeader(good.headers, 'authorization', bad) }).code).toBe('iam_sts_authorization_invalid');
    }
  });

  it('refuses a header repeated in any case', () => {
    const date = good.headers.find(([n]) => n.toLowerCase() === 'x-amz-date')!;
    expect(refusal({ ...good, headers: [...good.headers, ['X-Amz-Date', date[1]]] }).code).toBe('iam_sts_header_repeated');
    expect(refusal({ ...good, headers: [...good.headers, ['x-amz-date', date[1]]] }).code).toBe('iam_sts_header_repeated');
    expect(refusal({ ...good, headers: [...good.headers, ['Host', 'sts.amazonaws.com']] }).code).toBe('iam_sts_header_repeated');
  });

  it('refuses header injection and connection headers', () => {
    expect(refusal({ ...good, headers: [...good.headers, ['X-Evil', 'a\r\nHost: evil.example']] }).code).toBe('iam_sts_header_invalid');
    expect(refusal({ ...good, headers: [...good.headers, ['X Evil', 'a']] }).code).toBe('iam_sts_header_invalid');
    expect(refusal({ ...good, headers: [...good.headers, ['X-Evil', 'caf\u00e9']] }).code).toBe('iam_sts_header_invalid');
    expect(refusal({ ...good, headers: [...good.headers, ['Transfer-Encoding', 'chunked']] }).code).toBe('iam_sts_header_invalid');
    expect(refusal({ ...good, headers: [...good.headers, ['Connection', 'upgrade']] }).code).toBe('iam_sts_header_invalid');
    expect(refusal({ ...good, headers: [...good.headers, ['Content-Length', '5']] }).code).toBe('iam_sts_header_invalid');
    expect(validateStsRequest({ ...good, headers: [...good.headers, ['Content-Length', String(good.body.length)]] }, CHALLENGE).host).toBe('sts.amazonaws.com');
  });

  it('refuses a Host header that is missing, different from the URL, or unsigned', () => {
    expect(refusal({ ...good, headers: withoutHeader(good.headers, 'host') }).code).toBe('iam_sts_host_header_missing');
    expect(refusal({ ...good, headers: setHeader(good.headers, 'host', 'evil.example') }).code).toBe('iam_sts_host_header_mismatch');
    expect(refusal({ ...good, headers: setHeader(good.headers, 'host', 'sts.amazonaws.com:443') }).code).toBe('iam_sts_host_header_mismatch');
    expect(refusal({ ...good, url: 'https://sts.us-west-2.amazonaws.com/' }).code).toBe('iam_sts_host_header_mismatch');
    const unsignedHost = setHeader(good.headers, 'authorization', good.headers.find(([n]) => n === 'authorization')![1].replace(/([=;])host;/, '$1'));
    expect(refusal({ ...good, headers: unsignedHost }).code).toBe('iam_sts_host_not_signed');
  });

  it('refuses a challenge header that is missing, different or not signed', () => {
    expect(refusal({ ...good, headers: withoutHeader(good.headers, 'x-teleport-challenge') }).code).toBe('iam_challenge_header_missing');
    expect(refusal(good, randomBytes(32).toString('base64url')).code).toBe('iam_challenge_mismatch');
    expect(refusal({ ...good, headers: setHeader(good.headers, 'x-teleport-challenge', `${CHALLENGE} `) }).code).toBe('iam_challenge_mismatch');
    const auth = good.headers.find(([n]) => n === 'authorization')![1];
    expect(auth).toContain(';x-teleport-challenge');
    const unsigned = setHeader(good.headers, 'authorization', auth.replace(';x-teleport-challenge', ''));
    expect(refusal({ ...good, headers: unsigned }).code).toBe('iam_challenge_not_signed');
  });
});

describe('parseStsRequestShape', () => {
  it.each([
    undefined,
    null,
    'POST https://sts.amazonaws.com/',
    [],
    {},
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: {}, body: '' },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: [['a']], body: '' },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: [['a', 1]], body: '' },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: [['a', 'b', 'c']], body: '' },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: [], body: 1 },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: [], body: '', extra: true },
    { method: 7, url: 'https://sts.amazonaws.com/', headers: [], body: '' },
    { method: 'POST', url: 'x'.repeat(5000), headers: [], body: '' },
    { method: 'POST', url: 'https://sts.amazonaws.com/', headers: Array.from({ length: 65 }, (_, i) => [`h${i}`, 'v']), body: '' },
  ])('refuses malformed shape #%# with a 400', (raw) => {
    try {
      parseStsRequestShape(raw);
      throw new Error('accepted');
    } catch (e) {
      expect((e as JoinError).code).toBe('iam_sts_request_invalid');
      expect((e as JoinError).status).toBe(400);
    }
  });
});
