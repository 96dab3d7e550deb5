// A page token issued by one replica is honoured by the other: the key that seals page tokens
// lives in the shared database, so a client behind a load balancer can page across replicas.

import type { JoineryClient } from '../../client/api-client';
import { startReplicas, type Replicas } from './cluster';

let cluster: Replicas;
let a: JoineryClient;
let b: JoineryClient;

jest.setTimeout(120_000);

beforeAll(async () => {
  cluster = await startReplicas();
  a = cluster.a.client();
  b = cluster.b.client();
}, 180_000);
afterAll(() => cluster?.stop());

test('pages alternate between the replicas without loss or repetition', async () => {
  const names = Array.from({ length: 23 }, (_, i) => `replica-page-${String(i).padStart(2, '0')}`);
  // Both replicas issue their first page tokens at once, so both race to create the sealing key.
  await Promise.all(names.map((n, i) => (i % 2 ? a : b).createToken({ kind: 'token', version: 'v2', metadata: { name: n }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } })));
  const [fromA, fromB] = await Promise.all([a.listTokensPage({ limit: 1 }), b.listTokensPage({ limit: 1 })]);
  expect((await b.listTokensPage({ limit: 1, pageToken: fromA.next_page_token })).tokens[0].metadata.name).toBe(names[1]);
  expect((await a.listTokensPage({ limit: 1, pageToken: fromB.next_page_token })).tokens[0].metadata.name).toBe(names[1]);

  const seen: string[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await (i % 2 ? a : b).listTokensPage({ limit: 4, pageToken });
    seen.push(...page.tokens.map((t) => t.metadata.name));
    if (!page.next_page_token) break;
    pageToken = page.next_page_token;
  }
  expect(seen).toEqual(names);
});
