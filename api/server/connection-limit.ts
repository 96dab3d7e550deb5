// Open connections per client. JOINERY_MAX_CONNECTIONS caps the server as a whole; without a share
// per client, one address holding every slot (idle TLS connections, reopened as the timeouts close
// them) would shut everyone else out. The client is the socket's peer (no header has arrived when
// a connection opens), counted as the rate limit counts it: an IPv6 client by its /64. A trusted
// proxy (JOINERY_TRUST_PROXY) carries many clients and is not limited here.

import type { Server, Socket } from 'node:net';
import { isTrustedProxy, normalizeAddress, rateLimitKey } from './client-address';

export interface PerClientLimit {
  /** 0 = no limit. */
  maxConnectionsPerClient: number;
  trustProxy: readonly string[];
}

/** Closes each new connection from a client that already holds its share; calls `refused` then. */
export function limitConnectionsPerClient(server: Server, limit: PerClientLimit, refused: (client: string) => void): void {
  if (limit.maxConnectionsPerClient <= 0) return;
  const open = new Map<string, number>();
  // Before the TLS layer's own listener: a refused connection costs no handshake.
  server.prependListener('connection', (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (peer === undefined) return; // already gone
    if (isTrustedProxy(peer, limit.trustProxy)) return;
    const client = rateLimitKey(normalizeAddress(peer) ?? peer);
    const held = open.get(client) ?? 0;
    if (held >= limit.maxConnectionsPerClient) {
      socket.destroy();
      refused(client);
      return;
    }
    open.set(client, held + 1);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}
