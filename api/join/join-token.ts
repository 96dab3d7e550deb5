// The `token` join method: the token name itself is the shared secret.

import { randomUUID } from 'node:crypto';
import { maskTokenName } from '../../schema/token';
import { admitHost, consumeIfSingleUse, parseAgentPublicKey, requireJoinToken, requireString, type JoinAttempt, type JoinResponse, type JoinServices } from './admit';
import { badJoinRequest } from './errors';

export async function joinWithToken(svc: JoinServices, body: Record<string, unknown>, attempt: JoinAttempt): Promise<JoinResponse> {
  const tokenName = requireString(body, 'token_name');
  attempt.tokenName = maskTokenName(tokenName);
  const role = requireString(body, 'role', 64);
  attempt.details.role = role;
  if (body.host_id !== undefined) throw badJoinRequest('invalid_request', 'host_id cannot be chosen with the token join method; the server assigns one');
  const publicKey = parseAgentPublicKey(body.public_key);
  const token = await requireJoinToken(svc, tokenName, 'token', role);
  await consumeIfSingleUse(svc, token, role);
  const hostId = randomUUID();
  attempt.hostId = hostId;
  return admitHost(svc, {
    hostId,
    token,
    role,
    publicKey,
    attributes: {},
  }, attempt);
}
