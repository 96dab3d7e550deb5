// The agent's configuration: a YAML file shaped after teleport.yaml, every key also a flag (the
// flag wins). Validation is strict because a misspelt key silently ignored on a host that must
// keep its identity for months is worse than a refusal to start.

import * as path from 'node:path';
import { hasHostProver, hostProverMethods } from './provers';
import { parseAddr, PIN_RE } from '../../client/trust';
import { parseStrictDocuments } from '../documents';
import { readTrustedFile, UnsafePathError } from './host-files';
import { onRenewProblem } from './on-renew';
import { UsageError, type FlagSpec, type Parsed } from '../args';

/** A join method this host has a prover for (cli/agent/provers.ts); checked when the configuration is read. */
export type AgentJoinMethod = string;

export interface AgentConfig {
  authServer: string;
  caPin?: string;
  caFile?: string;
  insecure: boolean;
  dataDir: string;
  tokenName: string;
  method: AgentJoinMethod;
  role: string;
  onRenew?: string;
  /** A new key with every renewal (default); false keeps the key for the host's lifetime. */
  rotateKeys: boolean;
}

export const DEFAULT_DATA_DIR = '/var/lib/joinery';

export const AGENT_FLAGS: FlagSpec = {
  config: { kind: 'string', arg: '<file>', help: 'the YAML configuration (docs/agent.md); every key is also a flag, and a flag wins' },
  once: { kind: 'boolean', help: 'join, or renew if due, then exit (0 when the identity on disk is valid)' },
  'auth-server': { kind: 'string', arg: '<host:port>', help: 'the Joinery API (auth_server)' },
  'ca-pin': { kind: 'string', arg: '<sha256:hex>', help: "the cluster CA's pin, from `joinery status` (ca_pin)" },
  'ca-file': { kind: 'string', arg: '<file>', help: 'the cluster CA as a PEM file (ca_file)' },
  'data-dir': { kind: 'string', arg: '<dir>', help: `where the identity lives (data_dir; default ${DEFAULT_DATA_DIR})` },
  token: { kind: 'string', arg: '<name>', help: 'the join token (join_params.token_name)' },
  method: { kind: 'string', arg: '<method>', help: `${hostProverMethods().join(', ')} (join_params.method; default token)` },
  role: { kind: 'string', arg: '<role>', help: 'the role to join with (role; default Node)' },
  'on-renew': { kind: 'string', arg: '<command>', help: 'run with /bin/sh -c after each new certificate (on_renew)' },
  insecure: { kind: 'boolean', negatable: true, help: 'do not verify the server, development only (insecure)' },
  'rotate-keys': { kind: 'boolean', negatable: true, help: 'a new key with every renewal (rotate_keys; default on)' },
};

type Kind = 'string' | 'boolean';
/** The file's keys, with the flag that overrides each. */
const TOP_KEYS: Record<string, { kind: Kind | 'object'; flag?: string }> = {
  version: { kind: 'string' },
  auth_server: { kind: 'string', flag: 'auth-server' },
  ca_pin: { kind: 'string', flag: 'ca-pin' },
  ca_file: { kind: 'string', flag: 'ca-file' },
  insecure: { kind: 'boolean', flag: 'insecure' },
  data_dir: { kind: 'string', flag: 'data-dir' },
  join_params: { kind: 'object' },
  role: { kind: 'string', flag: 'role' },
  on_renew: { kind: 'string', flag: 'on-renew' },
  rotate_keys: { kind: 'boolean', flag: 'rotate-keys' },
};
const JOIN_PARAMS_KEYS: Record<string, { kind: Kind; flag: string }> = {
  token_name: { kind: 'string', flag: 'token' },
  method: { kind: 'string', flag: 'method' },
};

/** The documented keys, for docs and tests: file key → flag. */
export const CONFIG_KEYS: Record<string, string | undefined> = {
  ...Object.fromEntries(Object.entries(TOP_KEYS).map(([k, v]) => [k, v.flag && `--${v.flag}`])),
  ...Object.fromEntries(Object.entries(JOIN_PARAMS_KEYS).map(([k, v]) => [`join_params.${k}`, `--${v.flag}`])),
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function checkKeys(obj: Record<string, unknown>, spec: Record<string, { kind: Kind | 'object' }>, prefix: string, file: string): void {
  for (const [key, value] of Object.entries(obj)) {
    const s = spec[key];
    if (!s) throw new UsageError(`${file}: unknown key ${prefix}${key} (known: ${Object.keys(spec).map((k) => prefix + k).join(', ')})`);
    const ok = s.kind === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value) : typeof value === s.kind;
    if (!ok) throw new UsageError(`${file}: ${prefix}${key} must be ${s.kind === 'object' ? 'a mapping' : `a ${s.kind}`}, not ${typeName(value)}`);
  }
}

/**
 * Reads a file the agent trusts (its configuration, its CA file) only if root or the agent's user
 * alone can change it: the configuration says whom to trust and which command to run as the
 * agent's user (on_renew), so a file others can write is refused (exit status 2), never used.
 */
