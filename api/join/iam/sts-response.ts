// Turning the STS answer into a caller identity, strictly. Only a 200 is ever read for an
// identity; the body is parsed by its declared content type (JSON when the agent asked for it,
// XML as STS and emulators may answer) and must hold exactly one GetCallerIdentity result.

import { AWS_ACCOUNT_RE } from '../../../schema/aws';
import { iamRefusal } from './refusals';
import { parseStrictJson } from './strict-json';
import { parseStrictXml, type XmlElement } from './strict-xml';

export interface StsAnswer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface CallerIdentity {
  account: string;
  arn: string;
  userId?: string;
}

const MAX_ARN = 2048;
// Error codes AWS uses when it throttles a caller.
const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'RequestThrottledException', 'SlowDown']);
const RESULT_FIELDS = ['Account', 'Arn', 'UserId'];

/** The AWS error code of a refusal, for the operator's message only (never for identity). */
function errorCodeOf(body: Buffer): string | undefined {
  const text = body.subarray(0, 4096).toString('latin1');
  const m = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text) ?? /"(?:Code|__type)"\s*:\s*"([A-Za-z0-9.#:]{1,64})"/.exec(text);
  return m?.[1].replace(/^.*#/, '');
}

function invalid(why: string): Error {
  return iamRefusal('iam_sts_response_invalid', `the STS answer is not a valid GetCallerIdentity result: ${why}`);
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function decodeUtf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalid('the body is not UTF-8');
  }
}

function fromJson(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseStrictJson(text);
  } catch (e) {
    throw invalid(`malformed JSON (${(e as Error).message})`);
  }
  const only = (v: unknown, keys: string[], where: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where} is not an object`);
    const extra = Object.keys(v).filter((k) => !keys.includes(k));
    if (extra.length) throw invalid(`${where} has unexpected ${extra.join(', ')}`);
    return v as Record<string, unknown>;
  };
  const root = only(doc, ['GetCallerIdentityResponse'], 'the document');
  const response = only(root.GetCallerIdentityResponse, ['GetCallerIdentityResult', 'ResponseMetadata'], 'GetCallerIdentityResponse');
  const result = only(response.GetCallerIdentityResult, RESULT_FIELDS, 'GetCallerIdentityResult');
  for (const [k, v] of Object.entries(result)) if (typeof v !== 'string') throw invalid(`${k} is not a string`);
  return result;
}

function fromXml(text: string): Record<string, unknown> {
  let root: XmlElement;
  try {
    root = parseStrictXml(text);
  } catch (e) {
    throw invalid(`malformed XML (${(e as Error).message})`);
  }
  const children = (el: XmlElement, allowed: string[]): Map<string, XmlElement> => {
    const byName = new Map<string, XmlElement>();
    for (const child of el.children) {
      if (!allowed.includes(child.name)) throw invalid(`<${el.name}> has an unexpected <${child.name}>`);
      if (byName.has(child.name)) throw invalid(`<${el.name}> has more than one <${child.name}>`);
      byName.set(child.name, child);
    }
    return byName;
  };
  if (root.name !== 'GetCallerIdentityResponse') throw invalid(`the root element is <${root.name}>`);
  const result = children(root, ['GetCallerIdentityResult', 'ResponseMetadata']).get('GetCallerIdentityResult');
  if (!result) throw invalid('there is no <GetCallerIdentityResult>');
  const fields: Record<string, unknown> = {};
  for (const [name, el] of children(result, RESULT_FIELDS)) {
    if (el.children.length) throw invalid(`<${name}> is not text`);
    fields[name] = el.text;
  }
  return fields;
}

/** The caller identity in a 200 answer; refuses every other answer with its own code. */
export function interpretStsAnswer(answer: StsAnswer): CallerIdentity {
  if (answer.status !== 200) {
    const code = errorCodeOf(answer.body);
    const what = `STS answered ${answer.status}${code ? ` ${code}` : ''}`;
    if (answer.status === 429 || (code && THROTTLING_CODES.has(code))) throw iamRefusal('iam_sts_throttled', `${what}: throttled, retry later`);
    if (answer.status >= 400 && answer.status < 500) throw iamRefusal('iam_sts_denied', `${what}: the signed request was refused`);
    throw iamRefusal('iam_sts_error', `${what}: no identity was returned`);
  }
  const type = mediaType(answer.contentType);
  const text = decodeUtf8(answer.body);
  let fields: Record<string, unknown>;
  if (type === 'application/json') fields = fromJson(text);
  else if (type === 'text/xml' || type === 'application/xml') fields = fromXml(text);
  else throw invalid(`unexpected content type ${JSON.stringify(answer.contentType ?? '')}`);
  return checkIdentity(fields);
}

/** Account and Arn present, sane, and the ARN in that same account. */
export function checkIdentity(fields: Record<string, unknown>): CallerIdentity {
  const account = fields.Account;
  const arn = fields.Arn;
  const userId = fields.UserId;
  if (typeof account !== 'string' || account === '') throw iamRefusal('iam_identity_invalid', 'the STS identity has no Account');
  if (typeof arn !== 'string' || arn === '') throw iamRefusal('iam_identity_invalid', 'the STS identity has no Arn');
  if (!AWS_ACCOUNT_RE.test(account)) throw iamRefusal('iam_identity_invalid', `the STS Account ${JSON.stringify(account)} is not a 12-digit account ID`);
  if (arn.length > MAX_ARN || /[\s\u0000-\u001f\u007f-\u009f]/.test(arn)) throw iamRefusal('iam_identity_invalid', 'the STS Arn is too long or contains white space');
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn' || !/^aws(?:-[a-z-]+)?$/.test(parts[1]) || !['sts', 'iam'].includes(parts[2])) {
    throw iamRefusal('iam_identity_invalid', `the STS Arn ${JSON.stringify(arn)} is not an IAM or STS ARN`);
  }
  if (parts[4] !== account) throw iamRefusal('iam_identity_invalid', `the STS Arn is in account ${parts[4]}, but Account is ${account}`);
  return { account, arn, ...(typeof userId === 'string' && userId ? { userId } : {}) };
}
