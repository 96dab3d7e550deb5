// The join-time AWS Organizations checks of IAM allow rules against moto's Organizations API: an
// organization with nested OUs and accounts, include/exclude matching over the whole ancestry,
// accounts outside the organization, the bounded cache, failures (never cached) and their codes,
// and the egress proxy. Matching semantics from Teleport's lib/join/iamjoin (checkIAMAllowRules)
// and lib/utils/aws/organizations (OrganizationalUnitsMatch).

import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AwsOrganizationsClient, OrganizationsApiError, type OrganizationsApi } from '../../api/aws/organizations-client';
import { JoinError } from '../../api/join/errors';
import { admitByIamRules, ancestryFromPaths, matchOrganizationConditions, OrganizationsLookup, type IamAllowRule } from '../../api/join/iam/organizations';
import { IAM_REFUSAL_CODES } from '../../api/join/iam/join-iam';
import { caught } from '../support/caught';
import { freePort, startMoto, type Moto } from '../support/moto';
import { MotoOrganization } from './moto-organizations';

let moto: Moto;
let org: MotoOrganization;
let orgs: AwsOrganizationsClient;
let orgId: string;
let rootId: string;
let ouProd: string;
let ouWeb: string; // prod / web
let ouDev: string;
let accWeb: string; // in prod/web
let accDev: string; // in dev
let accRoot: string; // directly under the root
const OUTSIDE = '999999999999';

const arnOf = (account: string) => `arn:aws:sts::${account}:assumed-role/node/i-0abc`;
const id = (account: string) => ({ account, arn: arnOf(account) });

beforeAll(async () => {
  moto = await startMoto();
  org = await new MotoOrganization(moto).create();
  orgs = new AwsOrganizationsClient({ endpoint: moto.endpoint, credentials: moto.credentials });
  orgId = org.organizationId;
  rootId = org.rootId;
  ouProd = await org.createOu(rootId, 'prod');
  ouWeb = await org.createOu(ouProd, 'web');
  ouDev = await org.createOu(rootId, 'dev');
  accWeb = await org.createAccount('web', ouWeb);
  accDev = await org.createAccount('dev', ouDev);
  accRoot = await org.createAccount('loose');
}, 60_000);

afterAll(async () => {
  orgs?.destroy();
  org?.destroy();
  await moto?.stop();
});

/** The real client against moto, counting calls. */
function counted(): { api: OrganizationsApi; calls: string[] } {
  const calls: string[] = [];
  const api: OrganizationsApi = {
    describeAccount: (p, a) => (calls.push(`DescribeAccount ${a}`), orgs.describeAccount(p, a)),
    listParents: (p, c) => (calls.push(`ListParents ${c}`), orgs.listParents(p, c)),
  };
  return { api, calls };
}

function lookup(opts: { now?: () => number; ttlMs?: number; maxEntries?: number } = {}) {
  const { api, calls } = counted();
  return { lookup: new OrganizationsLookup({ api, ...opts }), calls };
}

async function refusal(p: Promise<unknown>): Promise<JoinError> {
  return caught(p, JoinError);
}

test('moto gives the organization, and the ancestry up to the root through ListParents', async () => {
  const { lookup: l } = lookup();
  const answer = await l.account('aws', accWeb, true);
  expect(answer).toEqual({ member: true, organizationId: orgId, managementAccount: '123456789012', ancestry: [ouWeb, ouProd, rootId] });
  expect(await l.account('aws', OUTSIDE, true)).toEqual({ member: false });
});

test('DescribeAccount Paths, when AWS sends them, give the same ancestry without ListParents', () => {
  expect(ancestryFromPaths([`${orgId}/${rootId}/${ouProd}/${ouWeb}/${accWeb}/`])).toEqual([rootId, ouProd, ouWeb]);
});

