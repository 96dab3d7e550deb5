// Connection settings shared by the admin commands and the agent: flags, then environment,
// then files in the local data directory (so on the server host things just work).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { JoineryClient } from '../client/api-client';
import { INSECURE_WARNING } from '../client/trust';
import { DEFAULT_LISTEN } from '../api/config';
import { UsageError, type FlagSpec, type Parsed } from './args';

export const CONNECTION_FLAGS: FlagSpec = {
  addr: { kind: 'string', arg: '<host:port>', help: 'the Joinery API (JOINERY_ADDR; default 127.0.0.1:3025)' },
  'admin-token': { kind: 'string', arg: '<token>', help: 'the admin credential (JOINERY_ADMIN_TOKEN; default <data-dir>/admin-token)' },
  'ca-pin': { kind: 'string', arg: '<sha256:hex>', help: 'trust the server whose CA has this pin, as `joinery status` prints it (JOINERY_CA_PIN)' },
  'ca-file': { kind: 'string', arg: '<file>', help: 'trust the CA in this PEM file (JOINERY_CA_FILE; default <data-dir>/ca.crt when present)' },
  insecure: { kind: 'boolean', help: 'do not verify the server (development only)' },
  'data-dir': { kind: 'string', arg: '<dir>', help: "the server's data directory, for its admin credential and CA (JOINERY_DATA_DIR; default ./data)" },
};

export const FORMATS = ['text', 'yaml', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** The same --format for every command that prints a resource or a list. */
export function formatFlag(defaultFormat: Format): FlagSpec {
  return { format: { kind: 'string', arg: '<format>', choices: FORMATS, help: `output format (default ${defaultFormat})` } };
}

export function formatOf(p: Parsed, defaultFormat: Format): Format {
  const f = str(p, 'format') ?? defaultFormat;
  if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got ${f})`);
  return f as Format;
}

/** Where the admin commands find the API. */
export function apiAddr(p: Parsed, env: NodeJS.ProcessEnv = process.env): string {
  return str(p, 'addr') ?? env.JOINERY_ADDR ?? DEFAULT_LISTEN;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function adminClient(p: Parsed, env: NodeJS.ProcessEnv = process.env): JoineryClient {
  const dataDir = path.resolve(str(p, 'data-dir') ?? env.JOINERY_DATA_DIR ?? './data');
  const addr = apiAddr(p, env);
  let adminToken = str(p, 'admin-token') ?? env.JOINERY_ADMIN_TOKEN;
  const tokenFile = path.join(dataDir, 'admin-token');
  if (!adminToken && fs.existsSync(tokenFile)) adminToken = fs.readFileSync(tokenFile, 'utf8').trim();
  return new JoineryClient({ addr, adminToken, client: 'cli', ...trustFrom(p, env, dataDir) });
}

export function trustFrom(p: Parsed, env: NodeJS.ProcessEnv, dataDir?: string): { caPin?: string; caFile?: string; insecure?: boolean } {
  const caPin = str(p, 'ca-pin') ?? env.JOINERY_CA_PIN;
  let caFile = str(p, 'ca-file') ?? env.JOINERY_CA_FILE;
  const insecure = p.flags.insecure === true || env.JOINERY_INSECURE === 'true';
  if (!caPin && !caFile && !insecure && dataDir && fs.existsSync(path.join(dataDir, 'ca.crt'))) caFile = path.join(dataDir, 'ca.crt');
  if (insecure && !caPin && !caFile) process.stderr.write(INSECURE_WARNING + '\n');
  return { caPin, caFile, insecure };
}
