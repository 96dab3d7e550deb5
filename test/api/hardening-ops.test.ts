// Issue 9, the operational kinds: secrets that never leak (join logs, audit, refusal messages),
// single-use Bot tokens, admin authentication failures, database file modes, storage that fails
// closed, and configuration that cannot corrupt the CA.

import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from '../../api/store/sqlite-driver';
import { ApiError, JoineryClient } from '../../client/api-client';
import { caught } from '../support/caught';
import { CLI_JS, startTestServer, type TestServer } from '../support/server';

const publicKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const secretName = () => randomBytes(16).toString('hex');

/** Starts `joinery serve` expecting it to refuse; resolves with its exit code and output. */
function serveExpectingRefusal(dataDir: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_JS, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, JOINERY_LOG_LEVEL: 'warn', JOINERY_CLUSTER_NAME: 'test-cluster', JOINERY_ADMIN_TOKEN: randomBytes(24).toString('hex'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('a token-method secret never leaks from the join endpoints', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { JOINERY_LOG_LEVEL: 'info' } });
  });
  afterAll(() => server.stop());

  test('sent to the ec2 and iam endpoints, it is neither logged, audited nor quoted', async () => {
    const secret = secretName();
    const expired = secretName();
    const admin = server.client();
    await admin.createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    await admin.createToken({ version: 'v2', metadata: { name: expired, expires: '2001-01-01T00:00:00Z' }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    const messages: string[] = [];
    for (const name of [secret, expired, `${secret}x`]) {
      for (const [route, body] of [
        ['/v1/join/ec2', { token_name: name, role: 'Node', iid: 'AAAA', public_key: publicKey() }],
        ['/v1/join/iam', { token_name: name, role: 'Node', challenge: 'c', sts_request: {}, public_key: publicKey() }],
      ] as const) {
        const e = await caught(anon.request('POST', route, body), ApiError);
        expect(e.status).toBeGreaterThanOrEqual(400);
        expect(e.status).toBeLessThan(500);
        messages.push(e.message);
      }
    }
    const audit = JSON.stringify(await admin.request('GET', '/v1/audit?limit=100'));
    for (const name of [secret, expired]) {
      expect(messages.join('\n')).not.toContain(name);
      expect(audit).not.toContain(name);
      expect(server.output()).not.toContain(name);
    }
    // The refusals are still told apart by their codes.
    expect(audit).toContain('join_method_mismatch');
    expect(audit).toContain('token_expired');
    expect(audit).toContain('token_not_found');
  });

  test('an ec2 token name (not a secret) is still shown once it is known to be one', async () => {
    const admin = server.client();
    await admin.createToken({ version: 'v2', metadata: { name: 'ec2-visible' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } } as never);
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    await caught(anon.request('POST', '/v1/join/ec2', { token_name: 'ec2-visible', role: 'Node', iid: 'AAAA', public_key: publicKey() }), ApiError);
    const events = (await admin.request<{ events: { tokenName?: string; type: string }[] }>('GET', '/v1/audit?type=join.ec2')).events;
    expect(events.map((e) => e.tokenName)).toContain('ec2-visible');
  });
});

describe('Bot tokens as in Teleport', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { JOINERY_JOIN_RATE_PER_MINUTE: '0' } });
  });
  afterAll(() => server.stop());

  test('a token-method Bot token is consumed by its first join, even under concurrent use', async () => {
    const name = secretName();
    await server.client().createToken({ version: 'v2', metadata: { name }, spec: { roles: ['Bot'], bot_name: 'robot', join_method: 'token' } } as never);
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => anon.request('POST', '/v1/join/token', { token_name: name, role: 'Bot', public_key: publicKey() })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as ApiError).code).toBe('token_not_found');
    expect(await server.client().getToken(name)).toBeUndefined();
  });

  test('a Node token of the token method stays usable', async () => {
    const name = secretName();
    await server.client().createToken({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    for (let i = 0; i < 2; i++) await anon.request('POST', '/v1/join/token', { token_name: name, role: 'Node', public_key: publicKey() });
  });

  test('the Bot role cannot join through ec2', async () => {
    await server.client().createToken({ version: 'v2', metadata: { name: 'ec2-bot' }, spec: { roles: ['Bot'], bot_name: 'robot', join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } } as never);
    const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
    const e = await caught(anon.request('POST', '/v1/join/ec2', { token_name: 'ec2-bot', role: 'Bot', iid: 'AAAA', public_key: publicKey() }), ApiError);
    expect([e.status, e.code]).toEqual([403, 'bot_join_method_unsupported']);
  });
});

