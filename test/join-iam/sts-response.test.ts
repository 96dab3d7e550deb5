import { JoinError } from '../../api/join/errors';
import { interpretStsAnswer, type StsAnswer } from '../../api/join/iam/sts-response';
import { parseStrictJson } from '../../api/join/iam/strict-json';
import { parseStrictXml } from '../../api/join/iam/strict-xml';

const ACCOUNT = '123456789012';
const ARN = 'arn:aws:sts::123456789012:assumed-role/teleport-node-role/i-0abc';
const RESULT = `<GetCallerIdentityResult><UserId>AROAEXAMPLE:i-0abc</UserId><Account>${ACCOUNT}</Account><Arn>${ARN}</Arn></GetCallerIdentityResult>`;
// As moto and STS answer (moto omits the declaration; STS includes it and indents).
const XML = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">${RESULT}<ResponseMetadata><RequestId>abc</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
const XML_STS = `<?xml version="1.0" encoding="UTF-8"?>\n<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <GetCallerIdentityResult>\n    <Arn>${ARN}</Arn>\n    <UserId>AROAEXAMPLE:i-0abc</UserId>\n    <Account>${ACCOUNT}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`;
const JSON_BODY = JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: ACCOUNT, Arn: ARN, UserId: 'AROAEXAMPLE:i-0abc' }, ResponseMetadata: { RequestId: 'abc' } } });

const answer = (body: string, contentType: string | undefined = 'text/xml', status = 200): StsAnswer => ({ status, contentType, body: Buffer.from(body) });

function refusal(a: StsAnswer): { code: string; status: number } {
  try {
    interpretStsAnswer(a);
  } catch (e) {
    expect(e).toBeInstanceOf(JoinError);
    return { code: (e as JoinError).code, status: (e as JoinError).status };
  }
  throw new Error('the answer was accepted');
}

describe('interpretStsAnswer', () => {
  it('reads the XML answer of moto and of STS', () => {
    expect(interpretStsAnswer(answer(XML))).toEqual({ account: ACCOUNT, arn: ARN, userId: 'AROAEXAMPLE:i-0abc' });
    expect(interpretStsAnswer(answer(XML_STS, 'text/xml; charset=utf-8'))).toEqual({ account: ACCOUNT, arn: ARN, userId: 'AROAEXAMPLE:i-0abc' });
    expect(interpretStsAnswer(answer(XML, 'application/xml')).arn).toBe(ARN);
  });

  it('reads the JSON answer STS gives for Accept: application/json', () => {
    expect(interpretStsAnswer(answer(JSON_BODY, 'application/json'))).toEqual({ account: ACCOUNT, arn: ARN, userId: 'AROAEXAMPLE:i-0abc' });
  });

  it('decodes entities in XML text', () => {
    const arn = 'arn:aws:iam::123456789012:user/a&b';
    expect(interpretStsAnswer(answer(XML.replace(ARN, 'arn:aws:iam::123456789012:user/a&amp;b'))).arn).toBe(arn);
  });

  it.each([
    [403, '<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>', 'iam_sts_denied', 403],
    [403, '{"Error":{"Code":"InvalidClientTokenId","Message":"no"}}', 'iam_sts_denied', 403],
    [400, '<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>', 'iam_sts_throttled', 429],
    [429, '', 'iam_sts_throttled', 429],
    [500, '<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>', 'iam_sts_error', 403],
    [503, '', 'iam_sts_error', 403],
    [302, '', 'iam_sts_error', 403],
    // a non-200 is never read for identity, however valid the body looks
    [403, XML, 'iam_sts_denied', 403],
    [201, XML, 'iam_sts_error', 403],
  ])('refuses status %d (%#) with %s', (status, body, code, httpStatus) => {
    expect(refusal(answer(body, 'text/xml', status))).toEqual({ code, status: httpStatus });
  });

  it.each([
    ['text/plain', XML],
    ['text/html', XML],
    ['', XML],
    ['application/json', XML],
    ['text/xml', JSON_BODY],
    ['application/json', `junk${JSON_BODY}`],
    ['application/json', `${JSON_BODY}{}`],
    ['application/json', `${JSON_BODY}${JSON_BODY}`],
    ['application/json', `[${JSON_BODY},${JSON_BODY}]`],
    ['application/json', JSON_BODY.replace('"ResponseMetadata"', `"GetCallerIdentityResult":{"Account":"${ACCOUNT}","Arn":"arn:aws:iam::${ACCOUNT}:user/other"},"ResponseMetadata"`)],
    ['application/json', JSON_BODY.replace('"UserId"', `"Arn":"arn:aws:iam::${ACCOUNT}:user/other","UserId"`)],
    ['application/json', JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: ACCOUNT, Arn: ARN } }, Extra: 1 })],
    ['application/json', JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: 123456789012, Arn: ARN } } })],
    ['application/json', JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: [{ Account: ACCOUNT, Arn: ARN }] } })],
    ['application/json', JSON.stringify({ Account: ACCOUNT, Arn: ARN })],
    ['text/xml', `junk${XML}`],
    ['text/xml', `${XML}junk`],
    ['text/xml', `${XML}${XML}`],
    ['text/xml', `${XML}<!-- trailing -->`],
    ['text/xml', XML.replace('<ResponseMetadata>', `${RESULT}<ResponseMetadata>`)],
    ['text/xml', XML.replace('<UserId>', `<Arn>arn:aws:iam::${ACCOUNT}:user/other</Arn><UserId>`)],
    ['text/xml', XML.replace('<UserId>', '<Extra>x</Extra><UserId>')],
    ['text/xml', XML.replace(`<Arn>${ARN}</Arn>`, `<Arn><X>${ARN}</X></Arn>`)],
    ['text/xml', XML.replace('GetCallerIdentityResponse', 'AssumeRoleResponse').replace('GetCallerIdentityResponse>', 'AssumeRoleResponse>')],
    ['text/xml', `<!DOCTYPE x [<!ENTITY a "b">]>${XML}`],
    ['text/xml', XML.replace(ARN, `<![CDATA[${ARN}]]>`)],
    ['text/xml', XML.replace(ARN, `${ARN}&unknown;`)],
    ['text/xml', XML.replace('</GetCallerIdentityResponse>', '')],
    ['text/xml', XML.replace('</Arn>', '</arn>')],
    ['text/xml', XML.replace('<GetCallerIdentityResult>', '<GetCallerIdentityResult>text')],
    ['text/xml', ''],
  ])('refuses a malformed or ambiguous answer (%s, #%#)', (contentType, body) => {
    expect(refusal(answer(body, contentType))).toEqual({ code: 'iam_sts_response_invalid', status: 403 });
  });

  it('refuses an answer without a content type', () => {
    expect(refusal({ status: 200, contentType: undefined, body: Buffer.from(XML) }).code).toBe('iam_sts_response_invalid');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(refusal({ status: 200, contentType: 'text/xml', body: Buffer.concat([Buffer.from(XML.slice(0, 100)), Buffer.from([0xff, 0xfe]), Buffer.from(XML.slice(100))]) }).code).toBe('iam_sts_response_invalid');
  });

  it.each([
    ['empty Account', XML.replace(`<Account>${ACCOUNT}</Account>`, '<Account></Account>')],
    ['no Account', XML.replace(`<Account>${ACCOUNT}</Account>`, '')],
    ['empty Arn', XML.replace(`<Arn>${ARN}</Arn>`, '<Arn/>')],
    ['no Arn', XML.replace(`<Arn>${ARN}</Arn>`, '')],
    ['ARN in another account', XML.replace(ARN, 'arn:aws:sts::999999999999:assumed-role/teleport-node-role/i-0abc')],
    ['ARN with the account elsewhere', XML.replace(ARN, `arn:aws:sts:::assumed-role/${ACCOUNT}/x`)],
    ['not an ARN', XML.replace(ARN, ACCOUNT)],
    ['non-IAM ARN', XML.replace(ARN, `arn:aws:s3::${ACCOUNT}:bucket`)],
    ['short Account', XML.replace(`<Account>${ACCOUNT}</Account>`, '<Account>1234</Account>').replace(ARN, 'arn:aws:sts::1234:assumed-role/r/s')],
  ])('refuses an identity with %s', (_why, body) => {
    expect(refusal(answer(body)).code).toBe('iam_identity_invalid');
  });
});

