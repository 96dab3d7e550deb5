// The `token` join method: the token name itself is the shared secret. Finding the token (in
// constant time, pipeline step 2) is the whole proof; there are no rules to evaluate.

import type { JoinMethodModule } from './method';
import { badJoinRequest } from './errors';

export const tokenMethod: JoinMethodModule<undefined> = {
  method: 'token',
  summary: 'Join with a secret token name',
  // Read only to refuse it with a clear message: the server assigns a token-joined host its ID.
  fields: { host_id: { type: 'string', required: false, description: 'refused (400 invalid_request): the server assigns the host ID' } },
  eventCodes: { accepted: 'JJ001I', refused: 'JJ001W', meaning: 'a host joined (or was refused) with the token method; the token name is masked, since it is the secret' },
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