export function readTrustedHostFile(file: string, what: string): Buffer | undefined {
  try {
    return readTrustedFile(file, what);
  } catch (e) {
    if (e instanceof UnsafePathError) throw new UsageError(e.message, { cause: e });
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Reads and checks the file's shape; values are checked after flags are merged. */
export function readConfigFile(file: string): Record<string, unknown> {
  // Read as strictly as the server reads documents: duplicate keys, odd tags, bad UTF-8 refused.
  const bytes = readTrustedHostFile(file, 'configuration');
  if (!bytes) throw new UsageError(`cannot read ${file}: ENOENT`);
  const docs = parseStrictDocuments(bytes, file);
  if (docs.length > 1) throw new UsageError(`${file}: holds ${docs.length} YAML documents; the configuration is one`);
  const data: unknown = docs[0];
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`${file}: the configuration must be a mapping of keys, not ${typeName(data)}`);
  const obj = data as Record<string, unknown>;
  checkKeys(obj, TOP_KEYS, '', file);
  if (obj.join_params) checkKeys(obj.join_params as Record<string, unknown>, JOIN_PARAMS_KEYS, 'join_params.', file);
  if (obj.version !== undefined && obj.version !== 'v1') throw new UsageError(`${file}: version must be v1 (got ${JSON.stringify(obj.version)})`);
  return obj;
}

/** The file (if any) under the flags; refuses anything the agent could not run with. */
export function loadAgentConfig(p: Parsed, cwd: string = process.cwd()): AgentConfig {
  const configFile = typeof p.flags.config === 'string' ? path.resolve(cwd, p.flags.config) : undefined;
  const file = configFile ? readConfigFile(configFile) : {};
  const where = configFile ?? 'flags';
  const jp = (file.join_params ?? {}) as Record<string, unknown>;
  const pick = <T extends string | boolean>(fileValue: unknown, flag: string): T | undefined => (p.flags[flag] !== undefined ? (p.flags[flag] as T) : (fileValue as T | undefined));

  const authServer = pick<string>(file.auth_server, 'auth-server');
  const caPin = pick<string>(file.ca_pin, 'ca-pin');
  const caFileRaw = pick<string>(file.ca_file, 'ca-file');
  const insecure = pick<boolean>(file.insecure, 'insecure') ?? false;
  const dataDirRaw = pick<string>(file.data_dir, 'data-dir') ?? DEFAULT_DATA_DIR;
  const tokenName = pick<string>(jp.token_name, 'token');
  const method = pick<string>(jp.method, 'method') ?? 'token';
  const role = pick<string>(file.role, 'role') ?? 'Node';
  const onRenew = pick<string>(file.on_renew, 'on-renew');
  const rotateKeys = pick<boolean>(file.rotate_keys, 'rotate-keys') ?? true;

  if (!authServer) throw new UsageError(`${where}: auth_server (--auth-server HOST:PORT) is required`);
  try {
    parseAddr(authServer);
  } catch (e) {
    throw new UsageError(`${where}: auth_server: ${(e as Error).message}`);
  }
  if (caPin && caFileRaw) throw new UsageError(`${where}: give ca_pin or ca_file, not both`);
  if (caPin && !PIN_RE.test(caPin.trim().toLowerCase())) throw new UsageError(`${where}: ca_pin must be sha256:<64 hex digits> (from \`joinery status\`), got ${JSON.stringify(caPin)}`);
  if (!caPin && !caFileRaw && !insecure) throw new UsageError(`${where}: ca_pin (--ca-pin) or ca_file (--ca-file) is required to trust the server (insecure: true for development only)`);
  if (!tokenName) throw new UsageError(`${where}: join_params.token_name (--token) is required`);
  if (!hasHostProver(method)) throw new UsageError(`${where}: join_params.method must be one of ${hostProverMethods().join(', ')} (got ${JSON.stringify(method)})`);
  if (!role.trim()) throw new UsageError(`${where}: role must not be empty`);
  if (onRenew !== undefined && !onRenew.trim()) throw new UsageError(`${where}: on_renew must not be empty (leave it out instead)`);

  // Relative paths in a file are relative to the file, as an operator reading it would expect.
  const base = configFile ? path.dirname(configFile) : cwd;
  const fromFile = (flag: string) => p.flags[flag] === undefined && configFile !== undefined;
  const dataDir = path.resolve(fromFile('data-dir') ? base : cwd, dataDirRaw);
  const caFile = caFileRaw === undefined ? undefined : path.resolve(fromFile('ca-file') ? base : cwd, caFileRaw);
  // The CA file is the agent's trust anchor: held to the configuration's rules. It is read again
  // when the agent connects, which also reports one that does not exist.
  if (caFile) readTrustedHostFile(caFile, 'CA file');
  // on_renew's program runs as the agent's user: held to the same rules, before anything runs.
  const onRenewRefusal = onRenew === undefined ? undefined : onRenewProblem(onRenew, cwd);
  if (onRenewRefusal) throw new UsageError(`${where}: on_renew: ${onRenewRefusal}`);
  return { authServer, caPin: caPin?.trim().toLowerCase(), caFile, insecure, dataDir, tokenName, method: method as AgentJoinMethod, role, onRenew, rotateKeys };
}
