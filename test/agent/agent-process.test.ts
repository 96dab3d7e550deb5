// `joinery agent` as a process, as systemd runs it, against scripted HTTPS servers.

import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeIdentity } from '../../cli/agent/identity';
import { CLI_JS } from '../support/server';
import { runJoinery as runCli } from './support/run';
import { refusal, startFakeJoinery, type FakeJoinery, type FakeRequest } from './support/fake-joinery';
import { createTestCa, newKeyPair, type TestCa } from './support/test-pki';

jest.setTimeout(60_000);

const MIN = 60_000;
let ca: TestCa;
let otherCa: TestCa;
let tmp: string;
const FAST = { JOINERY_AGENT_BACKOFF_MS: '50,200' };

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createTestCa('process-ca'), createTestCa('impostor-ca')]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-proc-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeConfig(server: FakeJoinery, extra: Record<string, unknown> = {}): { file: string; dataDir: string } {
  const dir = fs.mkdtempSync(path.join(tmp, 'c-'));
  const dataDir = path.join(dir, 'data');
  const file = path.join(dir, 'agent.yaml');
  const lines = [
    'version: v1',
    `auth_server: ${server.addr}`,
    `ca_pin: ${ca.pin}`,
    `data_dir: ${dataDir}`,
    'join_params:',
    '  token_name: 0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    '  method: token',
    'role: Node',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${JSON.stringify(v)}`),
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { file, dataDir };
}

const issueFor = async (r: FakeRequest, signer = ca, publicKeyPem = String(r.body.public_key), lifetime = 60 * MIN) => ({
  status: 200,
  body: {
    host_id: 'host-proc',
    certificate: await signer.issue({ publicKeyPem, cn: 'host-proc', notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + lifetime) }),
    ca_certificates: [ca.certPem],
  },
});

async function onDiskIdentity(dataDir: string, notBefore: number, notAfter: number) {
  const k = newKeyPair();
  const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'host-proc', notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
  writeIdentity(dataDir, { keyPem: k.keyPem, certPem, caPem: ca.certPem, identity: { host_id: 'host-proc', join_method: 'token', role: 'Node', server: 'x', joined_at: new Date(notBefore).toISOString() } });
  return { ...k, certPem };
}

const stderrLines = (s: string) => s.split('\n').filter(Boolean);

test('429 (Retry-After: 1), then 503, then 200: the agent retries, honours Retry-After and joins', async () => {
  const server = await startFakeJoinery(ca, (r, n) => (n === 1 ? refusal(429, 'rate_limited', 'too many joins', { 'Retry-After': '1' }) : n === 2 ? refusal(503, 'unavailable', 'try later') : issueFor(r)));
  try {
    const { file, dataDir } = writeConfig(server);
    const r = await runCli(['agent', '--config', file, '--once'], { env: FAST });
    expect(r.code).toBe(0);
    expect(server.requests.map((q) => q.path)).toEqual(['/v1/join/token', '/v1/join/token', '/v1/join/token']);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(r.stderr).toMatch(/join failed: too many joins \(429 rate_limited\); retry 1 in 1\.0s/);
    expect(r.stderr).toMatch(/join failed: try later \(503 unavailable\); retry 2 in/);
    expect(r.stderr).toMatch(/joined as host-proc/);
    for (const line of stderrLines(r.stderr)) expect(line).toMatch(/^joinery agent: /);
    expect(fs.statSync(path.join(dataDir, 'key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
    expect(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(dataDir, 'key.pem'))))).toBe(true);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
  } finally {
    await server.stop();
  }
});

test.each([
  ['signed by another CA', (r: FakeRequest) => issueFor(r, otherCa), /not signed by the CA this host trusts/],
  ['for another key', (r: FakeRequest) => issueFor(r, ca, newKeyPair().publicKeyPem), /for another key than this host's/],
  ['already expired', async (r: FakeRequest) => ({ status: 200, body: { host_id: 'h', certificate: await ca.issue({ publicKeyPem: String(r.body.public_key), cn: 'h', notBefore: new Date(Date.now() - 2 * MIN), notAfter: new Date(Date.now() - MIN) }), ca_certificates: [ca.certPem] } }), /that expired at/],
])('a returned certificate %s is refused and nothing is written', async (_label, answer, message) => {
  const server = await startFakeJoinery(ca, answer);
  try {
    const { file, dataDir } = writeConfig(server);
    const r = await runCli(['agent', '--config', file, '--once'], { env: FAST });
    expect(r.code).toBe(3);
    expect(stderrLines(r.stderr).at(-1)).toMatch(message);
    expect(stderrLines(r.stderr).at(-1)).toMatch(/^joinery agent: error: .*nothing was written$/);
    expect(fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('a 403 refusal ends at once with a non-zero exit and a one-line reason', async () => {
  const server = await startFakeJoinery(ca, () => refusal(403, 'token_not_found', 'the join token is not valid'));
  try {
    const { file, dataDir } = writeConfig(server);
    const r = await runCli(['agent', '--config', file], { env: FAST });
    expect(r.code).toBe(3);
    expect(server.requests).toHaveLength(1);
    expect(stderrLines(r.stderr).at(-1)).toBe('joinery agent: error: the join token is not valid (403 token_not_found)');
    expect(fs.existsSync(path.join(dataDir, 'key.pem'))).toBe(false);
  } finally {
    await server.stop();
  }
});

describe('configuration errors: one line naming the key, exit 2', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown key', 'version: v1\nauth_server: a:1\nca_pin: sha256:' + 'a'.repeat(64) + '\njoin_params: {token_name: t}\nauth_servr: x\n', /unknown key auth_servr/],
    ['unknown nested key', 'auth_server: a:1\nca_file: /x\njoin_params: {token_name: t, methd: ec2}\n', /unknown key join_params\.methd/],
    ['wrong type', 'auth_server: a:1\nca_file: /x\njoin_params: {token_name: t}\ninsecure: "yes"\n', /insecure must be a boolean, not a string/],
    ['wrong type of a mapping', 'auth_server: a:1\nca_file: /x\njoin_params: ec2\n', /join_params must be a mapping, not a string/],
    ['number for a string', 'auth_server: 3025\nca_file: /x\njoin_params: {token_name: t}\n', /auth_server must be a string, not a number/],
    ['version', 'version: v2\nauth_server: a:1\n', /version must be v1/],
    ['method', 'auth_server: a:1\nca_file: /x\njoin_params: {token_name: t, method: azure}\n', /join_params\.method must be one of token, ec2, iam/],
    ['missing trust', 'auth_server: a:1\njoin_params: {token_name: t}\n', /ca_pin \(--ca-pin\) or ca_file \(--ca-file\) is required/],
    ['bad pin', 'auth_server: a:1\nca_pin: sha1:abc\njoin_params: {token_name: t}\n', /ca_pin must be sha256:<64 hex digits>/],
    ['missing token', 'auth_server: a:1\nca_file: /x\n', /join_params\.token_name \(--token\) is required/],
    ['not YAML', 'auth_server: [a\n', /not valid YAML/],
    ['duplicate key', 'auth_server: a:1\nauth_server: b:2\n', /duplicate key "auth_server" at auth_server/],
    ['a list', '- a\n', /must be a mapping of keys, not a list/],
  ];
  test.each(cases)('%s', async (_label, yaml, message) => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, 'cfg-')), 'agent.yaml');
    fs.writeFileSync(file, yaml);
    const r = await runCli(['agent', '--config', file, '--once']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(message);
  });

  test('a flag overrides the file, and every key can be given as a flag alone', async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, 'cfg-')), 'agent.yaml');
    fs.writeFileSync(file, 'auth_server: a:1\nca_file: /x\njoin_params: {token_name: t, method: azure}\n');
    const fixed = await runCli(['agent', '--config', file, '--method', 'nope']);
    expect(fixed.stderr).toMatch(/join_params\.method must be one of token, ec2, iam \(got "nope"\)/);
    const flagsOnly = await runCli(['agent', '--auth-server', 'a:1', '--insecure', '--token', 't', '--method', 'bogus']);
    expect(flagsOnly.code).toBe(2);
    expect(flagsOnly.stderr).toMatch(/^error: flags: join_params\.method must be one of/);
    expect((await runCli(['agent', '--config', file, '--bogus'])).stderr).toBe('error: unknown flag --bogus\n');
  });
});

test('--once when renewal is not due makes no request at all', async () => {
  const server = await startFakeJoinery(ca, () => refusal(500, 'unexpected'));
  try {
    const { file, dataDir } = writeConfig(server);
    const disk = await onDiskIdentity(dataDir, Date.now() - 10 * MIN, Date.now() + 50 * MIN);
    const r = await runCli(['agent', '--config', file, '--once'], { env: FAST });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/renewal due at .*; nothing to do/);
    expect(server.requests).toHaveLength(0);
    expect(fs.readFileSync(path.join(dataDir, 'cert.pem'), 'utf8')).toBe(disk.certPem);
  } finally {
    await server.stop();
  }
});

test('--once when renewal is due: renews over mutual TLS with the current certificate, rotates the key, runs on_renew', async () => {
  const server = await startFakeJoinery(ca, (r) => (r.path === '/v1/renew' && r.clientCertPem ? issueFor(r) : refusal(401, 'client_certificate_required', 'present your certificate')));
  try {
    const { file, dataDir } = writeConfig(server, { on_renew: 'echo "$JOINERY_EVENT $JOINERY_HOST_ID $JOINERY_CERT_PATH" > "$JOINERY_AGENT_DATA_DIR/../hook.out"' });
    const disk = await onDiskIdentity(dataDir, Date.now() - 50 * MIN, Date.now() + 10 * MIN);
    const r = await runCli(['agent', '--config', file, '--once'], { env: FAST });
    expect(r.stderr).toMatch(/renewed the certificate of host-proc with a new key/);
    expect(r.code).toBe(0);
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/renew');
    expect(new X509Certificate(req.clientCertPem!).raw.equals(new X509Certificate(disk.certPem).raw)).toBe(true);
    expect(req.body.public_key).toMatch(/BEGIN PUBLIC KEY/);
    expect(req.body.public_key).not.toBe(disk.publicKeyPem);

    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
    const key = fs.readFileSync(path.join(dataDir, 'key.pem'), 'utf8');
    expect(key).not.toBe(disk.keyPem);
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(fs.statSync(path.join(dataDir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dataDir, '..', 'hook.out'), 'utf8')).toBe(`renew host-proc ${path.join(dataDir, 'cert.pem')}\n`);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
  } finally {
    await server.stop();
  }
});

function spawnAgent(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI_JS, 'agent', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // 'close', not 'exit': the last lines of stderr may arrive after the exit event.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 200 && !re.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    if (!re.test(stderr)) throw new Error(`agent never logged ${re}:\n${stderr}`);
  };
  return { child, exited, waitFor, stderr: () => stderr };
}

test('SIGTERM while waiting for the next renewal stops the agent cleanly (exit 0, identity untouched)', async () => {
  const server = await startFakeJoinery(ca, () => refusal(500, 'unexpected'));
  try {
    const { file, dataDir } = writeConfig(server);
    const disk = await onDiskIdentity(dataDir, Date.now() - 10 * MIN, Date.now() + 50 * MIN);
    const a = spawnAgent(['--config', file], FAST);
    await a.waitFor(/next renewal at/);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.stderr()).toMatch(/SIGTERM received; stopping\njoinery agent: stopped\n$/);
    expect(fs.readFileSync(path.join(dataDir, 'cert.pem'), 'utf8')).toBe(disk.certPem);
    expect(server.requests).toHaveLength(0);
  } finally {
    await server.stop();
  }
});

test('SIGINT while retrying a join stops the agent cleanly with nothing written', async () => {
  const server = await startFakeJoinery(ca, () => refusal(503, 'unavailable', 'down', { 'Retry-After': '30' }));
  try {
    const { file, dataDir } = writeConfig(server);
    const a = spawnAgent(['--config', file], FAST);
    await a.waitFor(/retry 1 in 30\.0s/);
    a.child.kill('SIGINT');
    expect(await a.exited).toBe(0);
    expect(a.stderr()).toMatch(/stopped\n$/);
    expect(fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []).toEqual([]);
  } finally {
    await server.stop();
  }
});

test('SIGTERM during a request in flight cancels it: exit 0, nothing written', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const server = await startFakeJoinery(ca, async (r) => {
    await held; // answer only after the agent was told to stop
    return issueFor(r);
  });
  try {
    const { file, dataDir } = writeConfig(server);
    const a = spawnAgent(['--config', file], FAST);
    for (let i = 0; i < 200 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.requests).toHaveLength(1);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    release();
    expect(a.stderr()).toMatch(/SIGTERM received; stopping\njoinery agent: stopped\n$/);
    expect(fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []).toEqual([]);
  } finally {
    release();
    await server.stop();
  }
});
