// Server configuration: flags win over environment variables, which win over defaults.

import * as os from 'node:os';
import * as path from 'node:path';
import { parseAuditExport, type AuditExportTarget } from './audit/export-target';
import { parseCaKeySpec, type CaKeySpec } from './ca/signers/spec';
import { parseTrustProxy } from './server/client-address';
import { parseGoDuration } from '../schema/duration';

export interface ServerConfig {
  /** Where the SQLite database, the CA key (with the default `file`) and the admin token file live. */
  dataDir: string;
  /** JOINERY_CA_KEY / `serve --ca-key`: where the CA key is (file, file:<path>, awskms:<key>, pkcs11:<URI>). */
  caKey: CaKeySpec;
  /** The setting caKey came from, for messages. */
  caKeySetting: string;
  /**
   * JOINERY_PKCS11_MODULES: PKCS#11 libraries a CA rotation may load besides the ones the cluster's
   * CAs already use. Loading a library runs its code in the server, so the admin API does not get
   * to name one freely.
   */
  pkcs11Modules: string[];
  host: string;
  port: number;
  clusterName: string;
  /** Extra DNS names / IPs for the server's TLS certificate (localhost and loopback are always in). */
  tlsSans: string[];
  /** Admin bearer credential from the environment; when unset one is generated on first start. */
  adminToken?: string;
  /** `sqlite` (default) or a postgres:// URL. */
  databaseUrl?: string;
  logLevel: string;
  /** Validity of certificates issued to joined hosts. */
  hostCertTtlMs: number;
  /** Lifetime of an IAM join challenge. */
  iamChallengeTtlMs: number;
  /**
   * EC2: PEM files with extra certificates trusted for instance identity signatures, for regions
   * AWS opens after this release (and, in tests, a test CA). Format per file: one or more
   * certificates; the region comes from a `region:` prefix in the file list entry.
   * JOINERY_EC2_EXTRA_CERTS="us-west-2=/path/a.pem,eu-new-1=/path/b.pem"
   */
  ec2ExtraCerts: { region: string; file: string }[];
  /**
   * IAM, tests only: send the forwarded GetCallerIdentity to this base URL instead of the real
   * STS host (the signed Host header is unchanged). JOINERY_IAM_STS_TEST_ENDPOINT.
   */
  iamStsTestEndpoint?: string;
  /** Timeout for the forwarded STS request. */
  iamStsTimeoutMs: number;
  /** Join requests (all methods, challenges included) one client address may make per minute; 0 = unlimited. */
  joinRatePerMinute: number;
  /** JOINERY_TRUST_PROXY: proxies (addresses/CIDRs) whose X-Forwarded-For is believed; empty = none. */
  trustProxy: string[];
  /** Unused, unexpired IAM challenges allowed at once across the cluster; beyond it 429. */
  iamMaxOutstandingChallenges: number;
  /** Audit events older than this many days are deleted; 0 = keep by age forever. */
  auditRetentionDays: number;
  /** At most this many audit events are kept (the newest); 0 = no row limit. */
  auditMaxRows: number;
  /** JOINERY_NODE_RETENTION: removed and lapsed hosts are deleted this long after (default 30d); 0 = kept. */
  nodeRetentionMs: number;
  /** JOINERY_AUDIT_EXPORT: every audit event as a JSON line to a file or stdout; unset = no export. */
  auditExport?: AuditExportTarget;
  /** EC2: how long a join may wait through DescribeInstances pacing and AWS throttling before `aws_throttled`; 0 = no retry. */
  ec2ThrottleWaitMs: number;
  /** EC2: DescribeInstances calls per second per account and region (burst: 2.5 s of them), each for up to 200 instances; AWS allows 20/s for all tools of an account together. */
  ec2DescribePerSecond: number;
  /** Connections that have not finished the TLS handshake in this time are dropped (a silent TCP connection too). */
  tlsHandshakeTimeoutMs: number;
  /** A request whose headers have not all arrived in this time gets 408 and its connection closed. */
  headersTimeoutMs: number;
  /** A request (headers and body) not received in full in this time gets 408; at least headersTimeoutMs. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections at once (handshaking, active and idle); more are closed as they arrive. */
  maxConnections: number;
  /** IAM: how long AWS Organizations answers are cached (JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS); 0 = not cached. */
  awsOrganizationsCacheTtlMs: number;
  /** IAM: at most this many accounts in that cache (JOINERY_AWS_ORGANIZATIONS_CACHE_MAX_ENTRIES). */
  awsOrganizationsCacheMaxEntries: number;
  /** SQLite's `synchronous` pragma (JOINERY_SQLITE_SYNCHRONOUS): `normal` survives crashes, `full` power loss too. */
  sqliteSynchronous: 'normal' | 'full';
  /** Of those, how many one client address (IPv6: its /64) may hold; 0 = no per-client limit. */
  maxConnectionsPerClient: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** `30d`, a Go duration (`720h`), or `0` for never; 30 days when unset. */
function nodeRetentionMs(value: string | undefined): number {
  if (value === undefined || value === '') return 30 * DAY_MS;
  const days = /^([0-9]{1,5})d$/.exec(value);
  const ms = days ? Number(days[1]) * DAY_MS : parseGoDuration(value);
  if (ms === undefined || ms < 0) throw new Error(`JOINERY_NODE_RETENTION must be a number of days (30d), a duration (720h) or 0 to keep hosts (got ${JSON.stringify(value.slice(0, 32))})`);
  return ms;
}

function sqliteSynchronous(value: string | undefined): 'normal' | 'full' {
  if (value === undefined || value === '' || value === 'normal') return 'normal';
  if (value === 'full') return 'full';
  throw new Error(`JOINERY_SQLITE_SYNCHRONOUS must be normal or full (got ${JSON.stringify(value)})`);
}

export const DEFAULT_LISTEN = '127.0.0.1:3025';
export const DEFAULT_EC2_THROTTLE_WAIT_MS = 30_000;
export const DEFAULT_EC2_DESCRIBE_PER_SECOND = 1;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new Error(`invalid listen address ${JSON.stringify(listen)}: expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

function parseExtraCerts(spec: string | undefined): { region: string; file: string }[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new Error(`JOINERY_EC2_EXTRA_CERTS entry ${JSON.stringify(entry)} must be REGION=FILE`);
      return { region: entry.slice(0, eq), file: path.resolve(entry.slice(eq + 1)) };
    });
}

function parsePkcs11Modules(value: string | undefined): string[] {
  const modules = (value ?? '').split(':').map((s) => s.trim()).filter(Boolean);
  for (const m of modules) {
    if (!path.isAbsolute(m)) throw new Error(`JOINERY_PKCS11_MODULES: ${JSON.stringify(m)} is not an absolute path (a colon-separated list of PKCS#11 libraries, e.g. /usr/lib/softhsm/libsofthsm2.so)`);
  }
  return modules.map((m) => path.normalize(m));
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  // Safe integers only: 1e308 is an "integer" to JavaScript and would overflow every date built from it.
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got ${JSON.stringify(value)})`);
  return n;
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one is cut with a warning. */
const MAX_TIMER_MS = 2_147_483_647;

/** A positive integer number of milliseconds that a timer can hold. */
function durationMs(name: string, value: string | undefined, fallback: number): number {
  const n = positiveInt(name, value, fallback);
  if (n > MAX_TIMER_MS) throw new Error(`${name} must be at most ${MAX_TIMER_MS} (about 24.8 days: the longest timer Node can set), got ${JSON.stringify(value)}`);
  return n;
}

/**
 * The cluster name becomes the CA's common name and part of every host certificate's subject and
 * URI SAN, so it is held to host-name-like characters: a comma, newline or quote there would
 * corrupt or confuse the subject.
 */
export function checkClusterName(name: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/.test(name)) {
    throw new Error(`JOINERY_CLUSTER_NAME must be 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit (got ${JSON.stringify(name)})`);
  }
  return name;
}

function defaultClusterName(): string {
  const host = os.hostname();
  return /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/.test(host) ? host : 'joinery';
}

/** Hosts renew at two thirds of this; a day by default, as low as tens of seconds to watch renewal happen. */
export const DEFAULT_HOST_CERT_TTL_SECONDS = 24 * 3600;
export const MIN_HOST_CERT_TTL_SECONDS = 10;
export const MAX_HOST_CERT_TTL_SECONDS = 366 * 24 * 3600;

function hostCertTtlSeconds(value: string | undefined): number {
  const n = positiveInt('JOINERY_HOST_CERT_TTL_SECONDS', value, DEFAULT_HOST_CERT_TTL_SECONDS);
  // Below this the agent's renewal at two thirds of the lifetime cannot outrun network latency.
  if (n < MIN_HOST_CERT_TTL_SECONDS) throw new Error(`JOINERY_HOST_CERT_TTL_SECONDS must be at least ${MIN_HOST_CERT_TTL_SECONDS} (got ${value})`);
  // Short lifetimes are the point of renewal; a year is already far past any sane setting.
  if (n > MAX_HOST_CERT_TTL_SECONDS) throw new Error(`JOINERY_HOST_CERT_TTL_SECONDS must be at most ${MAX_HOST_CERT_TTL_SECONDS} (a year; got ${value})`);
  return n;
}

export function loadConfig(flags: { dataDir?: string; listen?: string; caKey?: string } = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const listen = parseListen(flags.listen ?? env.JOINERY_LISTEN ?? DEFAULT_LISTEN);
  const caKeySetting = flags.caKey !== undefined ? '--ca-key' : 'JOINERY_CA_KEY';
  return {
    dataDir: path.resolve(flags.dataDir ?? env.JOINERY_DATA_DIR ?? './data'),
    caKey: parseCaKeySpec(flags.caKey ?? env.JOINERY_CA_KEY, caKeySetting),
    caKeySetting,
    pkcs11Modules: parsePkcs11Modules(env.JOINERY_PKCS11_MODULES),
    host: listen.host,
    port: listen.port,
    clusterName: env.JOINERY_CLUSTER_NAME ? checkClusterName(env.JOINERY_CLUSTER_NAME) : defaultClusterName(),
    tlsSans: (env.JOINERY_TLS_SANS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    adminToken: env.JOINERY_ADMIN_TOKEN || undefined,
    databaseUrl: env.JOINERY_DATABASE_URL || undefined,
    logLevel: env.JOINERY_LOG_LEVEL || 'info',
    hostCertTtlMs: hostCertTtlSeconds(env.JOINERY_HOST_CERT_TTL_SECONDS) * 1000,
    iamChallengeTtlMs: positiveInt('JOINERY_IAM_CHALLENGE_TTL_SECONDS', env.JOINERY_IAM_CHALLENGE_TTL_SECONDS, 300) * 1000,
    ec2ExtraCerts: parseExtraCerts(env.JOINERY_EC2_EXTRA_CERTS),
    iamStsTestEndpoint: env.JOINERY_IAM_STS_TEST_ENDPOINT || undefined,
    iamStsTimeoutMs: durationMs('JOINERY_IAM_STS_TIMEOUT_MS', env.JOINERY_IAM_STS_TIMEOUT_MS, 10_000),
    joinRatePerMinute: env.JOINERY_JOIN_RATE_PER_MINUTE === '0' ? 0 : positiveInt('JOINERY_JOIN_RATE_PER_MINUTE', env.JOINERY_JOIN_RATE_PER_MINUTE, 600),
    trustProxy: parseTrustProxy(env.JOINERY_TRUST_PROXY),
    iamMaxOutstandingChallenges: positiveInt('JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES', env.JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES, 10_000),
    auditRetentionDays: env.JOINERY_AUDIT_RETENTION_DAYS === '0' ? 0 : positiveInt('JOINERY_AUDIT_RETENTION_DAYS', env.JOINERY_AUDIT_RETENTION_DAYS, 90),
    auditMaxRows: env.JOINERY_AUDIT_MAX_ROWS === '0' ? 0 : positiveInt('JOINERY_AUDIT_MAX_ROWS', env.JOINERY_AUDIT_MAX_ROWS, 1_000_000),
    nodeRetentionMs: nodeRetentionMs(env.JOINERY_NODE_RETENTION),
    auditExport: parseAuditExport(env.JOINERY_AUDIT_EXPORT),
    ec2ThrottleWaitMs: env.JOINERY_EC2_THROTTLE_WAIT_MS === '0' ? 0 : durationMs('JOINERY_EC2_THROTTLE_WAIT_MS', env.JOINERY_EC2_THROTTLE_WAIT_MS, DEFAULT_EC2_THROTTLE_WAIT_MS),
    ec2DescribePerSecond: positiveInt('JOINERY_EC2_DESCRIBE_RATE', env.JOINERY_EC2_DESCRIBE_RATE, DEFAULT_EC2_DESCRIBE_PER_SECOND),
    awsOrganizationsCacheTtlMs: (env.JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS === '0' ? 0 : positiveInt('JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS', env.JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS, 300)) * 1000,
    awsOrganizationsCacheMaxEntries: positiveInt('JOINERY_AWS_ORGANIZATIONS_CACHE_MAX_ENTRIES', env.JOINERY_AWS_ORGANIZATIONS_CACHE_MAX_ENTRIES, 10_000),
    sqliteSynchronous: sqliteSynchronous(env.JOINERY_SQLITE_SYNCHRONOUS),
    ...connectionLimits(env),
  };
}

/**
 * How long a client may hold a connection without progress, and how many it may hold. Node's
 * own defaults (a two-minute TLS handshake, no connection cap) let a few thousand silent sockets
 * take a server's file descriptors.
 */
function connectionLimits(env: NodeJS.ProcessEnv): Pick<ServerConfig, 'tlsHandshakeTimeoutMs' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'maxConnectionsPerClient'> {
  const headersTimeoutMs = durationMs('JOINERY_HEADERS_TIMEOUT_MS', env.JOINERY_HEADERS_TIMEOUT_MS, 20_000);
  const requestTimeoutMs = durationMs('JOINERY_REQUEST_TIMEOUT_MS', env.JOINERY_REQUEST_TIMEOUT_MS, 30_000);
  // Node refuses the pair the other way round; say so at start, naming both settings.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new Error(`JOINERY_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed JOINERY_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  const maxConnections = positiveInt('JOINERY_MAX_CONNECTIONS', env.JOINERY_MAX_CONNECTIONS, 1_000);
  return {
    tlsHandshakeTimeoutMs: durationMs('JOINERY_TLS_HANDSHAKE_TIMEOUT_MS', env.JOINERY_TLS_HANDSHAKE_TIMEOUT_MS, 10_000),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: durationMs('JOINERY_KEEP_ALIVE_TIMEOUT_MS', env.JOINERY_KEEP_ALIVE_TIMEOUT_MS, 5_000),
    maxConnections,
    // Without it one client holding every slot (idle TLS connections, reopened as they time out)
    // shuts everyone else out. A quarter by default: a fleet behind one NAT address can still
    // burst, and it takes four addresses, not one, to fill the server.
    maxConnectionsPerClient:
      env.JOINERY_MAX_CONNECTIONS_PER_CLIENT === '0' ? 0 : positiveInt('JOINERY_MAX_CONNECTIONS_PER_CLIENT', env.JOINERY_MAX_CONNECTIONS_PER_CLIENT, Math.max(1, Math.floor(maxConnections / 4))),
  };
}
