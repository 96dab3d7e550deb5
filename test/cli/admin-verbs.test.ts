// The tctl verbs against the real server and the real CLI: `tokens add` prints a join command and
// an agent configuration that work as printed, `get tokens|token/NAME|nodes|node/ID` in every
// format, `rm token/NAME|node/ID`, and `status --format text|yaml|json`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { runCli, startTestServer, type TestServer } from '../support/server';

jest.setTimeout(60_000);

let server: TestServer;
let env: Record<string, string>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-cli-verbs-'));

beforeAll(async () => {
  server = await startTestServer();
  env = { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_CA_PIN: server.caPin };
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { env });
const fresh = (name: string) => fs.mkdtempSync(path.join(dir, `${name}-`));

/** The printed command as argv; the words are plain, so splitting on spaces is exact. */
function printedJoin(stdout: string): string[] {
  const line = stdout.split('\n').find((l) => l.trim().startsWith('joinery join '))!;
  expect(line).toBeDefined();
  expect(line).not.toMatch(/['"\\]/);
  return line.trim().split(/\s+/).slice(1);
}

function printedAgentConfig(stdout: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'version: v1');
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start, end).join('\n') + '\n';
}

describe('status --format', () => {
  test('text, yaml and json print the same facts', async () => {
    const text = await cli('status');
    expect(text.stdout).toMatch(new RegExp(`^CA pin\\s+${server.caPin}$`, 'm'));
    const yaml = await cli('status', '--format', 'yaml');
    expect(yaml.code).toBe(0);
    const fromYaml = YAML.parse(yaml.stdout);
    expect(fromYaml).toMatchObject({ cluster_name: 'test-cluster', ca_pin: server.caPin });
    expect(yaml.stdout).toMatch(/^ca_pin: sha256:/m);
    const fromJson = JSON.parse((await cli('status', '--format', 'json')).stdout);
    expect({ ...fromYaml, server_time: undefined }).toEqual({ ...fromJson, server_time: undefined });
  });
});

describe('tokens add', () => {
  test('generates a secret and prints a `joinery join` command that joins as printed', async () => {
    const add = await cli('tokens', 'add', '--type', 'node,proxy', '--ttl', '1h', '--labels', 'team=infra,env=test');
    expect([add.code, add.stderr]).toEqual([0, '']);
    const secret = /^The invite token: ([0-9a-f]{32})$/m.exec(add.stdout)![1];
    expect(add.stdout).toMatch(/admits the roles Node, Proxy and expires in 1h \(\d{4}-\d\d-\d\dT[\d:]+Z\)/);

    const argv = printedJoin(add.stdout);
    expect(argv).toEqual(['join', '--method', 'token', '--token', secret, '--role', 'Node', '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', '/var/lib/joinery']);
    // Run it as printed, only with a data directory of this test instead of /var/lib/joinery.
    const dataDir = fresh('join');
    argv[argv.length - 1] = dataDir;
    const joined = await runCli(argv);
    expect([joined.code, joined.stderr]).toEqual([0, '']);
    expect(joined.stdout).toMatch(/^joined as \S+ \(role Node, method token\)/);
    expect(fs.existsSync(path.join(dataDir, 'cert.pem'))).toBe(true);

    const stored = await server.client().getToken(secret);
    expect(stored!.spec).toMatchObject({ roles: ['Node', 'Proxy'], join_method: 'token' });
    expect(stored!.metadata.labels).toMatchObject({ team: 'infra', env: 'test' });
    const ttl = Date.parse(stored!.metadata.expires!) - Date.now();
    expect(ttl).toBeGreaterThan(50 * 60_000);
    expect(ttl).toBeLessThanOrEqual(3600_000);
  });

  test('the printed agent configuration runs the agent as printed', async () => {
    const add = await cli('tokens', 'add', '--type', 'node', '--auth-server', server.addr);
    expect(add.stdout).toMatch(/expires in 30m/);
    const config = printedAgentConfig(add.stdout);
    expect(YAML.parse(config)).toMatchObject({ version: 'v1', auth_server: server.addr, ca_pin: server.caPin, role: 'Node', join_params: { method: 'token' } });
    const file = path.join(fresh('agent'), 'joinery.yaml');
    fs.writeFileSync(file, config, { mode: 0o600 });
    const dataDir = path.join(path.dirname(file), 'state');
    const r = await runCli(['agent', '--config', file, '--once', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/joined as /);
    expect(add.stdout).toContain('joinery agent --config /etc/joinery.yaml');
  });

  test('--value uses the given secret; --format json prints the created token', async () => {
    const secret = 'my-own-secret-0123456789abcdef';
    const add = await cli('tokens', 'add', '--type', 'db', '--value', secret, '--format', 'json');
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ kind: 'token', metadata: { name: secret }, spec: { roles: ['Db'], join_method: 'token' } });
    const again = await cli('tokens', 'add', '--type', 'db', '--value', secret);
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/^error: a token with that --value already exists \(409 already_exists\)\n$/)]);
    expect(again.stderr).not.toContain(secret);
  });

  test('a role the server refuses is a one-line error naming the field', async () => {
    const r = await cli('tokens', 'add', '--type', 'node,wizard');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*wizard.*\[spec\.roles/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('get and rm', () => {
  beforeAll(async () => {
    for (const name of ['verbs-ec2-a', 'verbs-ec2-b']) {
      await server.client().createToken({ kind: 'token', version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } });
    }
  });

  test('get tokens: a YAML stream that create -f reads back, JSON, and a table', async () => {
    const yaml = await cli('get', 'tokens');
    expect(yaml.code).toBe(0);
    const docs = YAML.parseAllDocuments(yaml.stdout).map((d) => d.toJS());
    const names = docs.map((d) => d.metadata.name);
    expect(names).toEqual(expect.arrayContaining(['verbs-ec2-a', 'verbs-ec2-b']));
    expect(docs.every((d) => d.kind === 'token' && d.status === undefined)).toBe(true);
    const file = path.join(fresh('get'), 'all.yaml');
    fs.writeFileSync(file, yaml.stdout);
    const back = await cli('create', '-f', file, '--force');
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('token "verbs-ec2-a" has been upserted');

    const json = JSON.parse((await cli('get', 'tokens', '--format', 'json')).stdout);
    expect(json.map((t: { metadata: { name: string } }) => t.metadata.name)).toEqual(names);
    expect((await cli('get', 'tokens', '--format', 'text')).stdout).toMatch(/^verbs-ec2-a\s+ec2\s+Node\s+1\s+never$/m);
  });

  test('get token/NAME in each format', async () => {
    expect(YAML.parse((await cli('get', 'token/verbs-ec2-a')).stdout).spec).toMatchObject({ join_method: 'ec2' });
    expect(JSON.parse((await cli('get', 'token/verbs-ec2-a', '--format', 'json')).stdout).metadata.name).toBe('verbs-ec2-a');
    const text = (await cli('get', 'token/verbs-ec2-a', '--format', 'text')).stdout.trim().split('\n');
    expect(text).toHaveLength(2);
    expect(text[0]).toMatch(/^Token\s+Join Method/);
  });

  test('get nodes and node/HOST_ID; rm node/HOST_ID revokes', async () => {
    const add = await cli('tokens', 'add', '--type', 'node');
    const argv = printedJoin(add.stdout);
    argv[argv.length - 1] = fresh('node');
    const hostId = /joined as (\S+)/.exec((await runCli(argv)).stdout)![1];

    const nodes = YAML.parseAllDocuments((await cli('get', 'nodes')).stdout).map((d) => d.toJS());
    expect(nodes.find((n) => n.host_id === hostId)).toMatchObject({ status: 'active', join_method: 'token' });
    expect((await cli('get', 'nodes', '--format', 'text')).stdout).toMatch(new RegExp(`^${hostId}\\s+active`, 'm'));
    expect(JSON.parse((await cli('get', `node/${hostId}`, '--format', 'json')).stdout)).toMatchObject({ host_id: hostId });

    const rm = await cli('rm', `node/${hostId}`);
    expect([rm.code, rm.stdout]).toEqual([0, expect.stringMatching(/^node ".+" has been removed/)]);
    expect(YAML.parse((await cli('get', `node/${hostId}`)).stdout).status).toBe('removed');
    const missing = await cli('get', 'node/no-such-host');
    expect([missing.code, missing.stderr]).toEqual([1, 'error: node "no-such-host" not found (404 not_found)\n']);
  });

  test('rm token/NAME deletes; a second rm is a not-found error', async () => {
    const rm = await cli('rm', 'token/verbs-ec2-b');
    expect([rm.code, rm.stdout]).toEqual([0, 'token "verbs-ec2-b" has been deleted\n']);
    expect(await server.client().getToken('verbs-ec2-b')).toBeUndefined();
    const again = await cli('rm', 'token/verbs-ec2-b');
    expect([again.code, again.stderr]).toEqual([1, 'error: token "verbs-ec2-b" not found (404 not_found)\n']);
  });
});
