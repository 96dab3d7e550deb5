// A CA rotation through every phase while 50 agents (the real agent loop, in process, real time)
// renew continuously against one real server with 10-second host certificates: no renewal fails,
// nothing restarts, every agent ends on the new CA alone; an old-CA certificate is then refused as
// rotated. A second rotation rolled back in update_clients returns every agent to the old CA.

import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { runAgent, abortableSleep, EXIT_REFUSED } from '../../cli/agent/agent';
import type { AgentConfig } from '../../cli/agent/config';
import { startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

jest.setTimeout(300_000);

const AGENTS = 50;
const TTL_SECONDS = 10;

interface RunningAgent {
  cfg: AgentConfig;
  lines: { t: number; line: string }[];
  exited?: number;
  done: Promise<void>;
}

let s: LifecycleServer;
const controller = new AbortController();
const agents: RunningAgent[] = [];

const pemsIn = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const pinOf = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });

function onDisk(a: RunningAgent) {
  const read = (f: string) => fs.readFileSync(path.join(a.cfg.dataDir, f), 'utf8');
  return { cert: new X509Certificate(read('cert.pem')), certPem: read('cert.pem'), keyPem: read('key.pem'), bundle: pemsIn(read('ca.pem')) };
}

function signedBy(cert: X509Certificate, caPem: string): boolean {
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Every agent renewed (wrote a new certificate) `times` times after `since`. Twice after a phase
 * change: a renewal answered just after it may have been issued just before.
 */
function allRenewedSince(since: number, times = 1): () => boolean {
  return () => agents.every((a) => a.lines.filter((l) => l.t > since && /^renewed the certificate/.test(l.line)).length >= times);
}

type View = { phase: string; cas: { pin: string; state: string; signs: string[]; certificate: string }[] };

/** What this test trusts the server by: the bundle of the last rotation answer, as an agent would. */
let trusted: string | undefined;

async function call(method: string, p: string, body?: unknown) {
  return s.request(method, p, { body, ca: trusted, headers: { authorization: `Bearer ${s.adminToken}` } });
}

async function admin<T>(method: string, p: string, body?: unknown): Promise<T> {
  const r = await call(method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body.toString()}`);
  return r.json() as T;
}

async function rotate(body: Record<string, unknown>): Promise<View> {
  const view = await admin<View>('POST', '/v1/ca/rotate', body);
  trusted = view.cas.map((c) => c.certificate).join('');
  return view;
}

/** Moves to the phase and waits until every agent renewed in it. */
async function phase(body: Record<string, unknown>) {
  const since = Date.now();
  const view = await rotate(body);
  await waitUntil(`every agent renewed twice in ${view.phase}`, allRenewedSince(since, 2));
  return view;
}

/** The certificate chain a new TLS connection to the server presents. */
function serverChain(): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: s.server.port, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      if (peer) resolve(peer);
      else reject(new Error('no server certificate'));
    });
    socket.once('error', reject);
  });
}

/** `openssl crl -CAfile`: whether the CRL's signature verifies with the CA. */
function crlVerifies(crlPem: string, caPem: string): boolean {
  const dir = fs.mkdtempSync(path.join(s.dataDir, 'crl-'));
  fs.writeFileSync(path.join(dir, 'crl.pem'), crlPem);
  fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
  const r = spawnSync('openssl', ['crl', '-in', path.join(dir, 'crl.pem'), '-CAfile', path.join(dir, 'ca.pem'), '-noout'], { encoding: 'utf8' });
  return r.status === 0 && /verify OK/.test(`${r.stdout}${r.stderr}`);
}

async function refusedRenewals(): Promise<number> {
  const r = await call('GET', '/metrics');
  return [...r.body.toString().matchAll(/^joinery_renewals_total\{result="refused"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

async function acceptedByCa(): Promise<Record<string, number>> {
  const r = await call('GET', '/metrics');
  const out: Record<string, number> = {};
  for (const m of r.body.toString().matchAll(/^joinery_renewals_total\{result="accepted",code="ok",ca="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

beforeAll(async () => {
  s = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: String(TTL_SECONDS), JOINERY_JOIN_RATE_PER_MINUTE: '0' });
  const token = `rotation-${Math.random().toString(36).slice(2)}-0123456789abcdef`;
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: token }, spec: { roles: ['Node'], join_method: 'token' } });
  const pin = (await admin<{ ca_pin: string }>('GET', '/v1/status')).ca_pin;
  for (let i = 0; i < AGENTS; i++) {
    const cfg: AgentConfig = { authServer: s.url, caPin: pin, insecure: false, dataDir: path.join(s.dataDir, `agent-${i}`), tokenName: token, method: 'token', role: 'Node', rotateKeys: true };
    const a: RunningAgent = { cfg, lines: [], done: Promise.resolve() };
    a.done = runAgent(cfg, { once: false }, { now: Date.now, sleep: abortableSleep, log: (line) => a.lines.push({ t: Date.now(), line }), signal: controller.signal }).then((code) => {
      a.exited = code;
    });
    agents.push(a);
  }
  await waitUntil('every agent joined and renewed once', allRenewedSince(0));
});

afterAll(async () => {
  controller.abort();
  await Promise.all(agents.map((a) => a.done));
  await s?.stop();
});

afterEach(() => {
  // No agent gave up, retried or stopped: every renewal of every agent succeeded at its first try.
  const trouble = agents.flatMap((a) => a.lines.filter((l) => /failed|error|retry|refused/i.test(l.line)).map((l) => `${a.cfg.dataDir}: ${l.line}`));
  expect(trouble).toEqual([]);
  expect(agents.filter((a) => a.exited !== undefined)).toEqual([]);
});

test('through init, update_clients, update_servers and standby with no failed renewal; then an old-CA certificate is refused as rotated', async () => {
  const oldCa = s.caPem;
  const oldPin = (await admin<{ ca_pin: string }>('GET', '/v1/status')).ca_pin;
  const kept = onDisk(agents[0]);
  // A host that goes offline now, with the old CA's certificate and bundle.
  const offline = path.join(s.dataDir, 'offline');
  fs.cpSync(agents[0].cfg.dataDir, offline, { recursive: true });
  const refusedBefore = await refusedRenewals();

  const init = await phase({ manual: true });
  expect(init.phase).toBe('init');
  expect(init.cas.map((c) => [c.state, c.signs])).toEqual([['current', ['host_certificates', 'server_certificate']], ['next', []]]);
  const newCa = init.cas[1].certificate;
  const newPin = init.cas[1].pin;
  // The public list and the status show both pins.
  expect((await call('GET', '/v1/ca')).json().cas.map((c: { pin: string }) => c.pin)).toEqual([oldPin, newPin]);
  expect((await admin<{ trusted_cas: { pin: string }[] }>('GET', '/v1/status')).trusted_cas.map((c) => c.pin)).toEqual([oldPin, newPin]);
  for (const a of agents) {
    const d = onDisk(a);
    expect(d.bundle.map(pinOf)).toEqual([oldCa, newCa].map(pinOf));
    expect(signedBy(d.cert, oldCa)).toBe(true);
  }

  await phase({ phase: 'update_clients' });
  for (const a of agents) expect(signedBy(onDisk(a).cert, newCa)).toBe(true);
  expect(signedBy(await serverChain(), oldCa)).toBe(true);
  // Each issuing CA's CRL verifies with that CA; the default is the one issuing host certificates.
  for (const [query, ca] of [['', newCa], [`&ca=${oldPin}`, oldCa]] as const) {
    const crl = await call('GET', `/v1/crl?format=pem${query}`);
    expect(crl.status).toBe(200);
    expect(crlVerifies(crl.body.toString(), ca)).toBe(true);
    expect(crlVerifies(crl.body.toString(), ca === newCa ? oldCa : newCa)).toBe(false);
  }
  expect((await call('GET', `/v1/crl?ca=sha256:${'0'.repeat(64)}`)).json().error.code).toBe('ca_not_trusted');

  await phase({ phase: 'update_servers' });
  // The server's TLS certificate was swapped with no restart: new connections get the new CA's.
  expect(signedBy(await serverChain(), newCa)).toBe(true);

  const standby = await phase({ phase: 'standby' });
  expect(standby.cas.map((c) => c.pin)).toEqual([newPin]);
  for (const a of agents) {
    const d = onDisk(a);
    expect(signedBy(d.cert, newCa)).toBe(true);
    expect(d.bundle.map(pinOf)).toEqual([pinOf(newCa)]);
  }
  expect(await refusedRenewals()).toBe(refusedBefore);
  const byCa = await acceptedByCa();
  expect(byCa[newPin]).toBeGreaterThanOrEqual(3 * AGENTS);
  expect(byCa[oldPin]).toBeGreaterThanOrEqual(2 * AGENTS);

  // The host that was offline through the whole rotation (its certificate expired meanwhile) says
  // why it cannot come back and what to do.
  const lines: string[] = [];
  const code = await runAgent({ ...agents[0].cfg, dataDir: offline }, { once: true }, { now: Date.now, sleep: abortableSleep, log: (l) => lines.push(l), signal: new AbortController().signal });
  expect(code).toBe(EXIT_REFUSED);
  expect(lines.join('\n')).toMatch(/rotated while this host was offline.*(new pin|ca_pin)/);

  // A host that kept an old-CA certificate hears that the CA was rotated.
  const r = await s.request('POST', '/v1/renew', { cert: kept.certPem, key: kept.keyPem, ca: trusted });
  expect(r.status).toBe(403);
  expect(r.json().error.code).toBe('certificate_untrusted');
  expect(r.json().error.message).toMatch(new RegExp(`issued by the CA ${oldPin}, which this cluster no longer trusts: the cluster CA was rotated \\(it is now ${newPin}\\); the host must join again`));
});

test('a rollback in update_clients returns every agent to the old CA, then standby drops the new one', async () => {
  const current = (await admin<{ trusted_cas: { pin: string }[] }>('GET', '/v1/status')).trusted_cas[0].pin;
  const refusedBefore = await refusedRenewals();
  const init = await phase({ manual: true });
  const [oldCa, newCa] = init.cas.map((c) => c.certificate);
  await phase({ phase: 'update_clients' });
  for (const a of agents) expect(signedBy(onDisk(a).cert, newCa)).toBe(true);

  // Rolling back from a phase that cannot is refused; from update_clients it works.
  const wrong = await call('POST', '/v1/ca/rotate', { phase: 'standby' });
  expect(wrong.status).toBe(409);
  expect(wrong.json().error.code).toBe('invalid_phase_transition');
  const back = await phase({ rollback: true });
  expect(back.phase).toBe('rollback');
  for (const a of agents) {
    const d = onDisk(a);
    expect(signedBy(d.cert, oldCa)).toBe(true);
    expect(d.bundle).toHaveLength(2);
  }
  const standby = await phase({ phase: 'standby' });
  expect(standby.cas.map((c) => c.pin)).toEqual([current]);
  for (const a of agents) {
    const d = onDisk(a);
    expect(signedBy(d.cert, oldCa)).toBe(true);
    expect(d.bundle.map(pinOf)).toEqual([pinOf(oldCa)]);
  }
  expect(signedBy(await serverChain(), oldCa)).toBe(true);
  expect(await refusedRenewals()).toBe(refusedBefore);
});
