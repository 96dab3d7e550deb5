// The identity is written so that a crash leaves either the old or the new one, never a mix.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readIdentity, recoverIdentity, writeIdentity } from '../../cli/agent/identity';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-identity-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const identity = (host: string) => ({ host_id: host, join_method: 'token', role: 'Node', server: 's', joined_at: 't' });
const files = (tag: string) => ({ keyPem: `key-${tag}`, certPem: `cert-${tag}`, caPem: `ca-${tag}`, identity: identity(tag) });
const read = (dir: string) => ['key.pem', 'cert.pem', 'ca.pem'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));

test('writes the four files with the key at 0600 and leaves no temporary file', () => {
  const dir = path.join(tmp, 'a');
  writeIdentity(dir, files('old'));
  writeIdentity(dir, files('new'));
  expect(read(dir)).toEqual(['key-new', 'cert-new', 'ca-new']);
  expect(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(dir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
});

test('a crash after the commit marker is rolled forward: the new key never sits beside the old certificate', () => {
  const dir = path.join(tmp, 'b');
  writeIdentity(dir, files('old'));
  // As if the process died after renaming the key but before the certificate.
  for (const [name, content] of [['cert.pem', 'cert-new'], ['ca.pem', 'ca-new'], ['identity.json', JSON.stringify(identity('new'))]]) fs.writeFileSync(path.join(dir, `.${name}.tmp`), content);
  fs.writeFileSync(path.join(dir, 'key.pem'), 'key-new');
  fs.writeFileSync(path.join(dir, '.commit'), 'key.pem\ncert.pem\nca.pem\nidentity.json\n');
  expect(readIdentity(dir)?.host_id).toBe('new');
  expect(read(dir)).toEqual(['key-new', 'cert-new', 'ca-new']);
  expect(fs.readdirSync(dir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
});

test('a crash before the commit marker is rolled back: the old identity stays', () => {
  const dir = path.join(tmp, 'c');
  writeIdentity(dir, files('old'));
  // As the agent writes it: the key's temporary file is 0600 too.
  fs.writeFileSync(path.join(dir, '.key.pem.tmp'), 'key-new', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, '.cert.pem.tmp'), 'cert-ne');
  recoverIdentity(dir);
  expect(read(dir)).toEqual(['key-old', 'cert-old', 'ca-old']);
  expect(fs.readdirSync(dir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
});