describe('strict readers', () => {
  it('parses JSON like JSON.parse where it is unambiguous', () => {
    for (const text of ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}', ' {} ', '[]', '"s"', '0']) {
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }
  });

  it('refuses duplicate keys, trailing data and deep nesting', () => {
    expect(() => parseStrictJson('{"a":1,"a":2}')).toThrow(/duplicate key/);
    expect(() => parseStrictJson('{"a":1} x')).toThrow(/trailing/);
    expect(() => parseStrictJson('[1,]')).toThrow();
    expect(() => parseStrictJson('01')).toThrow();
    expect(() => parseStrictJson('"a\nb"')).toThrow(/control/);
    expect(() => parseStrictJson('['.repeat(100) + ']'.repeat(100))).toThrow(/deep/);
  });

  it('keeps __proto__ as data', () => {
    const v = parseStrictJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });

  it('reads elements, attributes and text, and refuses what STS never sends', () => {
    const el = parseStrictXml('<?xml version="1.0"?><a x="1" y=\'&lt;2\'><b>t&#65;&#x42;</b><c/></a>');
    expect(el.name).toBe('a');
    expect(el.attributes).toEqual({ x: '1', y: '<2' });
    expect(el.children.map((c) => [c.name, c.text])).toEqual([
      ['b', 'tAB'],
      ['c', ''],
    ]);
    expect(() => parseStrictXml('<a><?pi?></a>')).toThrow();
    expect(() => parseStrictXml('<a x="1" x="2"/>')).toThrow(/duplicate attribute/);
    expect(() => parseStrictXml('<a>&#0;</a>')).toThrow();
    expect(() => parseStrictXml('<a>x & y</a>')).toThrow();
    expect(() => parseStrictXml('<a>' + '<b>'.repeat(40) + '</b>'.repeat(40) + '</a>')).toThrow(/deep/);
    expect(() => parseStrictXml('<a></a><b></b>')).toThrow(/trailing/);
  });
});
