// Which tool manages a token: the joinery.dev/managed-by label, declared by the CDKTF constructs
// or recorded by the server from the Joinery-Client header of the write that leaves it out, with
// teleport.dev/origin left as Teleport defines it. The CLI and the Terraform provider name
// themselves; a read-edit-write keeps the owner it read.

import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { JoineryClient } from '../../client/api-client';
import { runCli, startTestServer, type TestServer } from '../support/server';

const SEEDS = path.join(__dirname, '..', 'fixtures', 'seeds');
const LABEL = 'joinery.dev/managed-by';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const as = (client?: 'terraform' | 'cli' | 'console') => new JoineryClient({ addr: server.addr, adminToken: server.adminToken, caFile: server.caFile, ...(client ? { client } : {}) });
const ec2 = (name: string, labels?: Record<string, string>) => ({ kind: 'token', version: 'v2', metadata: { name, ...(labels ? { labels } : {}) }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
/** POST /v1/tokens with headers of the test's choosing; the status. */
function post(body: unknown, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.url}/v1/tokens`, { method: 'POST', ca: fs.readFileSync(server.caFile), headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
const labelsOf = async (name: string) => (await server.client().getToken(name))!.metadata.labels;

test('the writing client is recorded beside origin=dynamic; a plain API write records nothing', async () => {
  await as('terraform').createToken(ec2('by-terraform'));
  expect(await labelsOf('by-terraform')).toEqual({ 'teleport.dev/origin': 'dynamic', [LABEL]: 'terraform' });
  await as().createToken(ec2('by-curl'));
  expect(await labelsOf('by-curl')).toEqual({ 'teleport.dev/origin': 'dynamic' });
  // An unknown name in the header is not a tool the console can speak for.
  expect(await post(ec2('by-other'), { 'Joinery-Client': 'pulumi' })).toBe(201);
  expect((await labelsOf('by-other'))?.[LABEL]).toBeUndefined();
});

test('the seed YAML through `joinery create` is recorded as the CLI, its origin untouched', async () => {
  const r = await runCli(['create', '-f', path.join(SEEDS, 'ec2-token.yaml'), '--addr', server.addr, '--ca-file', server.caFile], { env: { JOINERY_ADMIN_TOKEN: server.adminToken } });
  expect(r.code).toBe(0);
  expect(await labelsOf('ec2-token')).toEqual({ 'teleport.dev/origin': 'dynamic', [LABEL]: 'cli' });
  const yaml = fs.readFileSync(path.join(SEEDS, 'ec2-token.yaml'), 'utf8');
  expect(yaml).not.toContain(LABEL);
});

test('a declared owner is kept (the CDKTF constructs declare cdktf; an edit elsewhere is drift)', async () => {
  await as('terraform').createToken(ec2('by-cdktf', { [LABEL]: 'cdktf' }));
  expect((await labelsOf('by-cdktf'))?.[LABEL]).toBe('cdktf');
  // The CLI's read-edit-write sends back the label it read.
  const { status: _status, ...current } = (await server.client().getToken('by-cdktf'))!;
  await as('cli').putToken({ ...current, metadata: { ...current.metadata, description: 'edited by hand' } } as never);
  expect((await labelsOf('by-cdktf'))?.[LABEL]).toBe('cdktf');
});

test('a write that leaves the label out records its client: Terraform adopting a CLI token takes it over', async () => {
  await as('cli').createToken(ec2('adopted'));
  expect((await labelsOf('adopted'))?.[LABEL]).toBe('cli');
  await as('terraform').putToken(ec2('adopted') as never);
  expect(await labelsOf('adopted')).toEqual({ 'teleport.dev/origin': 'dynamic', [LABEL]: 'terraform' });
});

test('a token at the label bound is stored unrecorded, not refused for a label it never asked for', async () => {
  const labels = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`k${i}`, 'v']));
  await as('cli').createToken(ec2('full', labels));
  const stored = await labelsOf('full');
  expect(Object.keys(stored ?? {})).toHaveLength(129); // and the default origin
  expect(stored?.[LABEL]).toBeUndefined();
});
