// Construction-time checks for the IAM constructs' props. Token values (references) are skipped:
// they are only known at apply time.

import { Token } from 'cdktf';
import { checkAwsAccount } from '../../schema/token';

// IAM user, role and policy names: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
const IAM_NAME_RE = /^[\w+=,.@-]+$/;

export class IamPropsError extends Error {
  constructor(construct: string, field: string, message: string) {
    super(`${construct}: ${field} ${message}`);
    this.name = 'IamPropsError';
  }
}

export function requireIamName(construct: string, field: string, value: unknown, max: number): void {
  if (value !== undefined && Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || value.length === 0) throw new IamPropsError(construct, field, `must be a non-empty IAM name (got ${JSON.stringify(value)})`);
  if (value.length > max || !IAM_NAME_RE.test(value)) {
    throw new IamPropsError(construct, field, `must be 1-${max} characters of letters, digits and +=,.@_- (got ${JSON.stringify(value)})`);
  }
}

export function requireAccountId(construct: string, field: string, value: unknown): void {
  if (value !== undefined && Token.isUnresolved(value)) return;
  const msg = checkAwsAccount(value);
  if (msg) throw new IamPropsError(construct, field, msg);
}

// Paths: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
const IAM_PATH_RE = /^\/([\x21-\x7e]*\/)?$/;
const POLICY_ARN_RE = /^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\x21-\x7e]+$/;
const MAX_TAGS = 50;

export function requireIamPath(construct: string, field: string, value: unknown): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || value.length > 512 || !IAM_PATH_RE.test(value)) {
    throw new IamPropsError(construct, field, `must be an IAM path of 1-512 characters that starts and ends with "/", such as /teleport/ (got ${JSON.stringify(value)})`);
  }
}

export function requirePolicyArn(construct: string, field: string, value: unknown): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || !POLICY_ARN_RE.test(value)) {
    throw new IamPropsError(construct, field, `must be a managed policy ARN such as arn:aws:iam::111111111111:policy/boundary (got ${JSON.stringify(value)})`);
  }
}

export function requireTags(construct: string, field: string, value: unknown): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new IamPropsError(construct, field, `must be a map of tag keys to values (got ${JSON.stringify(value)})`);
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS) throw new IamPropsError(construct, field, `must hold at most ${MAX_TAGS} tags (got ${entries.length})`);
  for (const [k, v] of entries) {
    if (Token.isUnresolved(k) || Token.isUnresolved(v)) continue;
    if (k.length < 1 || k.length > 128 || k.startsWith('aws:')) {
      throw new IamPropsError(construct, `${field}[${JSON.stringify(k)}]`, `key must be 1-128 characters and not start with "aws:" (got ${JSON.stringify(k)})`);
    }
    if (typeof v !== 'string' || v.length > 256) throw new IamPropsError(construct, `${field}[${JSON.stringify(k)}]`, `value must be a string of at most 256 characters (got ${JSON.stringify(v)})`);
  }
}