describe('matching', () => {
  const deps = () => ({ lookup: lookup().lookup, tokenName: 'org-token' });

  test('an organization rule admits every member account, at any depth', async () => {
    for (const account of [accWeb, accDev, accRoot, '123456789012']) {
      await expect(matchOrganizationConditions({ aws_organization_id: orgId }, id(account), deps())).resolves.toBeUndefined();
    }
  });

  test('another organization ID is refused, naming both organizations', async () => {
    const err = await refusal(matchOrganizationConditions({ aws_organization_id: 'o-zzzzzzzzzz' }, id(accWeb), deps()));
    expect(err.code).toBe('aws_organization_not_allowed');
    expect(err.status).toBe(403);
    expect(err.message).toContain(accWeb);
    expect(err.message).toContain(orgId);
    expect(err.message).toContain('o-zzzzzzzzzz');
  });

  test('an account outside the organization is refused', async () => {
    const err = await refusal(matchOrganizationConditions({ aws_organization_id: orgId }, id(OUTSIDE), deps()));
    expect(err.code).toBe('aws_organization_not_allowed');
    expect(err.message).toContain(OUTSIDE);
    expect(err.message).toContain(orgId);
  });

  test('include matches nested OUs: an account under prod/web is in prod', async () => {
    const rule = { aws_organization_id: orgId, aws_organizational_units: { include: [ouProd] } };
    await expect(matchOrganizationConditions(rule, id(accWeb), deps())).resolves.toBeUndefined();
    const err = await refusal(matchOrganizationConditions(rule, id(accDev), deps()));
    expect(err.code).toBe('aws_organization_not_allowed');
    expect(err.message).toContain(accDev);
    expect(err.message).toContain(ouDev);
    expect(err.message).toContain(ouProd);
  });

  test('the root ID and "*" include the whole organization; an account at the root is only in the root', async () => {
    for (const include of [[rootId], ['*']]) {
      for (const account of [accWeb, accDev, accRoot]) {
        await expect(matchOrganizationConditions({ aws_organization_id: orgId, aws_organizational_units: { include } }, id(account), deps())).resolves.toBeUndefined();
      }
    }
    const err = await refusal(matchOrganizationConditions({ aws_organization_id: orgId, aws_organizational_units: { include: [ouProd, ouDev] } }, id(accRoot), deps()));
    expect(err.code).toBe('aws_organization_not_allowed');
  });

  test('exclude wins over include, at any level above the account', async () => {
    const rule = { aws_organization_id: orgId, aws_organizational_units: { include: ['*'], exclude: [ouProd] } };
    const err = await refusal(matchOrganizationConditions(rule, id(accWeb), deps()));
    expect(err.code).toBe('aws_organization_not_allowed');
    expect(err.message).toMatch(new RegExp(`under ${ouProd}.*excludes`));
    await expect(matchOrganizationConditions(rule, id(accDev), deps())).resolves.toBeUndefined();
    await expect(matchOrganizationConditions({ aws_organization_id: orgId, aws_organizational_units: { include: [ouWeb], exclude: [ouWeb] } }, id(accWeb), deps())).rejects.toMatchObject({ code: 'aws_organization_not_allowed' });
  });

  test('OU conditions outside the organization refuse before any ancestry lookup', async () => {
    const { lookup: l, calls } = lookup();
    const err = await refusal(matchOrganizationConditions({ aws_organization_id: orgId, aws_organizational_units: { include: ['*'] } }, id(OUTSIDE), { lookup: l }));
    expect(err.code).toBe('aws_organization_not_allowed');
    expect(calls).toEqual([`DescribeAccount ${OUTSIDE}`]);
  });
});

