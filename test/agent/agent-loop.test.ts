// The agent's loop in-process, against the scripted HTTPS server, with an injected clock: whole
// certificate lifetimes pass in milliseconds.

import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../client/api-client';
import { agentReport } from '../../cli/agent/report';
import { runAgent, EXIT_REFUSED, type AgentDeps } from '../../cli/agent/agent';
import type { AgentConfig } from '../../cli/agent/config';
import { writeIdentity } from '../../cli/agent/identity';
import type { JoinSettings } from '../../cli/join';
import { refusal, startFakeJoinery, type FakeAnswer, type FakeJoinery, type FakeRequest } from './support/fake-joinery';
import { createTestCa, newKeyPair, type TestCa } from './support/test-pki';

// api/version.ts reads package.json relative to dist/; from the sources that path does not exist.
jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));

const MIN = 60_000;
const LIFETIME = 60 * MIN;
let ca: TestCa;
let tmp: string;

beforeAll(async () => {
  ca = await createTestCa('loop-ca');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-loop-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function config(server: FakeJoinery, over: Partial<AgentConfig> = {}): AgentConfig {
  return { authServer: server.addr, caPin: ca.pin, insecure: false, dataDir: fs.mkdtempSync(path.join(tmp, 'd-')), tokenName: 'tok-secret', method: 'token', role: 'Node', rotateKeys: true, ...over };
}

/** A clock that only moves when the agent sleeps; `stopAfter` sleeps abort the agent. */
function fakeTime(stopAfterSleeps: number) {
  const controller = new AbortController();
  // Whole seconds, as X.509 validity has no finer precision.
  const clock = { t: Math.floor(Date.now() / 1000) * 1000, sleeps: [] as number[], lines: [] as string[] };
  const deps: AgentDeps = {
    now: () => clock.t,
    sleep: async (ms) => {
      clock.sleeps.push(ms);
      clock.t += ms;
      if (clock.sleeps.length >= stopAfterSleeps) controller.abort();
    },
    log: (l) => clock.lines.push(l),
    signal: controller.signal,
    random: () => 0.5,
    backoff: { baseMs: 1_000, maxMs: 60_000, maxRetryAfterMs: 10 * MIN },
  };
  return { clock, deps, controller };
}

/** Issues certificates valid from the fake clock's now for LIFETIME. */
function issuer(clock: { t: number }) {
  return async (r: FakeRequest, hostId = 'host-1'): Promise<FakeAnswer> => {
    const certificate = await ca.issue({ publicKeyPem: String(r.body.public_key), cn: hostId, notBefore: new Date(clock.t), notAfter: new Date(clock.t + LIFETIME) });
    return { status: 200, body: { host_id: hostId, certificate, ca_certificates: [ca.certPem] } };
  };
}

async function identityOnDisk(dataDir: string, clock: { t: number }, notBefore: number, notAfter: number, hostId = 'host-1') {
  const k = newKeyPair();
  const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: hostId, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
  writeIdentity(dataDir, { keyPem: k.keyPem, certPem, caPem: ca.certPem, identity: { host_id: hostId, join_method: 'token', role: 'Node', server: 'x', joined_at: new Date(notBefore).toISOString() } });
  return { ...k, certPem };
}

test('joins, then renews at two thirds of each lifetime, presenting the current certificate and rotating the key', async () => {
  const { clock, deps } = fakeTime(4);
  const issue = issuer(clock);
  const seen: { clientCert?: string; diskCert: string; publicKey: string }[] = [];
  let cfg!: AgentConfig;
  const server = await startFakeJoinery(ca, async (r) => {
    if (r.path === '/v1/join/token') return issue(r);
    if (r.path === '/v1/renew') {
      seen.push({ clientCert: r.clientCertPem, diskCert: fs.readFileSync(path.join(cfg.dataDir, 'cert.pem'), 'utf8'), publicKey: String(r.body.public_key) });
      return issue(r);
    }
    return refusal(404, 'not_found');
  });
  try {
    cfg = config(server);
    const start = clock.t;
    expect(await runAgent(cfg, { once: false }, deps)).toBe(0);
    expect(server.requests.map((r) => r.path)).toEqual(['/v1/join/token', '/v1/renew', '/v1/renew', '/v1/renew']);
    // Each wait ran to two thirds of the lifetime of the certificate just written.
    expect(clock.sleeps).toEqual([40 * MIN, 40 * MIN, 40 * MIN, 40 * MIN]);
    expect(clock.t - start).toBe(160 * MIN);
    for (const s of seen) {
      expect(new X509Certificate(s.clientCert!).raw.equals(new X509Certificate(s.diskCert).raw)).toBe(true);
      expect(s.publicKey).toMatch(/BEGIN PUBLIC KEY/);
    }
    expect(new Set(seen.map((s) => s.publicKey)).size).toBe(3);
    const cert = new X509Certificate(fs.readFileSync(path.join(cfg.dataDir, 'cert.pem')));
    expect(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(cfg.dataDir, 'key.pem'))))).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(seen[2].publicKey);
    expect(JSON.parse(fs.readFileSync(path.join(cfg.dataDir, 'identity.json'), 'utf8'))).toMatchObject({ host_id: 'host-1', renewed_at: expect.any(String) });
    expect(clock.lines.filter((l) => l.startsWith('renewed'))).toHaveLength(3);
  } finally {
    await server.stop();
  }
});

