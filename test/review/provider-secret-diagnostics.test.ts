// Review finding: a token-method token's name is its secret, yet when an update fails with an API
// error the provider's diagnostic repeats the server's message, which quotes the name in clear
// (`token "<secret>" not found`). Terraform prints diagnostics in plan/apply logs (CI logs).

import { planToken, applyToken } from '../../provider/resource';
import type { CtyObject } from '../../provider/cty';
import { startTestServer, type TestServer } from '../support/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const SECRET = 'review-secret-9f8e7d6c5b4a39281706';

const config = (description: string | null): CtyObject => ({
  id: null,
  kind: null,
  version: 'v2',
  labels: null,
  metadata: { name: SECRET, description, labels: null, expires: null },
  spec: { roles: ['Node'], join_method: 'token', bot_name: null, aws_iid_ttl: null, allow: null },
});

test('an update of a token deleted outside Terraform does not print the secret name', async () => {
  const client = server.client();
  const created = await applyToken(client, null, planToken(null, config(null), config(null)).planned as CtyObject);
  expect(created.diagnostics).toEqual([]);
  // Deleted by someone else between Terraform's refresh and its apply.
  await client.deleteToken(SECRET);
  const planned = planToken(created.newState as CtyObject, config('changed'), config('changed')).planned as CtyObject;
  const updated = await applyToken(client, created.newState as CtyObject, planned, created.revision);
  expect(updated.diagnostics.length).toBeGreaterThan(0);
  expect(JSON.stringify(updated.diagnostics)).not.toContain(SECRET);
}, 60_000);
