// HTTPS client for the Joinery API, shared by the CLI, the agent and the Terraform provider.

import * as https from 'node:https';
import * as net from 'node:net';
import type { ProvisionToken } from '../schema/token';
import { CLIENT_HEADER, type RecordedClient } from '../schema/token-fields';
import { parseAddr, resolveTrust, type ResolvedTrust, type TrustOptions } from './trust';

export interface ClientOptions extends TrustOptions {
  addr: string;
  adminToken?: string;
  timeoutMs?: number;
  /** PEM certificate and key presented as a TLS client certificate (a joined host renewing). */
  clientCert?: { certPem: string; keyPem: string };
  /** Names the tool in the Joinery-Client header; the server records it on the tokens it writes. */
  client?: RecordedClient;
}

export interface RequestOptions {
  contentType?: string;
  /** Aborts the request (an agent stopping on SIGTERM). */
  signal?: AbortSignal;
}

/** An API error: status 0 means the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly field?: string,
    public readonly details?: unknown,
    /** Milliseconds the server asked to wait (Retry-After), when it said so. */
    public readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Retry-After is either delta-seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (!/[a-z]/i.test(v) || Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export type TokenResource = ProvisionToken & { status?: { expired: boolean } };

export interface NodeView {
  host_id: string;
  join_method: string;
  token_name: string;
  role: string;
  joined_at: string;
  last_renewed_at: string | null;
  cert_serial: string;
  cert_expires_at: string;
  /** active: certificate valid; expired: lapsed without renewal (may join again); removed: revoked. */
  status: 'active' | 'expired' | 'removed';
  removed_at: string | null;
  attributes: Record<string, string>;
  last_seen?: string;
  agent_version?: string | null;
  hostname?: string | null;
  /** The verified identity: aws_account, aws_region, instance_id, arn (as the method proved them). */
  identity?: Record<string, string>;
  labels?: Record<string, string>;
}

/** Filters of GET /v1/nodes (they combine with AND). */
export interface NodeFilterQuery {
  status?: string;
  method?: string;
  token?: string;
  /** KEY=VALUE each. */
  labels?: string[];
  /** A duration: hosts last seen longer ago than this. */
  stale?: string;
}

export interface LockView {
  id: string;
  kind: 'host_id' | 'instance_id' | 'account' | 'arn' | 'token';
  target: string;
  /** A `token` lock's: the first 16 hex digits of the SHA-256 of the token name. */
  target_sha256?: string;
  message: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_certificates?: number;
}

function nodeFilterQuery(f: NodeFilterQuery): string {
  const q = new URLSearchParams();
  for (const key of ['status', 'method', 'token', 'stale'] as const) if (f[key] !== undefined) q.set(key, f[key]!);
  for (const l of f.labels ?? []) q.append('label', l);
  return q.toString();
}

/** What a join or a renewal answers. */
export interface IssuedCertificate {
  host_id: string;
  certificate: string;
  ca_certificates: string[];
  expires_at?: string;
}

export interface PageRequest {
  /** Items per page (the server's default is 500, its maximum 1000). */
  limit?: number;
  pageToken?: string;
}

/** One check of a dry run and its outcome. */
export interface CheckView {
  check: string;
  ok: boolean;
  detail?: string;
}

/** A join evaluated without admitting (POST /v1/tokens/test, or a join with dry_run). */
export interface EvaluationView {
  would_join: boolean;
  code?: string;
  message?: string;
  host_id?: string;
  identity?: Record<string, string>;
  checks: CheckView[];
  rules: { index: number; matched: boolean; checks: CheckView[] }[];
}

export interface TokenTestAnswer {
  would_join: boolean;
  results: (EvaluationView & { token: string; method: string })[];
}

export interface StatusView {
  cluster_name: string;
  version: string;
  ca_pin: string;
  storage: string;
  server_time: string;
  /** The CA rotation (servers of this release and later). */
  /** recorded_phase: the database's phase when this server cannot follow it (it serves on with phase). */
  ca_rotation?: { phase: string; recorded_phase?: string; mode: string; phase_started_at: string; next_phase?: string; next_phase_at?: string };
  trusted_cas?: { pin: string; state: string; signs: string[] }[];
}

/** GET /v1/ca and POST /v1/ca/rotate: the rotation and every trusted CA. */
export interface CaRotationView {
  phase: string;
  recorded_phase?: string;
  mode: string;
  phase_started_at: string;
  next_phase?: string;
  next_phase_at?: string;
  /** `key` (where the CA's key is) only in POST /v1/ca/rotate's answer, which is the admin's. */
  cas: { pin: string; state: string; signs: string[]; not_after: string; certificate: string; key?: string }[];
}

const MAX_RESPONSE = 16 * 1024 * 1024;

function pageQuery(req: PageRequest): string {
  const q = new URLSearchParams();
  if (req.limit !== undefined) q.set('limit', String(req.limit));
  if (req.pageToken !== undefined) q.set('page_token', req.pageToken);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class JoineryClient {
  private trust?: Promise<ResolvedTrust>;
  private readonly target: { host: string; port: number; origin: string };

  constructor(private readonly opts: ClientOptions) {
    this.target = parseAddr(opts.addr);
  }

  get origin(): string {
    return this.target.origin;
  }

  /** Sends a request; resolves with the parsed JSON body of a 2xx answer, throws ApiError otherwise. */
  /** The CA the server was verified against (undefined with --insecure). */
  async trustedCa(): Promise<string | undefined> {
    return (await this.resolvedTrust()).ca;
  }

  private resolvedTrust(): Promise<ResolvedTrust> {
    return (this.trust ??= resolveTrust(this.opts.addr, this.opts, this.opts.timeoutMs).catch((e: NodeJS.ErrnoException) => {
      this.trust = undefined;
      if (e.code) throw new ApiError(0, 'unreachable', `cannot reach Joinery at ${this.target.origin}: ${e.message}`);
      throw new ApiError(0, 'untrusted', e.message);
    }));
  }

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const trust = await this.resolvedTrust();
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    if (this.opts.adminToken) headers.Authorization = `Bearer ${this.opts.adminToken}`;
    if (this.opts.client) headers[CLIENT_HEADER] = this.opts.client;

    const { status, text, retryAfter } = await new Promise<{ status: number; text: string; retryAfter?: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: this.target.host,
          port: this.target.port,
          servername: net.isIP(this.target.host) ? undefined : this.target.host,
          method,
          path,
          headers,
          ca: trust.ca,
          rejectUnauthorized: !trust.insecure,
          timeout: this.opts.timeoutMs ?? 30_000,
          agent: false,
          cert: this.opts.clientCert?.certPem,
          key: this.opts.clientCert?.keyPem,
          signal: opts.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE) {
              req.destroy(new Error('response too large'));
              return;
            }
            chunks.push(c);
          });
          const ra = res.headers['retry-after'];
          res.on('end', () => {
            clearTimeout(deadline);
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(ra) ? ra[0] : ra });
          });
          res.on('error', reject);
        },
      );
      // The socket timeout only notices silence; a server trickling a byte now and then must not
      // hold a client (the agent, a Terraform run) forever, so the whole exchange has a deadline.
      const idleMs = this.opts.timeoutMs ?? 30_000;
      const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${(2 * idleMs) / 1000}s`)), 2 * idleMs);
      deadline.unref();
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', (e) => {
        clearTimeout(deadline);
        reject(e);
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    }).catch((e: Error & { code?: string }) => {
      if (opts.signal?.aborted) throw new ApiError(0, 'aborted', 'the request was cancelled');
      throw new ApiError(0, 'unreachable', `cannot reach Joinery at ${this.target.origin}: ${e.code ? `${e.code} ` : ''}${e.message}`);
    });

    let parsed: unknown = undefined;
    if (text.length) {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (status >= 200 && status < 300) throw new ApiError(status, 'bad_response', `the server answered ${status} with a body that is not JSON`);
      }
    }
    if (status >= 200 && status < 300) return parsed as T;
    const err = (parsed as { error?: { code?: string; message?: string; field?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(status, err?.code ?? `http_${status}`, err?.message ?? `the server answered ${status}`, err?.field, err?.details, parseRetryAfter(retryAfter));
  }

  /** The admin dry run: a captured proof against one token, or every token of its method. Changes nothing. */
  testTokens(name: string | undefined, body: { iid?: string; arn?: string; account?: string; role?: string; check_aws?: boolean }): Promise<TokenTestAnswer> {
    return this.request('POST', name === undefined ? '/v1/tokens/test' : `/v1/tokens/${encodeURIComponent(name)}/test`, body);
  }

  status(): Promise<StatusView> {
    return this.request('GET', '/v1/status');
  }

  /** Starts a CA rotation, moves it to a phase, or rolls it back (admin). */
  rotateCa(body: { phase?: string; rollback?: boolean; manual?: boolean; grace?: string; new_key?: string }): Promise<CaRotationView> {
    return this.request('POST', '/v1/ca/rotate', body);
  }
  /** Every token, following the pages. */
  listTokens(): Promise<TokenResource[]> {
    return collect(this.tokenPages());
  }
  /** The tokens a page at a time, as the server sends them (a listing never held whole). */
  tokenPages(limit?: number): AsyncGenerator<TokenResource[]> {
    return followPages(async (pageToken) => {
      const page = await this.listTokensPage({ limit, pageToken });
      return { items: page.tokens, next: page.next_page_token };
    });
  }
  /** One page of tokens, ordered by name. */
  async listTokensPage(req: PageRequest = {}): Promise<{ tokens: TokenResource[]; next_page_token?: string }> {
    return this.request('GET', `/v1/tokens${pageQuery(req)}`);
  }
  getToken(name: string): Promise<TokenResource | undefined> {
    return this.getOrAbsent<TokenResource>(`/v1/tokens/${encodeURIComponent(name)}`);
  }
  /** A GET whose 404 means "there is none". */
  private async getOrAbsent<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }
  createToken(token: unknown): Promise<TokenResource> {
    return this.request('POST', '/v1/tokens', token);
  }
  /** Create or replace; a metadata.revision in the token makes it a conditional update. */
  putToken(token: { metadata: { name: string; revision?: string } } & Record<string, unknown>): Promise<TokenResource> {
    return this.request('PUT', `/v1/tokens/${encodeURIComponent(token.metadata.name)}`, token);
  }
  async deleteToken(name: string): Promise<boolean> {
    try {
      await this.request('DELETE', `/v1/tokens/${encodeURIComponent(name)}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
  /** Every host, following the pages. */
  listNodes(): Promise<NodeView[]> {
    return collect(this.nodePages());
  }
  /** The hosts a page at a time, as the server sends them (a registry never held whole). */
  nodePages(limit?: number, filter: NodeFilterQuery = {}): AsyncGenerator<NodeView[]> {
    return followPages(async (pageToken) => {
      const page = await this.listNodesPage({ limit, pageToken }, filter);
      return { items: page.nodes, next: page.next_page_token };
    });
  }
  /** One page of hosts, ordered by host ID. */
  async listNodesPage(req: PageRequest = {}, filter: NodeFilterQuery = {}): Promise<{ nodes: NodeView[]; next_page_token?: string }> {
    const page = pageQuery(req);
    const filters = nodeFilterQuery(filter);
    return this.request('GET', `/v1/nodes${page}${filters ? `${page ? '&' : '?'}${filters}` : ''}`);
  }
  /** The active locks a page at a time. */
  lockPages(): AsyncGenerator<LockView[]> {
    return followPages(async (pageToken) => {
      const page = await this.request<{ locks: LockView[]; next_page_token?: string }>('GET', `/v1/locks${pageQuery({ pageToken })}`);
      return { items: page.locks, next: page.next_page_token };
    });
  }
  createLock(lock: { kind: LockView['kind']; target: string; ttl?: string; expires?: string; message?: string }): Promise<LockView> {
    return this.request('POST', '/v1/locks', lock);
  }
  /** One active lock; undefined when it was removed or has expired. */
  getLock(id: string): Promise<LockView | undefined> {
    return this.getOrAbsent<LockView>(`/v1/locks/${encodeURIComponent(id)}`);
  }
  /** Changes an active lock's end or message (null clears it); its target is fixed. */
  updateLock(id: string, changes: { expires?: string | null; message?: string | null }): Promise<LockView> {
    return this.request('PATCH', `/v1/locks/${encodeURIComponent(id)}`, changes);
  }
  async deleteLock(id: string): Promise<boolean> {
    try {
      await this.request('DELETE', `/v1/locks/${encodeURIComponent(id)}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
  async deleteNode(hostId: string): Promise<boolean> {
    try {
      await this.request('DELETE', `/v1/nodes/${encodeURIComponent(hostId)}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
  /** POST a JSON body to a (public) join endpoint. */
  post<T>(path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request('POST', path, body, opts);
  }
  /**
   * Renews the host certificate presented as this client's TLS client certificate; with a
   * public key, the new certificate is for that key (rotation).
   */
  renew(publicKeyPem?: string, opts: RequestOptions = {}, report: { agent_version?: string; hostname?: string } = {}): Promise<IssuedCertificate> {
    if (!this.opts.clientCert) throw new Error('renewal needs the host certificate and key as the client certificate');
    return this.request('POST', '/v1/renew', { ...(publicKeyPem ? { public_key: publicKeyPem } : {}), ...report }, opts);
  }
}

/** Follows next_page_token from the first page to the last, yielding each page's items. */
async function* followPages<T>(fetchPage: (pageToken?: string) => Promise<{ items: T[]; next?: string }>): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  let pageToken: string | undefined;
  for (;;) {
    const page = await fetchPage(pageToken);
    yield page.items;
    if (page.next === undefined) return;
    // A server that hands back a token it gave before would keep this loop going forever.
    if (seen.has(page.next)) throw new ApiError(200, 'bad_response', 'the server repeated a next_page_token');
    seen.add(page.next);
    pageToken = page.next;
  }
}

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const items of pages) for (const item of items) all.push(item);
  return all;
}