test('with rotate_keys false the renewal keeps the key and sends no public_key', async () => {
  const { clock, deps } = fakeTime(99);
  const issue = issuer(clock);
  const server = await startFakeJoinery(ca, async (r) => issue({ ...r, body: { public_key: r.body.public_key ?? createPublicKey(r.clientCertPem!).export({ type: 'spki', format: 'pem' }) } }));
  try {
    const cfg = config(server, { rotateKeys: false });
    const disk = await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    expect(await runAgent(cfg, { once: true }, deps)).toBe(0);
    expect(server.requests).toHaveLength(1);
    // No new key: only what the agent reports of itself for the inventory.
    expect(server.requests[0].body).toEqual(agentReport());
    expect(server.requests[0].body).toHaveProperty('agent_version');
    expect(fs.readFileSync(path.join(cfg.dataDir, 'key.pem'), 'utf8')).toBe(disk.keyPem);
    expect(fs.readFileSync(path.join(cfg.dataDir, 'cert.pem'), 'utf8')).not.toBe(disk.certPem);
  } finally {
    await server.stop();
  }
});

test('a 429 with Retry-After is waited out; 5xx is retried with backoff; the certificate is not replaced meanwhile', async () => {
  const { clock, deps } = fakeTime(99);
  const issue = issuer(clock);
  const server = await startFakeJoinery(ca, async (r, n) => (n === 1 ? refusal(429, 'rate_limited', 'slow down', { 'Retry-After': '120' }) : n === 2 ? refusal(503, 'unavailable') : issue(r)));
  try {
    const cfg = config(server);
    await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    expect(await runAgent(cfg, { once: true }, deps)).toBe(0);
    expect(server.requests).toHaveLength(3);
    expect(clock.sleeps[0]).toBe(120_000);
    expect(clock.sleeps[1]).toBe(1_500); // second retry: step 2 s, half of it jitter at 0.5
    expect(clock.lines.some((l) => /renewal failed: slow down \(429 rate_limited\); retry 1 in 120\.0s/.test(l))).toBe(true);
  } finally {
    await server.stop();
  }
});

test('retries of a renewal stop at the certificate\'s expiry; then the agent re-joins (ec2/iam) instead of renewing', async () => {
  const { clock, deps } = fakeTime(99);
  const joins: JoinSettings[] = [];
  deps.join = async (_client, s) => {
    joins.push(s);
    const k = newKeyPair();
    const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'host-1', notBefore: new Date(clock.t), notAfter: new Date(clock.t + LIFETIME) });
    writeIdentity(s.dataDir, { keyPem: k.keyPem, certPem, caPem: ca.certPem, identity: { host_id: 'host-1', join_method: 'ec2', role: 'Node', server: 'x', joined_at: '' } });
    return { joined: true, hostId: 'host-1', certificate: new X509Certificate(certPem) };
  };
  const server = await startFakeJoinery(ca, () => refusal(503, 'unavailable'));
  try {
    const cfg = config(server, { method: 'ec2' });
    await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    const expiry = clock.t + 10 * MIN;
    expect(await runAgent(cfg, { once: true }, { ...deps, onceAttempts: 1_000 })).toBe(0);
    expect(clock.t).toBe(expiry);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(60_000);
    expect(joins).toHaveLength(1);
    expect(joins[0]).toMatchObject({ method: 'ec2', replaceExisting: true });
    expect(clock.lines.join('\n')).toMatch(/expired at .*; renewal is impossible; joining again with the ec2 method/);
  } finally {
    await server.stop();
  }
});

