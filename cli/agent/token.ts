// Host side of the token join method: the token's name is the whole proof.

import type { HostProver } from './provers';

export const tokenProver: HostProver = {
  hostIdFromProof: false,
  prepare: async (ctx) => ({ path: '/v1/join/token', body: { token_name: ctx.tokenName, role: ctx.role, public_key: ctx.publicKeyPem } }),
};