describe('rules together (admitByIamRules)', () => {
  const never: OrganizationsLookup = { account: () => Promise.reject(new Error('must not be called')) } as unknown as OrganizationsLookup;

  test('rules without organization fields never call AWS and refuse as before', async () => {
    const rules: IamAllowRule[] = [{ aws_account: accWeb }];
    await expect(admitByIamRules(rules, id(accWeb), { lookup: never })).resolves.toEqual(rules[0]);
    await expect(admitByIamRules(rules, id(accDev), { lookup: never, tokenName: 't' })).rejects.toMatchObject({ code: 'iam_account_not_allowed' });
    await expect(admitByIamRules([{ aws_account: accWeb, aws_arn: 'arn:aws:iam::*:user/x' }], id(accWeb), { lookup: never })).rejects.toMatchObject({ code: 'iam_arn_not_allowed' });
  });

  test('organization conditions are checked only when aws_account and aws_arn hold', async () => {
    const { lookup: l, calls } = lookup();
    const rules: IamAllowRule[] = [{ aws_account: accDev, aws_organization_id: orgId }];
    await expect(admitByIamRules(rules, id(accWeb), { lookup: l })).rejects.toMatchObject({ code: 'iam_account_not_allowed' });
    await expect(admitByIamRules([{ aws_arn: 'arn:aws:iam::*:user/*', aws_organization_id: orgId }], id(accWeb), { lookup: l })).rejects.toMatchObject({ code: 'iam_arn_not_allowed' });
    expect(calls).toEqual([]);
  });

  test('a failing organization rule lets the next rule admit; one lookup per join', async () => {
    const { lookup: l, calls } = lookup();
    const rules: IamAllowRule[] = [
      { aws_organization_id: orgId, aws_organizational_units: { include: [ouDev] } },
      { aws_organization_id: orgId, aws_organizational_units: { include: [ouWeb] } },
    ];
    await expect(admitByIamRules(rules, id(accWeb), { lookup: l })).resolves.toBe(rules[1]);
    expect(calls.filter((c) => c.startsWith('DescribeAccount'))).toHaveLength(1);
    // And when none admits, the organization refusal is the answer, not an account refusal.
    await expect(admitByIamRules(rules, id(accRoot), { lookup: l })).rejects.toMatchObject({ code: 'aws_organization_not_allowed' });
  });

  test('a lookup failure is the answer when no rule admits (it might have), never an admission', async () => {
    const failing = new OrganizationsLookup({ api: { describeAccount: () => Promise.reject(new OrganizationsApiError('ServiceException', 'boom', 500)), listParents: () => Promise.reject(new Error('no')) } });
    const rules: IamAllowRule[] = [{ aws_organization_id: orgId }, { aws_account: accDev }];
    await expect(admitByIamRules(rules, id(accWeb), { lookup: failing })).rejects.toMatchObject({ code: 'aws_organizations_unavailable' });
    await expect(admitByIamRules(rules, id(accDev), { lookup: failing })).resolves.toBe(rules[1]);
  });
});

describe('the cache', () => {
  test('a second join within the TTL does not call AWS; after the TTL it does', async () => {
    let now = 1_000_000;
    const { lookup: l, calls } = lookup({ now: () => now, ttlMs: 60_000 });
    const rule = { aws_organization_id: orgId, aws_organizational_units: { include: [ouProd] } };
    await matchOrganizationConditions(rule, id(accWeb), { lookup: l });
    expect(calls).toEqual([`DescribeAccount ${accWeb}`, `ListParents ${accWeb}`, `ListParents ${ouWeb}`, `ListParents ${ouProd}`]);
    now += 59_000;
    await matchOrganizationConditions(rule, id(accWeb), { lookup: l });
    // An organization-only rule is answered from the entry that has the ancestry too.
    await matchOrganizationConditions({ aws_organization_id: orgId }, id(accWeb), { lookup: l });
    expect(calls).toHaveLength(4);
    now += 2_000;
    await matchOrganizationConditions(rule, id(accWeb), { lookup: l });
    expect(calls).toHaveLength(8);
  });

  test('"not in the organization" is an answer and is cached too', async () => {
    const { lookup: l, calls } = lookup();
    for (let i = 0; i < 3; i++) await expect(matchOrganizationConditions({ aws_organization_id: orgId }, id(OUTSIDE), { lookup: l })).rejects.toMatchObject({ code: 'aws_organization_not_allowed' });
    expect(calls).toEqual([`DescribeAccount ${OUTSIDE}`]);
  });

  test('concurrent joins of one account share one call', async () => {
    const { lookup: l, calls } = lookup();
    await Promise.all(Array.from({ length: 10 }, () => matchOrganizationConditions({ aws_organization_id: orgId }, id(accDev), { lookup: l })));
    expect(calls).toEqual([`DescribeAccount ${accDev}`]);
  });

  test('the number of entries is bounded (least recently used goes first)', async () => {
    const { lookup: l, calls } = lookup({ maxEntries: 2 });
    const ask = (a: string) => l.account('aws', a, false);
    await ask(accWeb);
    await ask(accDev);
    await ask(accWeb); // accDev is now the least recently used
    await ask(accRoot);
    expect(l.size).toBe(2);
    await ask(accWeb);
    expect(calls).toHaveLength(3);
    await ask(accDev);
    expect(calls).toHaveLength(4);
  });

  test('failures are not cached: the next join asks again and succeeds', async () => {
    let fail = true;
    const calls: string[] = [];
    const api: OrganizationsApi = {
      describeAccount: (p, a) => {
        calls.push(a);
        return fail ? Promise.reject(new OrganizationsApiError('TooManyRequestsException', 'slow down', 400)) : orgs.describeAccount(p, a);
      },
      listParents: (p, c) => orgs.listParents(p, c),
    };
    const l = new OrganizationsLookup({ api });
    const err = await refusal(matchOrganizationConditions({ aws_organization_id: orgId }, id(accDev), { lookup: l }));
    expect(err.code).toBe('aws_organizations_throttled');
    expect(err.status).toBe(429);
    expect(err.details).toEqual({ retryAfterSeconds: expect.any(Number) });
    fail = false;
    await expect(matchOrganizationConditions({ aws_organization_id: orgId }, id(accDev), { lookup: l })).resolves.toBeUndefined();
    expect(calls).toEqual([accDev, accDev]);
  });
});

