// GET /v1/tokens and /v1/nodes answer one page at a time (limit, page_token): against the real
// server, with thousands of tokens written straight into its database, and writers changing the
// list while a client pages through it.

import * as path from 'node:path';
import { ApiError, type JoineryClient } from '../../client/api-client';
import { parseToken } from '../../schema/token';
import { openSqliteStore } from '../../api/store/sqlite';
import type { Store } from '../../api/store/types';
import { startTestServer, type TestServer } from '../support/server';
import { caught } from '../support/caught';

const TOTAL = 2500;
const name = (i: number) => `page-${String(i).padStart(4, '0')}`;
const ec2 = (n: string) => parseToken({ kind: 'token', version: 'v2', metadata: { name: n }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });

let server: TestServer;
let client: JoineryClient;
let store: Store;

beforeAll(async () => {
  server = await startTestServer();
  client = server.client();
  // A second connection to the server's own database: thousands of tokens in a second or two.
  store = await openSqliteStore(path.join(server.dataDir, 'joinery.db'), { warn: () => undefined });
  for (let i = 0; i < TOTAL; i++) await store.tokens.create(ec2(name(i)));
}, 120_000);
afterAll(async () => {
  await store?.close();
  await server?.stop();
});

const apiError = (p: Promise<unknown>) => caught(p, ApiError);
const names = (page: { tokens: { metadata: { name: string } }[] }) => page.tokens.map((t) => t.metadata.name);

test('without parameters the first page of 500 comes back with a next_page_token; the client follows every page', async () => {
  const first = await client.listTokensPage();
  expect(first.tokens).toHaveLength(500);
  expect(names(first)).toEqual(Array.from({ length: 500 }, (_, i) => name(i)));
  expect(typeof first.next_page_token).toBe('string');
  const all = (await client.listTokens()).map((t) => t.metadata.name);
  expect(all).toHaveLength(await store.tokens.count());
  expect(new Set(all).size).toBe(all.length);
  expect(all.filter((n) => n.startsWith('page-'))).toHaveLength(TOTAL);
});

