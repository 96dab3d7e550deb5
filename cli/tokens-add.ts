// `joinery tokens add`, as `tctl tokens add`: a token-method token whose secret the server
// generates (an empty name asks for one), and the exact commands to run on the new host, with the
// CA pin the host must trust. ec2 and iam tokens need allow rules, which belong in a file.

import { ApiError, type TokenResource } from '../client/api-client';
import { formatDuration, parseGoDuration } from '../schema/duration';
import { UsageError, type Parsed } from './args';
import { adminClient, apiAddr, formatOf, str } from './common';
import { out, printValue, terminalValue, tokenResource } from './output';

export const DEFAULT_TOKEN_TTL = '30m';
/** Where the printed commands keep the host's identity (the agent's default). */
const HOST_DATA_DIR = '/var/lib/joinery';
const HOST_CONFIG_FILE = '/etc/joinery.yaml';
const MAX_TTL_MS = 365 * 24 * 3600_000;

function parseTtl(text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < 1000 || ms > MAX_TTL_MS) throw new UsageError(`--ttl must be a duration such as 30m, 1h or 2h30m, from 1s to 8760h (got ${JSON.stringify(text)})`);
  return ms;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (!key) throw new UsageError(`--labels must be KEY=VALUE[,KEY=VALUE...] (got ${JSON.stringify(text)})`);
    if (key in labels) throw new UsageError(`--labels gives ${key} twice`);
    labels[key] = pair.slice(eq + 1).trim();
  }
  return labels;
}

/** Quotes a word for a POSIX shell only when it needs it. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** RFC 3339 in UTC without fractions, as the token schema stores it. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function joinInstructions(opts: { token: string; roles: string[]; server: string; caPin: string; expires?: string; ttlText: string }): string {
  const [role, ...others] = opts.roles;
  const join = ['joinery', 'join', '--method', 'token', '--token', opts.token, '--role', role, '--server', opts.server, '--ca-pin', opts.caPin, '--data-dir', HOST_DATA_DIR].map(shellWord).join(' ');
  const config = [
    'version: v1',
    `auth_server: ${JSON.stringify(opts.server)}`,
    `ca_pin: ${opts.caPin}`,
    `data_dir: ${HOST_DATA_DIR}`,
    'join_params:',
    `  token_name: ${JSON.stringify(opts.token)}`,
    '  method: token',
    `role: ${role}`,
  ];
  return [
    `The invite token: ${opts.token}`,
    `It admits the role${opts.roles.length > 1 ? 's' : ''} ${opts.roles.join(', ')} and expires in ${opts.ttlText}${opts.expires ? ` (${opts.expires})` : ''}.`,
    '',
    'Run this on the new host to join it once:',
    '',
    `  ${join}`,
    ...(others.length ? ['', `(or with --role ${others.join(', --role ')})`] : []),
    '',
    `Or keep its identity renewed with the agent: write ${HOST_CONFIG_FILE} (mode 0600, the token is a secret)`,
    '',
    ...config.map((l) => `  ${l}`),
    '',
    `and run: joinery agent --config ${HOST_CONFIG_FILE}`,
    `     or: joinery install systemd --config ${HOST_CONFIG_FILE} -o /etc/systemd/system/joinery.service`,
  ].join('\n');
}

export async function tokensAdd(p: Parsed, env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now): Promise<number> {
  const format = formatOf(p, 'text');
  const method = str(p, 'join-method') ?? 'token';
  if (method === 'ec2' || method === 'iam') {
    throw new UsageError(`--join-method ${method} needs allow rules, which tokens add does not take: write the token to a file and run joinery create -f FILE (examples: test/fixtures/seeds/${method}-token.yaml)`);
  }
  if (method !== 'token') throw new UsageError(`--join-method must be token, ec2 or iam (got ${method})`);
  const type = str(p, 'type');
  if (!type) throw new UsageError('tokens add needs --type ROLE[,ROLE...], e.g. --type node');
  const roles = type.split(',').map((r) => r.trim());
  if (roles.some((r) => !r)) throw new UsageError(`--type must be a comma-separated list of roles (got ${JSON.stringify(type)})`);
  const ttlText = str(p, 'ttl') ?? DEFAULT_TOKEN_TTL;
  const ttlMs = parseTtl(ttlText);
  const labelsText = str(p, 'labels');
  const labels = labelsText === undefined ? undefined : parseLabels(labelsText);
  const value = str(p, 'value');
  if (value !== undefined && !value.trim()) throw new UsageError('--value must not be empty (leave it out to have the server generate the secret)');

  const client = adminClient(p, env);
  const body = {
    kind: 'token',
    version: 'v2',
    // An empty name for the token method asks the server to generate the secret.
    metadata: { name: value ?? '', expires: rfc3339(now() + ttlMs), ...(labels ? { labels } : {}) },
    spec: { roles, join_method: 'token' },
  };
  let created: TokenResource;
  try {
    created = await client.createToken(body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409 && e.code === 'already_exists') throw new ApiError(409, e.code, `a token with that --value already exists`);
    throw e;
  }
  if (format !== 'text') {
    printValue(tokenResource(created), format);
    return 0;
  }
  const { ca_pin: caPin } = await client.status();
  // The server's answer goes into a command and a configuration file to copy: no value of it may
  // break a line there or act on the terminal (the server validated them; this holds regardless).
  const v = terminalValue;
  const instructions = { token: v(created.metadata.name), roles: created.spec.roles.map(v), caPin: v(caPin), expires: created.metadata.expires === undefined ? undefined : v(created.metadata.expires) };
  out(joinInstructions({ ...instructions, server: str(p, 'auth-server') ?? apiAddr(p, env), ttlText: formatDuration(ttlMs) }));
  return 0;
}