describe('AWS failures through the real client', () => {
  async function answering(status: number, body: unknown): Promise<{ url: string; close: () => Promise<void> }> {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
  }

  async function refusedWith(client: AwsOrganizationsClient): Promise<JoinError> {
    try {
      return await refusal(matchOrganizationConditions({ aws_organization_id: orgId }, id(accDev), { lookup: new OrganizationsLookup({ api: client }), tokenName: 'org-token' }));
    } finally {
      client.destroy();
    }
  }

  test('access denied names the permission to grant', async () => {
    const fake = await answering(400, { __type: 'AccessDeniedException', message: 'not authorized to perform organizations:DescribeAccount' });
    try {
      const err = await refusedWith(new AwsOrganizationsClient({ endpoint: fake.url, credentials: moto.credentials }));
      expect(err.code).toBe('aws_organizations_unavailable');
      expect(err.status).toBe(403);
      expect(err.message).toContain(accDev);
      expect(err.message).toContain('organizations:DescribeAccount');
    } finally {
      await fake.close();
    }
  });

  test('throttling answers 429 with its own code', async () => {
    const fake = await answering(400, { __type: 'com.amazonaws.organizations#TooManyRequestsException', message: 'Rate exceeded' });
    try {
      const err = await refusedWith(new AwsOrganizationsClient({ endpoint: fake.url, credentials: moto.credentials }));
      expect(err.code).toBe('aws_organizations_throttled');
      expect(err.status).toBe(429);
    } finally {
      await fake.close();
    }
  });

  test('an unreachable endpoint and missing credentials are unavailable, not admitted', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    expect((await refusedWith(new AwsOrganizationsClient({ endpoint: `http://127.0.0.1:${closed}`, credentials: moto.credentials }))).code).toBe('aws_organizations_unavailable');
    const noCredentials = new AwsOrganizationsClient({ endpoint: moto.endpoint, credentials: () => Promise.reject(new Error('Could not load credentials from any providers')) });
    const err = await refusedWith(noCredentials);
    expect(err.code).toBe('aws_organizations_unavailable');
    expect(err.message).toMatch(/give the server AWS credentials/);
  });

  test('an answer larger than 1 MiB is not read into memory: unavailable, not admitted', async () => {
    const fake = await answering(200, { Account: { Id: accDev, Arn: 'x'.repeat(2 << 20) } });
    try {
      const err = await refusedWith(new AwsOrganizationsClient({ endpoint: fake.url, credentials: moto.credentials }));
      expect(err.code).toBe('aws_organizations_unavailable');
      expect(err.message).toContain('larger than 1048576 bytes');
    } finally {
      await fake.close();
    }
  });

  test('every code the organization checks give is registered with the IAM refusals', () => {
    for (const code of ['aws_organization_not_allowed', 'aws_organizations_unavailable', 'aws_organizations_throttled']) expect(Object.keys(IAM_REFUSAL_CODES)).toContain(code);
  });
});

