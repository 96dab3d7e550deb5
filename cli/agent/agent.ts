// The long-running agent: join when the data directory holds no identity, then renew the host
// certificate at two thirds of its lifetime, forever (as SPIRE agents do with their SVIDs). Time,
// sleep, randomness and the HTTP client are passed in, so tests run whole lifetimes in no time.

import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { ApiError, JoineryClient, type ClientOptions } from '../../client/api-client';
import { CertificateCheckError, checkIssuedCertificate, pinOf } from '../../client/trust';
import { joinHost } from '../join';
import type { AgentConfig } from './config';
import { UnsafePathError } from './host-files';
import { IDENTITY_FILES, readIdentity, readIdentityFile, writeIdentity, type Identity, type Warn } from './identity';
import { runOnRenew, type HookEvent } from './on-renew';
import { DEFAULT_BACKOFF, isRetryable, renewalDue, retryDelay, type BackoffPolicy } from './schedule';
import { agentReport } from './report';

export interface AgentDeps {
  now: () => number;
  /** Resolves after ms, or early when the signal aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  log: (line: string) => void;
  signal: AbortSignal;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** With --once, how many attempts before giving up on a retryable failure. */
  onceAttempts?: number;
  makeClient?: (opts: ClientOptions) => JoineryClient;
  runHook?: (command: string, ev: HookEvent) => Promise<{ ok: boolean; summary: string }>;
  /** Join with this instead of the join preparers (tests). */
  join?: typeof joinHost;
}

export const DEFAULT_ONCE_ATTEMPTS = 6;

/**
 * Exit codes: 1 for failures a restart may cure (damaged files, retries exhausted), 3 for a refusal
 * that retrying cannot change (removed node, refused join, a certificate failing its checks), so a
 * service manager can stop restarting (RestartPreventExitStatus).
 */
export const EXIT_FAILED = 1;
export const EXIT_REFUSED = 3;

/** The identity on disk, read and checked for consistency. */
export interface HostState {
  identity: Identity;
  keyPem: string;
  certPem: string;
  caPem: string;
  cert: X509Certificate;
  notBefore: number;
  notAfter: number;
  /** When the agent wrote this certificate (renewed_at, else joined_at). */
  obtainedAt?: number;
}

export function loadHostState(dataDir: string, warn?: Warn): HostState | undefined {
  const identity = readIdentity(dataDir, warn);
  if (!identity) return undefined;
  const read = (name: string) => {
    const text = readIdentityFile(dataDir, name);
    if (text === undefined) throw new Error(`${path.join(dataDir, name)} is missing; the data directory holds a damaged identity`);
    return text;
  };
  const keyPem = read(IDENTITY_FILES.key);
  const certPem = read(IDENTITY_FILES.cert);
  const caPem = read(IDENTITY_FILES.ca);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the certificate is not for the key');
  } catch (e) {
    throw new Error(`${dataDir} holds a damaged identity (${(e as Error).message}); remove it to join again`, { cause: e });
  }
  checkBundle(dataDir, caPem);
  const obtained = Date.parse(identity.renewed_at ?? identity.joined_at ?? '');
  return { identity, keyPem, certPem, caPem, cert, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo), obtainedAt: Number.isFinite(obtained) ? obtained : undefined };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * ca.pem is the host's only trust in the server after its join: it must hold CA certificates and
 * nothing else. A damaged or replaced one is named here, with what to do, rather than surfacing
 * as the TLS library's complaint about "the CA certificate given" at the next renewal.
 */
