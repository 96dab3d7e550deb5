// The IAM join's refusals: its part of the one registry (api/join/refusals.ts).

import type { JoinError } from '../errors';
import { refuse, refusalsFor, type RefusalCode } from '../refusals';

/** Every code an IAM join can be refused with. */
export const IAM_REFUSAL_CODES = refusalsFor('iam');

/** A refused IAM join, with the status its code is registered with. */
export function iamRefusal(code: RefusalCode, message: string): JoinError {
  return refuse(code, message);
}
