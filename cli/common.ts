// Connection settings shared by the admin commands and the agent: flags, then environment,
// then files in the local data directory (so on the server host things just work).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { JoineryClient } from '../client/api-client';
import { INSECURE_WARNING } from '../client/trust';
import { DEFAULT_LISTEN } from '../api/config';
import type { FlagSpec, Parsed } from './args';

export const CONNECTION_FLAGS: FlagSpec = {
  addr: 'string',
  'admin-token': 'string',
  'ca-pin': 'string',
  'ca-file': 'string',
  insecure: 'boolean',
  'data-dir': 'string',
};

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function adminClient(p: Parsed, env: NodeJS.ProcessEnv = process.env): JoineryClient {
  const dataDir = path.resolve(str(p, 'data-dir') ?? env.JOINERY_DATA_DIR ?? './data');
  const addr = str(p, 'addr') ?? env.JOINERY_ADDR ?? DEFAULT_LISTEN;
  let adminToken = str(p, 'admin-token') ?? env.JOINERY_ADMIN_TOKEN;
  const tokenFile = path.join(dataDir, 'admin-token');
  if (!adminToken && fs.existsSync(tokenFile)) adminToken = fs.readFileSync(tokenFile, 'utf8').trim();
  return new JoineryClient({ addr, adminToken, ...trustFrom(p, env, dataDir) });
}

export function trustFrom(p: Parsed, env: NodeJS.ProcessEnv, dataDir?: string): { caPin?: string; caFile?: string; insecure?: boolean } {
  const caPin = str(p, 'ca-pin') ?? env.JOINERY_CA_PIN;
  let caFile = str(p, 'ca-file') ?? env.JOINERY_CA_FILE;
  const insecure = p.flags.insecure === true || env.JOINERY_INSECURE === 'true';
  if (!caPin && !caFile && !insecure && dataDir && fs.existsSync(path.join(dataDir, 'ca.crt'))) caFile = path.join(dataDir, 'ca.crt');
  if (insecure && !caPin && !caFile) process.stderr.write(INSECURE_WARNING + '\n');
  return { caPin, caFile, insecure };
}
