// End to end: an IAM token whose allow rule names an AWS organization and OUs, stored through the
// API, and joins through the real server, which looks the caller's account up in moto's
// Organizations API with its own credentials (through a counting proxy, to see the cache work).
// STS is a local fake that says which account signed.
//
// NEEDS THE SCHEMA WIRING: until schema/token.ts accepts aws_organization_id and
// aws_organizational_units on iam allow rules (checkOrganizationRule from
// api/join/iam/organizations-rules.ts, and an iam rule with aws_organization_id alone counting
// as a rule with a condition), the token cannot be created and this file fails.

import { ApiError } from '../../client/api-client';
import { prepareIamJoin } from '../../cli/agent/iam';
import { startCountingProxy, type CountingProxy } from '../support/counting-proxy';
import { callerIdentityXml, startFakeSts, type FakeSts } from '../support/fake-sts';
import { freePort, startMoto, type Moto } from '../support/moto';
import { startTestServer, type TestServer } from '../support/server';
import { MotoOrganization } from './moto-organizations';
import { newPublicKeyPem, TEST_CREDENTIALS } from './signed-request';

let moto: Moto;
let org: MotoOrganization;
let proxy: CountingProxy;
let sts: FakeSts;
let server: TestServer;
let orgId: string;
let rootId: string;
let ouProd: string;
let ouWeb: string;
let accApi: string; // prod / api: admitted
let accWeb: string; // prod / web: excluded
let accDev: string; // dev: not included
const OUTSIDE = '999999999999';

beforeAll(async () => {
  moto = await startMoto();
  org = await new MotoOrganization(moto).create();
  orgId = org.organizationId;
  rootId = org.rootId;
  ouProd = await org.createOu(rootId, 'prod');
  const ouApi = await org.createOu(ouProd, 'api');
  ouWeb = await org.createOu(ouProd, 'web');
  const ouDev = await org.createOu(rootId, 'dev');
  accApi = await org.createAccount('api', ouApi);
  accWeb = await org.createAccount('web', ouWeb);
  accDev = await org.createAccount('dev', ouDev);
  proxy = await startCountingProxy(moto.endpoint);
  sts = await startFakeSts({ status: 200, contentType: 'text/xml', body: '' });
  server = await startTestServer({
    env: { ...moto.env, AWS_ENDPOINT_URL_ORGANIZATIONS: proxy.url, JOINERY_IAM_STS_TEST_ENDPOINT: sts.url, JOINERY_IAM_STS_TIMEOUT_MS: '2000' },
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await sts?.stop();
  await proxy?.stop();
  org?.destroy();
  await moto?.stop();
});

function signedAs(account: string): void {
  sts.answer = { status: 200, contentType: 'text/xml', body: callerIdentityXml(account, `arn:aws:sts::${account}:assumed-role/node/i-0abc`) };
}

async function join(srv: TestServer, tokenName: string): Promise<{ status: number; code?: string; message?: string }> {
  const prepared = await prepareIamJoin({ client: srv.client(), tokenName, role: 'Node', publicKeyPem: newPublicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });
  try {
    await srv.client().post('/v1/join/iam', prepared.body);
    return { status: 200 };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { status: e.status, code: e.code, message: e.message };
  }
}

const orgToken = () => ({
  version: 'v2',
  metadata: { name: 'org-token' },
  spec: {
    roles: ['Node'],
    join_method: 'iam',
    allow: [{ aws_organization_id: orgId, aws_organizational_units: { include: [ouProd], exclude: [ouWeb] } }],
  },
});

test('the token with organization conditions is stored and read back as written', async () => {
  await server.client().createToken(orgToken());
  const stored = await server.client().getToken('org-token');
  expect(stored?.spec.allow).toEqual(orgToken().spec.allow);
});

test('joins are admitted and refused by organization and OU, and a second join is answered from the cache', async () => {
  signedAs(accApi);
  const before = proxy.count();
  expect(await join(server, 'org-token')).toEqual({ status: 200 });
  const afterFirst = proxy.count();
  expect(afterFirst).toBeGreaterThan(before); // DescribeAccount and ListParents up to the root
  expect(await join(server, 'org-token')).toEqual({ status: 200 });
  expect(proxy.count()).toBe(afterFirst);

  signedAs(accWeb);
  const web = await join(server, 'org-token');
  expect(web).toMatchObject({ status: 403, code: 'aws_organization_not_allowed' });
  expect(web.message).toContain(accWeb);
  expect(web.message).toContain(ouWeb);

  signedAs(accDev);
  expect(await join(server, 'org-token')).toMatchObject({ status: 403, code: 'aws_organization_not_allowed' });

  signedAs(OUTSIDE);
  const outside = await join(server, 'org-token');
  expect(outside).toMatchObject({ status: 403, code: 'aws_organization_not_allowed' });
  expect(outside.message).toContain(OUTSIDE);
});

test('OU matchers without aws_organization_id are refused with the field', async () => {
  const bad = { version: 'v2', metadata: { name: 'bad-org-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: accApi, aws_organizational_units: { include: [ouProd] } }] } };
  await expect(server.client().createToken(bad)).rejects.toMatchObject({ status: 400, field: 'spec.allow[0].aws_organizational_units' });
});

test('a server that cannot reach AWS Organizations refuses with aws_organizations_unavailable', async () => {
  const other = await startTestServer({
    env: { ...moto.env, AWS_ENDPOINT_URL_ORGANIZATIONS: `http://127.0.0.1:${await freePort()}`, JOINERY_IAM_STS_TEST_ENDPOINT: sts.url, JOINERY_IAM_STS_TIMEOUT_MS: '2000' },
  });
  try {
    await other.client().createToken(orgToken());
    signedAs(accApi);
    expect(await join(other, 'org-token')).toMatchObject({ status: 403, code: 'aws_organizations_unavailable' });
  } finally {
    await other.stop();
  }
});