function checkBundle(dataDir: string, caPem: string): void {
  const file = path.join(dataDir, IDENTITY_FILES.ca);
  const blocks = caPem.match(PEM_CERTIFICATE) ?? [];
  let why = blocks.length === 0 ? 'no certificate' : undefined;
  for (const block of blocks) {
    if (why) break;
    try {
      if (!new X509Certificate(block).ca) why = 'a certificate that is not a CA';
    } catch (e) {
      why = `a certificate that cannot be read (${(e as Error).message})`;
    }
  }
  if (why) {
    throw new AgentStop(
      `${file} holds ${why}: the host's trust bundle was damaged or replaced, and the agent will not guess whom to trust. ` +
        `Join again (remove the identity from ${dataDir} and run the agent with a valid token, or \`joinery join\`) with the pin from \`joinery status\``,
    );
  }
}

/** A refusal that retrying cannot fix: the agent stops with this one-line reason. */
export class AgentStop extends Error {}

class Stopped extends Error {}
class GaveUp extends Error {
  constructor(readonly last: unknown) {
    super('gave up');
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function reason(e: unknown): string {
  if (e instanceof ApiError) return e.status ? `${e.message} (${e.status} ${e.code})` : e.message;
  return (e as Error)?.message ?? String(e);
}

export async function runAgent(cfg: AgentConfig, mode: { once: boolean }, deps: AgentDeps): Promise<number> {
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const random = deps.random ?? Math.random;
  const makeClient = deps.makeClient ?? ((o: ClientOptions) => new JoineryClient(o));
  const join = deps.join ?? joinHost;
  const runHook = deps.runHook ?? runOnRenew;
  const { signal, log } = deps;
  const trust = { caPin: cfg.caPin, caFile: cfg.caFile, insecure: cfg.insecure };
  const stopped = () => signal.aborted;

  /** Runs fn until it succeeds, retrying what can be retried; `until` bounds the retries in time. */
  async function withRetry<T>(what: string, fn: () => Promise<T>, until?: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fn();
        if (stopped()) throw new Stopped();
        return r;
      } catch (e) {
        if (stopped() || e instanceof Stopped) throw new Stopped();
        if (!isRetryable(e)) throw e;
        if (mode.once && attempt + 1 >= (deps.onceAttempts ?? DEFAULT_ONCE_ATTEMPTS)) throw new GaveUp(e);
        let delay = retryDelay(attempt, backoff, e instanceof ApiError ? e.retryAfterMs : undefined, random);
        if (until !== undefined) {
          const left = until - deps.now();
          if (left <= 0) throw new GaveUp(e);
          delay = Math.min(delay, left);
        }
        log(`${what} failed: ${reason(e)}; retry ${attempt + 1} in ${(delay / 1000).toFixed(1)}s`);
        await deps.sleep(delay, signal);
        if (stopped()) throw new Stopped();
      }
    }
  }

  async function hook(event: HookEvent['event'], hostId: string): Promise<void> {
    if (!cfg.onRenew) return;
    const r = await runHook(cfg.onRenew, { event, hostId, dataDir: cfg.dataDir });
    log(r.ok ? r.summary : `${r.summary} (the new certificate is in place; the agent carries on)`);
  }

  async function joinOnce(replaceExisting: boolean): Promise<void> {
    const client = makeClient({ addr: cfg.authServer, ...trust });
    const outcome = await withRetry(replaceExisting ? 're-join' : 'join', () =>
      join(client, { method: cfg.method, tokenName: cfg.tokenName, role: cfg.role, dataDir: cfg.dataDir, replaceExisting, signal, now: deps.now, warn: log }),
    );
    if (!outcome.joined) {
      log(`${cfg.dataDir} already holds the identity of this host (${outcome.existing.host_id})`);
      return;
    }
    log(`${replaceExisting ? 're-joined' : 'joined'} as ${outcome.hostId} (method ${cfg.method}, role ${cfg.role}); certificate valid until ${iso(Date.parse(outcome.certificate.validTo))}`);
    await hook(replaceExisting ? 'rejoin' : 'join', outcome.hostId);
  }