test('paging while a writer adds, updates and deletes: no token lost or seen twice', async () => {
  const deleted = new Set<string>();
  const deletedUnseen = new Set<string>();
  const added: { name: string; ahead: boolean }[] = [];
  const seen: string[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  for (; pages < 100; pages++) {
    const page = await client.listTokensPage({ limit: 97, pageToken });
    seen.push(...names(page));
    if (!page.next_page_token) break;
    pageToken = page.next_page_token;
    // Between pages: delete tokens not yet reached and one already seen, add tokens behind and
    // ahead of the cursor, and replace one ahead.
    const cursor = seen[seen.length - 1];
    const idx = Number(cursor.slice(5));
    for (const i of [idx + 3, idx + 50, idx - 10]) {
      if (i < 0 || i >= TOTAL || deleted.has(name(i))) continue;
      if (!seen.includes(name(i))) deletedUnseen.add(name(i));
      await store.tokens.delete(name(i));
      deleted.add(name(i));
    }
    for (const [n, ahead] of [[`${name(Math.max(idx - 1, 0))}-new`, false], [`${name(Math.min(idx + 20, TOTAL - 1))}-new`, true]] as const) {
      if (added.some((a) => a.name === n)) continue;
      await store.tokens.create(ec2(n));
      added.push({ name: n, ahead });
    }
    if (idx + 5 < TOTAL && !deleted.has(name(idx + 5))) await store.tokens.put(ec2(name(idx + 5)));
  }
  expect(pages).toBeLessThan(100);
  expect(new Set(seen).size).toBe(seen.length);
  const seenSet = new Set(seen);
  expect(deletedUnseen.size).toBeGreaterThan(20);
  for (let i = 0; i < TOTAL; i++) {
    const n = name(i);
    // Present throughout: seen; deleted before the cursor reached it: not seen.
    if (!deleted.has(n)) expect([n, seenSet.has(n)]).toEqual([n, true]);
    if (deletedUnseen.has(n)) expect([n, seenSet.has(n)]).toEqual([n, false]);
  }
  for (const a of added) expect([a.name, seenSet.has(a.name)]).toEqual([a.name, a.ahead]);
  expect([...seenSet].every((n) => /^page-\d{4}(-new)?$/.test(n))).toBe(true);
});

test('listTokens under a concurrent writer returns every token that stayed, each once', async () => {
  const before = new Set((await client.listTokens()).map((t) => t.metadata.name));
  const churn = Array.from({ length: 40 }, (_, i) => `churn-${String(i).padStart(2, '0')}`);
  let stop = false;
  const writer = (async () => {
    for (let round = 0; round < 200 && !stop; round++) {
      const n = churn[round % churn.length];
      if (round % 2 === 0) await store.tokens.create(ec2(n)).catch(() => undefined);
      else await store.tokens.delete(churn[(round - 1) % churn.length]);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const lists = [];
  for (let i = 0; i < 3; i++) lists.push((await client.listTokens()).map((t) => t.metadata.name));
  stop = true;
  await writer;
  for (const list of lists) {
    expect(new Set(list).size).toBe(list.length);
    for (const n of before) expect(list).toContain(n);
    expect(list.every((n) => before.has(n) || n.startsWith('churn-'))).toBe(true);
  }
});

test('nodes page by host ID; listNodes returns them all', async () => {
  const t0 = new Date();
  const ids = Array.from({ length: 30 }, (_, i) => `host-${String(29 - i).padStart(2, '0')}`);
  for (const [i, id] of ids.entries()) {
    await store.nodes.insert({ hostId: id, joinMethod: 'token', tokenName: 'a-secret-token-name-0000', role: 'Node', joinedAt: t0.toISOString(), certSerial: (0x1000 + i).toString(16), certNotAfter: new Date(t0.getTime() + 3600_000).toISOString(), attributes: {} }, t0);
  }
  const seen: string[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await client.listNodesPage({ limit: 7, pageToken });
    seen.push(...page.nodes.map((n) => n.host_id));
    if (!page.next_page_token) break;
    pageToken = page.next_page_token;
  }
  expect(seen).toEqual([...ids].sort());
  expect((await client.listNodes()).map((n) => n.host_id)).toEqual([...ids].sort());
});

test('a page token does not carry the last key in clear: token-method names are secrets', async () => {
  const secret = 'aaaa-secret-token-name-0123456789';
  await store.tokens.create(parseToken({ kind: 'token', version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'], join_method: 'token' } }));
  const page = await client.listTokensPage({ limit: 1 });
  expect(names(page)).toEqual([secret]);
  const token = page.next_page_token!;
  expect(token).not.toContain(secret);
  expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain(secret);
  expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('aaaa');
  await store.tokens.delete(secret);
});

describe('bad parameters are 400 with the JSON error shape', () => {
  test.each(['0', '1001', '-1', '1.5', 'abc', '', '1e3', '0x10', ' 5', '99999999999999999999'])('limit=%j', async (limit) => {
    for (const list of ['tokens', 'nodes']) {
      const e = await apiError(client.request('GET', `/v1/${list}?limit=${encodeURIComponent(limit)}`));
      expect([e.status, e.code, e.field]).toEqual([400, 'invalid_query', 'limit']);
      expect(e.message).toMatch(/limit must be an integer from 1 to 1000/);
    }
  });

  test('limit given twice', async () => {
    const e = await apiError(client.request('GET', '/v1/tokens?limit=1&limit=2'));
    expect([e.status, e.code, e.field]).toEqual([400, 'invalid_query', 'limit']);
  });

  test('limit=1000 is the largest page', async () => {
    const page = await client.listTokensPage({ limit: 1000 });
    expect(page.tokens).toHaveLength(1000);
  });

  test('malformed, tampered, foreign and oversized page tokens', async () => {
    const real = (await client.listTokensPage({ limit: 1 })).next_page_token!;
    const nodesToken = (await client.listNodesPage({ limit: 1 })).next_page_token!;
    const flipped = real.slice(0, 20) + (real[20] === 'A' ? 'B' : 'A') + real.slice(21);
    const bad = ['garbage', '!!!!', '%FF%FE', flipped, real.slice(0, -2), `${real}AA`, `${real}=`, 'A'.repeat(5000), nodesToken, Buffer.from('page-0001').toString('base64url')];
    for (const t of bad) {
      const e = await apiError(client.request('GET', `/v1/tokens?page_token=${t.startsWith('%') ? t : encodeURIComponent(t)}`));
      expect([t.slice(0, 30), e.status, e.code, e.field]).toEqual([t.slice(0, 30), 400, 'invalid_page_token', 'page_token']);
    }
    const twice = await apiError(client.request('GET', `/v1/tokens?page_token=${real}&page_token=${real}`));
    expect([twice.status, twice.code, twice.field]).toEqual([400, 'invalid_page_token', 'page_token']);
    // The genuine token still works, and so does the nodes one on its own list.
    expect((await client.listTokensPage({ limit: 1, pageToken: real })).tokens).toHaveLength(1);
    expect((await client.listNodesPage({ limit: 1, pageToken: nodesToken })).nodes).toHaveLength(1);
  });
});

test('the OpenAPI document describes the list parameters and next_page_token', async () => {
  const doc = await client.request<{ paths: Record<string, { get: { parameters: { name: string }[]; responses: Record<string, unknown> } }> }>('GET', '/v1/openapi.json');
  const params = { '/v1/tokens': [], '/v1/nodes': ['status', 'method', 'token', 'label', 'stale'], '/v1/locks': [] } as Record<string, string[]>;
  for (const p of Object.keys(params)) {
    expect(doc.paths[p].get.parameters.map((x) => x.name)).toEqual(['limit', 'page_token', ...params[p]]);
    expect(JSON.stringify(doc.paths[p].get.responses['200'])).toContain('next_page_token');
    expect(doc.paths[p].get.responses['400']).toBeDefined();
  }
});