describe('admin authentication', () => {
  test('failures are audited with the client address and throttled per address', async () => {
    const server = await startTestServer();
    try {
      const wrong = server.client({ adminToken: 'wrong-but-long-enough-credential' });
      const statuses: number[] = [];
      for (let i = 0; i < 32; i++) statuses.push((await caught(wrong.listTokens(), ApiError)).status);
      expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(30)).toEqual([429, 429]);
      // Throttled means throttled: the right credential waits out the window too.
      const throttled = await caught(server.client().listTokens(), ApiError);
      expect([throttled.status, throttled.code]).toEqual([429, 'too_many_auth_failures']);
      // Recorded for the operator (read straight from the database: the API is throttled).
      await server.stop({ keepDataDir: true });
      const db = new Database(path.join(server.dataDir, 'joinery.db'), { readonly: true });
      const rows = db.prepare("SELECT remote_addr, code FROM audit_events WHERE type = 'admin.auth'").all() as { remote_addr: string; code: string }[];
      db.close();
      expect(rows).toHaveLength(30);
      expect(rows[0]).toEqual({ remote_addr: expect.stringMatching(/127\.0\.0\.1/), code: 'unauthenticated' });
    } finally {
      await server.stop();
      fs.rmSync(server.dataDir, { recursive: true, force: true });
    }
  });

  test('a JOINERY_ADMIN_TOKEN of white space is refused at start', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-ws-'));
    try {
      const r = await serveExpectingRefusal(dataDir, { JOINERY_ADMIN_TOKEN: ' '.repeat(20) });
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/JOINERY_ADMIN_TOKEN must not contain white space/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('files on disk and storage that fails closed', () => {
  test('in an existing 0755 data directory the database and its WAL/SHM files are 0600, with a warning', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-mode-'));
    fs.chmodSync(dataDir, 0o755);
    const server = await startTestServer({ dataDir });
    try {
      await server.client().createToken({ version: 'v2', metadata: { name: 'mode-check' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } } as never);
      for (const f of ['joinery.db', 'joinery.db-wal', 'joinery.db-shm']) {
        expect([f, fs.statSync(path.join(dataDir, f)).mode & 0o777]).toEqual([f, 0o600]);
      }
      expect(server.output()).toMatch(/data directory .* is open to other users/);
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('an existing database readable by others is tightened to 0600', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-mode-'));
    try {
      const first = await startTestServer({ dataDir });
      await first.stop({ keepDataDir: true });
      fs.chmodSync(path.join(dataDir, 'joinery.db'), 0o644);
      const second = await startTestServer({ dataDir, env: { JOINERY_ADMIN_TOKEN: first.adminToken } });
      await second.stop({ keepDataDir: true });
      expect(fs.statSync(path.join(dataDir, 'joinery.db')).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a zero-byte database next to an existing CA key refuses to start instead of making a new cluster', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-empty-db-'));
    try {
      const first = await startTestServer({ dataDir, generatedAdmin: true });
      await first.client().createToken({ version: 'v2', metadata: { name: 'precious' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } } as never);
      await first.stop({ keepDataDir: true });
      const adminBefore = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8');
      fs.writeFileSync(path.join(dataDir, 'joinery.db'), '');
      for (const f of ['joinery.db-wal', 'joinery.db-shm']) fs.rmSync(path.join(dataDir, f), { force: true });
      const r = await serveExpectingRefusal(dataDir, { JOINERY_ADMIN_TOKEN: '' });
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/database records no cluster CA/);
      // Nothing was replaced: the admin credential file is the one from before.
      expect(fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8')).toBe(adminBefore);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('/readyz reads the real tables: a damaged schema is not ready', async () => {
    const server = await startTestServer();
    try {
      const anon = new JoineryClient({ addr: server.addr, caFile: server.caFile });
      expect(await anon.request('GET', '/readyz')).toEqual({ status: 'ready' });
      const db = new Database(path.join(server.dataDir, 'joinery.db'));
      db.exec('DROP TABLE nodes');
      db.close();
      const e = await caught(anon.request('GET', '/readyz'), ApiError);
      expect([e.status, e.code]).toEqual([503, 'not_ready']);
    } finally {
      await server.stop();
    }
  });
});

test.each([['a,b'], ['line\nbreak'], ['O=evil'], ['-leading-dash']])('JOINERY_CLUSTER_NAME %j is refused at start, before any CA is made', async (name) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-cn-'));
  try {
    const r = await serveExpectingRefusal(dataDir, { JOINERY_CLUSTER_NAME: name });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/JOINERY_CLUSTER_NAME must be/);
    expect(fs.existsSync(path.join(dataDir, 'ca.key'))).toBe(false);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