/** A CONNECT proxy that refuses every tunnel: nothing leaves the machine, and it records the targets. */
async function refusingProxy(): Promise<{ url: string; connects: string[]; close: () => Promise<void> }> {
  const connects: string[] = [];
  const proxy = http.createServer();
  proxy.on('connect', (req, socket) => {
    connects.push(req.url ?? '');
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, connects, close: () => new Promise((r) => proxy.close(() => r())) };
}

/** Runs `fn` with these variables set (undefined: unset) and the SDK's endpoint overrides unset. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const all = { AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_ORGANIZATIONS: undefined, HTTPS_PROXY: undefined, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined, ...vars };
  const saved = Object.fromEntries(Object.keys(all).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(all);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

test('with HTTPS_PROXY set, the client goes through a CONNECT tunnel to the Organizations host', async () => {
  const proxy = await refusingProxy();
  const client = new AwsOrganizationsClient({ credentials: moto.credentials, connectionTimeoutMs: 2_000, requestTimeoutMs: 2_000 });
  try {
    await withEnv({ HTTPS_PROXY: proxy.url }, async () => {
      const err = await refusal(matchOrganizationConditions({ aws_organization_id: orgId }, id(accDev), { lookup: new OrganizationsLookup({ api: client }) }));
      expect(err.code).toBe('aws_organizations_unavailable');
    });
    expect(proxy.connects).toEqual(['organizations.us-east-1.amazonaws.com:443']);
  } finally {
    client.destroy();
    await proxy.close();
  }
});

test('the partition of the caller picks the endpoint: each partition has its own host', async () => {
  const proxy = await refusingProxy();
  const client = new AwsOrganizationsClient({ credentials: moto.credentials, connectionTimeoutMs: 2_000, requestTimeoutMs: 2_000 });
  const partitions = ['aws-us-gov', 'aws-cn', 'aws-iso', 'aws-iso-b'];
  try {
    await withEnv({ HTTPS_PROXY: proxy.url }, async () => {
      for (const partition of partitions) await expect(client.describeAccount(partition, accDev)).rejects.toBeInstanceOf(OrganizationsApiError);
      await expect(client.describeAccount('aws-mars', accDev)).rejects.toMatchObject({ code: 'UnknownPartition' });
    });
    expect(proxy.connects).toEqual([
      'organizations.us-gov-west-1.amazonaws.com:443',
      'organizations.cn-northwest-1.amazonaws.com.cn:443',
      'organizations.us-iso-east-1.c2s.ic.gov:443',
      'organizations.us-isob-east-1.sc2s.sgov.gov:443',
    ]);
  } finally {
    client.destroy();
    await proxy.close();
  }
});

test('AWS_ENDPOINT_URL_ORGANIZATIONS, else AWS_ENDPOINT_URL, overrides the endpoint (read by the SDK)', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  for (const vars of [{ AWS_ENDPOINT_URL_ORGANIZATIONS: moto.endpoint, AWS_ENDPOINT_URL: closed }, { AWS_ENDPOINT_URL: moto.endpoint }]) {
    const client = new AwsOrganizationsClient({ credentials: moto.credentials });
    try {
      const described = await withEnv(vars, () => client.describeAccount('aws', accDev));
      expect(described).toMatchObject({ id: accDev, arn: expect.stringContaining(`/${orgId}/${accDev}`) });
    } finally {
      client.destroy();
    }
  }
});

test('NO_PROXY decides per endpoint host: an exempted host is reached directly, another through the proxy', async () => {
  const proxy = await refusingProxy();
  let direct = 0;
  const tcp = net.createServer((socket) => {
    direct++;
    socket.destroy();
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as AddressInfo).port;
  try {
    for (const noProxy of ['127.0.0.1', '.amazonaws.com']) {
      const client = new AwsOrganizationsClient({ endpoint: `https://127.0.0.1:${port}`, credentials: moto.credentials, connectionTimeoutMs: 2_000, requestTimeoutMs: 2_000 });
      try {
        await withEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: noProxy }, () => expect(client.describeAccount('aws', accDev)).rejects.toBeInstanceOf(OrganizationsApiError));
      } finally {
        client.destroy();
      }
    }
    expect(direct).toBe(1);
    expect(proxy.connects).toEqual([`127.0.0.1:${port}`]);
  } finally {
    await proxy.close();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
});
