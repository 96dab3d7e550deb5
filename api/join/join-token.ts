// The `token` join method: the token name itself is the shared secret. Finding the token (in
// constant time, pipeline step 2) is the whole proof; there are no rules to evaluate.

import type { JoinMethodModule } from './method';
import { badJoinRequest } from './errors';

export const tokenMethod: JoinMethodModule<undefined> = {
  method: 'token',
  fields: ['host_id'],
  readProof(body) {
    if (body.host_id !== undefined) throw badJoinRequest('invalid_request', 'host_id cannot be chosen with the token join method; the server assigns one');
    return undefined;
  },
  async verify() {
    return { facts: {}, attributes: {} };
  },
  evaluate() {
    return { checks: [], rules: [] };
  },
};