  async function renewOnce(state: HostState): Promise<void> {
    // After the join the host trusts the server by the CA bundle in ca.pem, which every renewal
    // refreshes: through a CA rotation the bundle holds the old and the new CA, so the server's
    // certificate may come from either. The configured pin or CA file is for the first contact.
    const bundle = cfg.insecure ? { insecure: true } : { caPem: state.caPem };
    const client = makeClient({ addr: cfg.authServer, ...bundle, clientCert: { certPem: state.certPem, keyPem: state.keyPem } });
    const res = await withRetry(
      'renewal',
      async () => {
        // A new key each attempt would be wasted work; one per renewal is enough.
        const next = cfg.rotateKeys ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : undefined;
        const publicKeyPem = next ? (next.publicKey.export({ type: 'spki', format: 'pem' }) as string) : (createPublicKey(state.keyPem).export({ type: 'spki', format: 'pem' }) as string);
        const answer = await client.renew(next ? publicKeyPem : undefined, { signal }, agentReport()).catch((e: unknown) => {
          throw rotatedAway(e, state.caPem) ?? e;
        });
        return { answer, publicKeyPem, keyPem: next ? (next.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) : state.keyPem };
      },
      state.notAfter,
    );
    if (res.answer.host_id !== state.identity.host_id) {
      throw new CertificateCheckError(`the server renewed the certificate for host ${JSON.stringify(res.answer.host_id)}, not ${state.identity.host_id}; nothing was written`);
    }
    const returned = Array.isArray(res.answer.ca_certificates) ? res.answer.ca_certificates : [];
    // The new certificate may come from a CA the bundle gained in this very answer (a rotation's
    // new CA): that answer came over a connection verified against ca.pem, so it is the server's.
    // With --insecure the CA saved at join time is a better anchor than whatever this server sends.
    const anchor = cfg.insecure ? state.caPem : state.caPem + returned.join('');
    const cert = checkIssuedCertificate({ certPem: res.answer.certificate, publicKeyPem: res.publicKeyPem, trustedCaPem: anchor, returnedCaPems: returned, now: new Date(deps.now()) });
    if (stopped()) throw new Stopped();
    writeIdentity(cfg.dataDir, {
      keyPem: res.keyPem,
      certPem: res.answer.certificate,
      caPem: returned.length ? returned.join('') : state.caPem,
      identity: { ...state.identity, renewed_at: iso(deps.now()) },
    }, log);
    log(`renewed the certificate of ${state.identity.host_id}${cfg.rotateKeys ? ' with a new key' : ''}; serial ${cert.serialNumber.toLowerCase()}, valid until ${iso(Date.parse(cert.validTo))}`);
    await hook('renew', state.identity.host_id);
  }

  /** The certificate lapsed (agent down, or renewals failing until expiry): renewal is impossible. */
  async function afterExpiry(state: HostState): Promise<void> {
    const what = `the certificate of ${state.identity.host_id} expired at ${iso(state.notAfter)}; renewal is impossible`;
    if (cfg.method === 'token') log(`${what}; joining again with the configured token (a new host ID), which works only while that token is valid`);
    else log(`${what}; joining again with the ${cfg.method} method`);
    try {
      await joinOnce(true);
    } catch (e) {
      if (cfg.method === 'token' && e instanceof ApiError && ['token_not_found', 'token_expired'].includes(e.code)) {
        throw new AgentStop(`${what}, and the join token is no longer valid (${e.code}): create a new token and set join_params.token_name (--token) to it`);
      }
      // The configured pin no longer matches: the usual cause is a CA rotation while this host was away.
      if (e instanceof ApiError && e.code === 'untrusted' && cfg.caPin) {
        throw new AgentStop(
          `${what}, and joining again failed: ${e.message}. If the cluster CA was rotated while this host was offline, set ca_pin (--ca-pin) to the new pin from \`joinery status\` (GET /v1/ca lists every trusted CA) and start the agent again`,
        );
      }
      throw e;
    }
  }

