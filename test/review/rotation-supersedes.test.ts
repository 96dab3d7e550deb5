// Review finding: key rotation on renewal does not retire the old key. After a host renews with a
// new public_key (because its old key may be exposed), the certificate for the old key still
// renews, and each such renewal yields a fresh certificate for the old key, which renews again:
// whoever holds the old key and any one of its certificates keeps the host's identity alive for
// ever, and the registry's "current serial" follows whoever renewed last. Only `nodes rm` ends it.

import { X509Certificate } from 'node:crypto';
import { joinWithToken, newHostKey, renew, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

let s: LifecycleServer;
beforeAll(async () => {
  s = await startLifecycleServer();
});
afterAll(() => s?.stop());

test('after a key rotation, a certificate for the old key no longer renews', async () => {
  const id = await joinWithToken(s, 'review-rotation-secret-0123456789');
  const next = newHostKey();
  const rotated = await renew(s, id, { public_key: next.publicPem });
  expect(rotated.status).toBe(200);

  // The holder of the old key presents the old certificate.
  const stale = await renew(s, id);
  const fresh = stale.status === 200 ? new X509Certificate(stale.json().certificate) : undefined;
  expect({ status: stale.status, oldKeyStillCertified: fresh?.publicKey.export({ type: 'spki', format: 'pem' }) === id.key.publicPem }).toEqual({
    status: 403,
    oldKeyStillCertified: false,
  });
});
