// The join methods the server offers, one module each. A new method is a new module implementing
// JoinMethodModule (method.ts), its refusal codes in refusals.ts, and one line here.

import type { JoinMethod } from '../../schema/token';
import { ec2Method } from './ec2/join-ec2';
import { iamMethod } from './iam/join-iam';
import { tokenMethod } from './join-token';
import type { JoinMethodModule } from './method';

export const JOIN_METHOD_MODULES: Record<JoinMethod, JoinMethodModule> = {
  token: tokenMethod,
  ec2: ec2Method,
  iam: iamMethod,
};