test('a server that answers certificate_expired to a renewal gets a re-join (iam), not a retry', async () => {
  const { clock, deps } = fakeTime(99);
  const joins: JoinSettings[] = [];
  deps.join = async (_client, s) => {
    joins.push(s);
    const k = newKeyPair();
    const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'host-9', notBefore: new Date(clock.t), notAfter: new Date(clock.t + LIFETIME) });
    writeIdentity(s.dataDir, { keyPem: k.keyPem, certPem, caPem: ca.certPem, identity: { host_id: 'host-9', join_method: 'iam', role: 'Node', server: 'x', joined_at: new Date(clock.t).toISOString() } });
    return { joined: true, hostId: 'host-9', certificate: new X509Certificate(certPem) };
  };
  const server = await startFakeJoinery(ca, () => refusal(403, 'certificate_expired', 'the certificate expired'));
  try {
    const cfg = config(server, { method: 'iam' });
    await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    expect(await runAgent(cfg, { once: true }, deps)).toBe(0);
    expect(server.requests).toHaveLength(1);
    expect(joins).toEqual([expect.objectContaining({ method: 'iam', replaceExisting: true })]);
    expect(JSON.parse(fs.readFileSync(path.join(cfg.dataDir, 'identity.json'), 'utf8')).host_id).toBe('host-9');
  } finally {
    await server.stop();
  }
});

test('expired while the agent was down, token method: a re-join is tried, and a dead token is reported as needing a new one', async () => {
  const { clock, deps } = fakeTime(99);
  deps.join = async () => {
    throw new ApiError(403, 'token_expired', 'the join token expired');
  };
  const server = await startFakeJoinery(ca, () => refusal(500, 'not_expected'));
  try {
    const cfg = config(server);
    await identityOnDisk(cfg.dataDir, clock, clock.t - 90 * MIN, clock.t - 30 * MIN);
    expect(await runAgent(cfg, { once: false }, deps)).toBe(EXIT_REFUSED);
    expect(server.requests).toHaveLength(0); // no renewal attempted with an expired certificate
    expect(clock.lines.at(-1)).toMatch(/^error: the certificate of host-1 expired at .*; renewal is impossible, and the join token is no longer valid \(token_expired\): create a new token and set join_params\.token_name/);
  } finally {
    await server.stop();
  }
});

test.each([
  [403, 'node_removed'],
  [403, 'certificate_untrusted'],
  [401, 'client_certificate_required'],
])('a %i %s refusal stops the loop at once with its reason (exit 3)', async (status, code) => {
  const { clock, deps } = fakeTime(99);
  const server = await startFakeJoinery(ca, () => refusal(status, code, `refused: ${code}`));
  try {
    const cfg = config(server);
    const disk = await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    expect(await runAgent(cfg, { once: false }, deps)).toBe(EXIT_REFUSED);
    expect(server.requests).toHaveLength(1);
    expect(clock.lines.at(-1)).toBe(`error: refused: ${code} (${status} ${code})`);
    expect(fs.readFileSync(path.join(cfg.dataDir, 'cert.pem'), 'utf8')).toBe(disk.certPem);
  } finally {
    await server.stop();
  }
});

