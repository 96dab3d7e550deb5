// A Teleport user's provider block should need only its required_providers source changed: the
// optional arguments of Teleport's provider (integrations/terraform/provider/provider.go) are
// accepted; those with a meaning here are used, the rest are ignored with a warning on the
// argument itself.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveProviderConfig } from '../../provider/config';
import { PROVIDER_SCHEMA, TELEPORT_PROVIDER_ARGUMENTS } from '../../provider/schema';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-tfargs-'));
const caFile = path.join(dir, 'ca.pem');
beforeAll(() => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'ca.key'), '-out', caFile, '-days', '1', '-subj', '/CN=t'], { stdio: 'pipe' });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const base = { addr: '127.0.0.1:3025', admin_token: 'x'.repeat(24) };

test('every optional argument of Teleport\'s provider block is in the schema', () => {
  const teleport = ['addr', 'cert_path', 'cert_base64', 'key_path', 'key_base64', 'root_ca_path', 'root_ca_base64', 'profile_name', 'profile_dir', 'identity_file_path', 'identity_file', 'identity_file_base64', 'retry_base_duration', 'retry_cap_duration', 'retry_max_tries', 'dial_timeout_duration', 'join_method', 'join_token', 'audience_tag', 'gitlab_id_token_env_var'];
  const ours = PROVIDER_SCHEMA.attributes.map((a) => a.name);
  expect(teleport.filter((n) => !ours.includes(n))).toEqual([]);
  for (const a of PROVIDER_SCHEMA.attributes) expect(a.optional).toBe(true);
  // Secrets stay sensitive as they are in Teleport's provider.
  for (const name of ['key_base64', 'identity_file', 'identity_file_base64', 'admin_token']) expect(PROVIDER_SCHEMA.attributes.find((a) => a.name === name)?.sensitive).toBe(true);
});

test('root_ca_path trusts that CA file; root_ca_base64 that certificate', () => {
  const byPath = resolveProviderConfig({ ...base, root_ca_path: caFile }, {});
  expect(byPath.diagnostics.filter((d) => d.severity === 'ERROR')).toEqual([]);
  expect(byPath.options?.caFile).toBe(caFile);
  const pem = fs.readFileSync(caFile, 'utf8');
  const byValue = resolveProviderConfig({ ...base, root_ca_base64: Buffer.from(pem).toString('base64') }, {});
  expect(byValue.options?.caPem).toBe(pem);
  // Set in the block they win over the environment's trust settings, as ca_file does.
  const overEnv = resolveProviderConfig({ ...base, root_ca_path: caFile }, { JOINERY_CA_PIN: `sha256:${'0'.repeat(64)}` });
  expect([overEnv.options?.caFile, overEnv.options?.caPin]).toEqual([caFile, undefined]);
});

test('bad values of used arguments are errors on the argument', () => {
  const missing = resolveProviderConfig({ ...base, root_ca_path: path.join(dir, 'nope.pem') }, {});
  expect(missing.diagnostics).toContainEqual(expect.objectContaining({ severity: 'ERROR', summary: 'CA file not found', path: ['root_ca_path'] }));
  const junk = resolveProviderConfig({ ...base, root_ca_base64: Buffer.from('junk').toString('base64') }, {});
  expect(junk.diagnostics).toEqual([expect.objectContaining({ severity: 'ERROR', path: ['root_ca_base64'] })]);
  const both = resolveProviderConfig({ ...base, root_ca_path: caFile, ca_file: path.join(dir, 'other.pem') }, {});
  expect(both.diagnostics.map((d) => d.path)).toContainEqual(['root_ca_path']);
  const timeout = resolveProviderConfig({ ...base, ca_file: caFile, dial_timeout_duration: 'soon' }, {});
  expect(timeout.diagnostics).toEqual([expect.objectContaining({ severity: 'ERROR', summary: 'Invalid dial_timeout_duration', path: ['dial_timeout_duration'] })]);
  expect(resolveProviderConfig({ ...base, ca_file: caFile, dial_timeout_duration: '1m30s' }, {}).options?.timeoutMs).toBe(90_000);
});

test('the arguments without a meaning here are warnings that say why, not errors', () => {
  const ignored = TELEPORT_PROVIDER_ARGUMENTS.filter((a) => !a.used).map((a) => a.name);
  const config = Object.fromEntries(ignored.map((n) => [n, 'something']));
  const r = resolveProviderConfig({ ...base, ca_file: caFile, ...config }, {});
  expect(r.options).toBeDefined();
  expect(r.diagnostics.every((d) => d.severity === 'WARNING')).toBe(true);
  expect(r.diagnostics.map((d) => d.path![0]).sort()).toEqual([...ignored].sort());
  expect(r.diagnostics.find((d) => d.path![0] === 'identity_file_path')?.detail).toMatch(/admin token/);
});
