// The agent's configuration: file under flags, paths relative to the file, strict checks.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, UsageError } from '../../cli/args';
import { AGENT_FLAGS, loadAgentConfig } from '../../cli/agent/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(yaml: string | undefined, args: string[] = [], cwd = '/somewhere') {
  const file = path.join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  if (yaml !== undefined) fs.writeFileSync(file, yaml);
  return loadAgentConfig(parseArgs([...(yaml !== undefined ? ['--config', file] : []), ...args], AGENT_FLAGS), cwd);
}

test('relative paths in the file are relative to the file; on the command line, to the working directory', () => {
  const c = load('auth_server: a:1\nca_file: ca.pem\ndata_dir: state\njoin_params: {token_name: t}\n');
  expect(c.caFile).toBe(path.join(dir, 'ca.pem'));
  expect(c.dataDir).toBe(path.join(dir, 'state'));
  const f = load('auth_server: a:1\nca_file: ca.pem\njoin_params: {token_name: t}\n', ['--data-dir', 'mine', '--ca-file', 'x.pem']);
  expect(f.dataDir).toBe('/somewhere/mine');
  expect(f.caFile).toBe('/somewhere/x.pem');
});

test('defaults: method token, role Node, data in /var/lib/joinery, keys rotated', () => {
  expect(load(undefined, ['--auth-server', 'a:1', '--ca-pin', `sha256:${'AB'.repeat(32)}`, '--token', 't'])).toEqual({
    authServer: 'a:1',
    caPin: `sha256:${'ab'.repeat(32)}`,
    caFile: undefined,
    insecure: false,
    dataDir: '/var/lib/joinery',
    tokenName: 't',
    method: 'token',
    role: 'Node',
    onRenew: undefined,
    rotateKeys: true,
  });
});

test('flags win over the file, booleans included', () => {
  const c = load('auth_server: a:1\ninsecure: true\nrotate_keys: true\njoin_params: {token_name: file-token, method: iam}\nrole: Node\n', ['--token', 'flag-token', '--rotate-keys=false', '--role', 'App', '--auth-server', 'b:2']);
  expect(c).toMatchObject({ authServer: 'b:2', insecure: true, rotateKeys: false, tokenName: 'flag-token', method: 'iam', role: 'App' });
});

test.each([
  ['both trust settings', 'auth_server: a:1\nca_pin: sha256:' + 'a'.repeat(64) + '\nca_file: x\njoin_params: {token_name: t}\n', /give ca_pin or ca_file, not both/],
  ['a bad address', 'auth_server: "http://a:1"\ninsecure: true\njoin_params: {token_name: t}\n', /auth_server: .*HTTPS only/],
  ['an empty on_renew', 'auth_server: a:1\ninsecure: true\njoin_params: {token_name: t}\non_renew: " "\n', /on_renew must not be empty/],
  ['a null value', 'auth_server: a:1\ninsecure: true\njoin_params: {token_name: t}\nrole: null\n', /role must be a string, not null/],
  ['a list for a string', 'auth_server: [a, b]\n', /auth_server must be a string, not a list/],
])('refused: %s', (_label, yaml, message) => {
  expect(() => load(yaml)).toThrow(UsageError);
  expect(() => load(yaml)).toThrow(message);
});

test('an empty file is a file without keys', () => {
  expect(() => load('')).toThrow(/auth_server \(--auth-server HOST:PORT\) is required/);
});

test('the file is read as strictly as the server reads documents: duplicate keys, odd tags, bad UTF-8, two documents', () => {
  const refusal = (yaml: string | Buffer) => {
    const file = path.join(dir, `s${Math.random().toString(16).slice(2)}.yaml`);
    fs.writeFileSync(file, yaml);
    try {
      loadAgentConfig(parseArgs(['--config', file], AGENT_FLAGS), '/somewhere');
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };
  expect(refusal('version: v1\nauth_server: a:1\nauth_server: b:2\n')).toMatch(/duplicate key "auth_server"/);
  expect(refusal('version: v1\nrole: !!js/function x\n')).toMatch(/tag !!js\/function at role is not accepted/);
  expect(refusal(Buffer.from([0x76, 0x65, 0x72, 0x3a, 0x20, 0xff, 0x0a]))).toMatch(/not valid UTF-8/);
  expect(refusal('version: v1\n---\nversion: v1\n')).toMatch(/holds 2 YAML documents/);
});