  try {
    for (;;) {
      if (stopped()) throw new Stopped();
      const state = loadHostState(cfg.dataDir, log);
      if (!state) {
        log(`no identity in ${cfg.dataDir}; joining ${cfg.authServer} with the ${cfg.method} method`);
        await joinOnce(false);
        if (mode.once) return validOnDisk();
        continue;
      }
      const now = deps.now();
      if (now >= state.notAfter) {
        await afterExpiry(state);
        if (mode.once) return validOnDisk();
        continue;
      }
      const due = renewalDue(state);
      if (now < due) {
        if (mode.once) {
          log(`certificate of ${state.identity.host_id} valid until ${iso(state.notAfter)}; renewal due at ${iso(due)}; nothing to do`);
          return 0;
        }
        log(`certificate of ${state.identity.host_id} valid until ${iso(state.notAfter)}; next renewal at ${iso(due)}`);
        await deps.sleep(due - now, signal);
        continue;
      }
      try {
        await renewOnce(state);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'certificate_expired') {
          await afterExpiry(state);
        } else if (e instanceof GaveUp) {
          if (deps.now() >= state.notAfter) {
            log(`renewal failed until the certificate expired: ${reason(e.last)}`);
            await afterExpiry(state);
          } else {
            log(`renewal failed: ${reason(e.last)}; giving up for this run`);
            if (mode.once) return validOnDisk();
          }
        } else {
          throw e;
        }
      }
      if (mode.once) return validOnDisk();
    }
  } catch (e) {
    if (e instanceof Stopped || stopped()) {
      log('stopped');
      return 0;
    }
    if (e instanceof GaveUp) {
      log(`error: giving up: ${reason(e.last)}`);
      return EXIT_FAILED;
    }
    log(`error: ${reason(e)}`);
    const refused = e instanceof AgentStop || e instanceof UnsafePathError || e instanceof CertificateCheckError || (e instanceof ApiError && e.status >= 400 && e.status < 500) || (e instanceof ApiError && e.code === 'untrusted');
    return refused ? EXIT_REFUSED : EXIT_FAILED;
  }

  function validOnDisk(): number {
    const s = loadHostState(cfg.dataDir, log);
    if (s && deps.now() < s.notAfter) return 0;
    log(`error: no valid identity in ${cfg.dataDir} after this run`);
    return EXIT_FAILED;
  }
}

/** What OpenSSL says when no CA in the trust bundle signed the server's certificate. */
const UNTRUSTED_SERVER = /\b(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE|DEPTH_ZERO_SELF_SIGNED_CERT)\b/;

/**
 * A renewal that failed because the server's certificate chains to no CA in ca.pem: most likely
 * the cluster CA was rotated while this host was away, and it must join again. But the host's
 * certificate is still valid, so the cause may also pass: a replica (behind the same address)
 * that has not followed the rotation yet still shows the old CA's certificate. So this is retried,
 * saying why, until the certificate expires; then joining again with the configured pin says
 * what to do if the CA really changed.
 */
function rotatedAway(e: unknown, caPem: string): ApiError | undefined {
  if (!(e instanceof ApiError) || e.code !== 'unreachable' || !UNTRUSTED_SERVER.test(e.message)) return undefined;
  const pins = (caPem.match(PEM_CERTIFICATE) ?? []).map((pem) => pinOf(new X509Certificate(pem)));
  return new ApiError(
    e.status,
    e.code,
    `the server's TLS certificate is signed by no CA this host trusts (ca.pem holds ${pins.join(', ') || 'no certificate'}): the cluster CA was most likely rotated while this host was offline, or a server has not followed a rotation yet. ` +
      'If it persists, join again (remove the identity from the data directory and run the agent with a valid token, or `joinery join`), using the new pin from `joinery status` (ca_pin); an intercepting proxy would look the same, so check the pin first',
  );
}

/** A real-time sleep that an AbortSignal cuts short. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    // Timers past 2^31-1 ms fire at once; long waits are cut into slices.
    const t = setTimeout(done, Math.min(ms, 2_147_000_000));
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
