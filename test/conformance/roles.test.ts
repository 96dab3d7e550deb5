// Roles as Teleport provisions them. Written from a reading of Teleport's api/types/system_role.go
// (the role spellings and the local service roles) and lib/auth/join.go (the implicit Instance
// role): the facts, not the code.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ApiError, JoineryClient } from '../../client/api-client';
import { canonicalRole, grantedRole, SYSTEM_ROLES } from '../../schema/roles';
import { validateToken } from '../../schema/token';
import { caught } from '../support/caught';
import { startTestServer, type TestServer } from '../support/server';

const token = (roles: unknown[]) => ({ version: 'v2', metadata: { name: 'r' }, spec: { roles, join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } });

describe('role names (api/types/system_role.go)', () => {
  test.each([
    ['remote_proxy', 'RemoteProxy'],
    ['RemoteProxy', 'RemoteProxy'],
    ['windows_desktop', 'WindowsDesktop'],
    ['windowsdesktop', 'WindowsDesktop'],
    ['trustedcluster', 'Trusted_cluster'],
    ['trusted_cluster', 'Trusted_cluster'],
    ['AccessGraphPlugin', 'AccessGraphPlugin'],
    ['accessgraphplugin', 'AccessGraphPlugin'],
    ['DB', 'Db'],
    [' node ', 'Node'],
    ['mdm', 'MDM'],
    ['okta', 'Okta'],
    ['discovery', 'Discovery'],
  ])('%j is the role %s', (input, canonical) => {
    expect(canonicalRole(input)).toBe(canonical);
    const r = validateToken(token([input]));
    expect(r.ok && r.token.spec.roles).toEqual([canonical]);
  });

  test.each([['AccessGraph'], ['OpenSSH'], ['OpenSSHEC2ICE'], ['database'], ['remote-proxy'], ['Nodes'], ['']])('%j is not a Teleport role and is refused with its field', (input) => {
    const r = validateToken(token([input]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].field).toBe('spec.roles[0]');
  });

  test('two spellings of one role are a duplicate', () => {
    const r = validateToken(token(['remote_proxy', 'RemoteProxy']));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ field: 'spec.roles[1]', message: expect.stringMatching(/duplicate role RemoteProxy/) });
  });

  test('every canonical role maps to itself', () => {
    for (const role of SYSTEM_ROLES) expect(canonicalRole(role)).toBe(role);
  });
});

describe('the implicit Instance role (lib/auth/join.go)', () => {
  test.each([
    [['Node'], 'Instance', 'Instance'],
    [['Proxy', 'Bot'], 'instance', 'Instance'],
    [['Db'], 'Instance', 'Instance'],
    [['AccessGraphPlugin'], 'Instance', 'Instance'],
    [['Bot'], 'Instance', undefined],
    [['RemoteProxy'], 'Instance', undefined],
    [['Trusted_cluster'], 'Instance', undefined],
    [['Node'], 'Proxy', undefined],
    [['Node'], 'node', 'Node'],
  ])('a token granting %j lets a host ask for %s: %s', (granted, requested, expected) => {
    expect(grantedRole(granted, requested)).toBe(expected);
  });

  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  const join = (name: string, role: string) =>
    new JoineryClient({ addr: server.addr, caFile: server.caFile }).request<{ host_id: string; certificate: string }>('POST', '/v1/join/token', {
      token_name: name,
      role,
      public_key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }),
    });

  test('a host joins as Instance with a Node token, and its certificate says Instance', async () => {
    const name = randomBytes(16).toString('hex');
    await server.client().createToken({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    const res = await join(name, 'Instance');
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(res.certificate).subject).toMatch(/OU=Instance/);
  });

  test('a token with no local service role does not grant Instance', async () => {
    const name = randomBytes(16).toString('hex');
    await server.client().createToken({ version: 'v2', metadata: { name }, spec: { roles: ['Trusted_cluster'], join_method: 'token' } } as never);
    const e = await caught(join(name, 'Instance'), ApiError);
    expect([e.status, e.code]).toEqual([403, 'role_not_allowed']);
    expect(e.message).toMatch(/Instance is implied only by a token granting a local service role/);
  });
});
