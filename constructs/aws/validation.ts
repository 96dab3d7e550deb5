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
