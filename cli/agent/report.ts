// What the agent tells the server about itself at join and renewal, for the inventory only (the
// server bounds it and decides nothing on it): its version and the machine's hostname.

import * as os from 'node:os';
import { VERSION } from '../../api/version';
import { isSafeText } from '../../schema/text-safety';

export function agentReport(): { agent_version?: string; hostname?: string } {
  const hostname = os.hostname();
  return {
    ...(VERSION.length <= 64 && isSafeText(VERSION) ? { agent_version: VERSION } : {}),
    // A name the server would refuse is left out rather than failing the join.
    ...(hostname.length > 0 && hostname.length <= 253 && isSafeText(hostname) ? { hostname } : {}),
  };
}