test('a renewed certificate for another host ID or another key is refused and nothing is written', async () => {
  for (const tamper of ['host', 'key'] as const) {
    const { clock, deps } = fakeTime(99);
    const server = await startFakeJoinery(ca, async (r) => {
      const publicKeyPem = tamper === 'key' ? newKeyPair().publicKeyPem : String(r.body.public_key);
      const certificate = await ca.issue({ publicKeyPem, cn: 'host-1', notBefore: new Date(clock.t), notAfter: new Date(clock.t + LIFETIME) });
      return { status: 200, body: { host_id: tamper === 'host' ? 'host-2' : 'host-1', certificate, ca_certificates: [ca.certPem] } };
    });
    try {
      const cfg = config(server);
      const disk = await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
      expect(await runAgent(cfg, { once: true }, deps)).toBe(EXIT_REFUSED);
      expect(clock.lines.at(-1)).toMatch(tamper === 'host' ? /for host "host-2", not host-1; nothing was written/ : /for another key than this host's; nothing was written/);
      expect(fs.readFileSync(path.join(cfg.dataDir, 'key.pem'), 'utf8')).toBe(disk.keyPem);
      expect(fs.readFileSync(path.join(cfg.dataDir, 'cert.pem'), 'utf8')).toBe(disk.certPem);
    } finally {
      await server.stop();
    }
  }
});

test('on_renew runs after a new certificate; its failure is logged and not fatal', async () => {
  const { clock, deps } = fakeTime(99);
  const issue = issuer(clock);
  const hooks: string[] = [];
  deps.runHook = async (command, ev) => {
    hooks.push(`${command} ${ev.event} ${ev.hostId}`);
    return { ok: false, summary: 'on_renew failed with exit code 7' };
  };
  const server = await startFakeJoinery(ca, (r) => issue(r));
  try {
    const cfg = config(server, { onRenew: 'systemctl reload x' });
    await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    expect(await runAgent(cfg, { once: true }, deps)).toBe(0);
    expect(hooks).toEqual(['systemctl reload x renew host-1']);
    expect(clock.lines.some((l) => l.startsWith('on_renew failed with exit code 7'))).toBe(true);
  } finally {
    await server.stop();
  }
});

describe('a link planted in the data directory while the agent runs', () => {
  /** A file outside the data directory that the link points at. */
  function victim(): string {
    const file = path.join(fs.mkdtempSync(path.join(tmp, 'v-')), 'victim');
    fs.writeFileSync(file, 'precious\n');
    return file;
  }

  test('while it sleeps until renewal: the next pass refuses it (exit 3) without asking the server', async () => {
    const { clock, deps } = fakeTime(99);
    const issue = issuer(clock);
    const server = await startFakeJoinery(ca, (r) => issue(r));
    const target = victim();
    try {
      const cfg = config(server);
      const sleep = deps.sleep;
      deps.sleep = async (ms, signal) => {
        fs.symlinkSync(target, path.join(cfg.dataDir, '.commit.tmp'));
        await sleep(ms, signal);
      };
      expect(await runAgent(cfg, { once: false }, deps)).toBe(EXIT_REFUSED);
      expect(server.requests.map((r) => r.path)).toEqual(['/v1/join/token']);
      expect(clock.lines.at(-1)).toBe(`error: ${path.join(cfg.dataDir, '.commit.tmp')} is a symbolic link (to ${target}); the agent never follows links in its data directory: remove it, and find out who put it there`);
      expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    } finally {
      await server.stop();
    }
  });

  test.each(['.commit.tmp', '.key.pem.tmp', 'cert.pem'])('under %s while the renewal is in flight: nothing is written through it', async (name) => {
    const { clock, deps } = fakeTime(99);
    const issue = issuer(clock);
    const target = victim();
    let cfg!: AgentConfig;
    const server = await startFakeJoinery(ca, async (r) => {
      fs.rmSync(path.join(cfg.dataDir, name), { force: true });
      fs.symlinkSync(target, path.join(cfg.dataDir, name));
      return issue(r);
    });
    try {
      cfg = config(server);
      await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
      expect(await runAgent(cfg, { once: true }, deps)).toBe(EXIT_REFUSED);
      expect(server.requests.map((r) => r.path)).toEqual(['/v1/renew']);
      expect(clock.lines.at(-1)).toMatch(/^error: .* is a symbolic link \(to .*\); the agent never follows links in its data directory/);
      expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    } finally {
      await server.stop();
    }
  });
});

test('a server whose TLS certificate chains to no CA in ca.pem, while the host certificate is valid, is retried (a replica behind on a rotation), not a stop', async () => {
  const { clock, deps } = fakeTime(2);
  const issue = issuer(clock);
  const server = await startFakeJoinery(ca, (r) => issue(r));
  const stale = await createTestCa('stale-replica-ca');
  try {
    await server.serveAs(stale);
    const cfg = config(server);
    await identityOnDisk(cfg.dataDir, clock, clock.t - 50 * MIN, clock.t + 10 * MIN);
    // The replica follows the rotation during the agent's first backoff.
    const sleep = deps.sleep;
    deps.sleep = async (ms, signal) => {
      if (clock.sleeps.length === 0) await server.serveAs(ca);
      return sleep(ms, signal);
    };
    expect(await runAgent(cfg, { once: false }, deps)).toBe(0);
    expect(clock.lines.find((l) => /^renewal failed/.test(l))).toMatch(/signed by no CA this host trusts \(ca\.pem holds sha256:[0-9a-f]{64}\).*or a server has not followed a rotation yet.*retry 1 in/);
    expect(clock.lines.filter((l) => l.startsWith('renewed'))).toHaveLength(1);
  } finally {
    await server.stop();
  }
});
