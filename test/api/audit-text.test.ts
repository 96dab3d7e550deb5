// Issue 17, item 4, on a running server: unauthenticated callers put control and invisible
// characters into a join's role and into the issuer and subject of a self-signed client
// certificate; every answer stays a 4xx JSON error and the audit serves them written out.

import { isSafeText } from '../../schema/text-safety';
import { newHostKey, renew, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';
import { selfSignedCertificate } from '../support/self-signed';

const FORMS: [string, string][] = [
  ['C1 CSI', '\u009b'],
  ['C1 NEL', '\u0085'],
  ['RIGHT-TO-LEFT OVERRIDE', '\u202e'],
  ['FIRST STRONG ISOLATE', '\u2068'],
  ['ZERO WIDTH SPACE', '\u200b'],
  ['LINE SEPARATOR', '\u2028'],
  ['ESC', '\u001b'],
];

let s: LifecycleServer;
beforeAll(async () => {
  s = await startLifecycleServer();
});
afterAll(() => s.stop());

/** Every string in a value, keys included. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [...(Array.isArray(v) ? [] : [k]), ...strings(x)]);
}

async function auditEvents(): Promise<unknown[]> {
  return (await s.admin<{ events: unknown[] }>('GET', '/v1/audit?limit=500')).events;
}

const visible = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

test.each(FORMS)("a join's role holding %s", async (_name, c) => {
  const name = `audit-text-${c.codePointAt(0)}-0123456789abcdef`;
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'token' } });
  const r = await s.request('POST', '/v1/join/token', { body: { token_name: name, role: `Node${c}Proxy`, public_key: newHostKey().publicPem } });
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(r.json().error.code).toEqual(expect.any(String));
  const events = await auditEvents();
  for (const text of strings(events)) expect(isSafeText(text)).toBe(true);
  expect(JSON.stringify(events)).toContain(JSON.stringify(`Node${visible(c)}Proxy`).slice(1, -1));
});

// Node writes a C0 control in a distinguished name as an RFC 4514 escape (`\\1B`) itself.
test.each(FORMS.filter(([, c]) => c.charCodeAt(0) > 0x7f))('a self-signed client certificate whose issuer and subject hold %s', async (_name, c) => {
  const { certPem, keyPem } = await selfSignedCertificate([{ CN: [`evil${c}host`] }, { O: [`life-cluster${c}`] }]);
  const r = await renew(s, { certificate: certPem, key: { privatePem: keyPem, publicPem: '' } }, {});
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(r.json().error.code).toEqual(expect.any(String));
  const events = await auditEvents();
  for (const text of strings(events)) expect(isSafeText(text)).toBe(true);
  expect(JSON.stringify(events)).toContain(`evil${visible(c)}host`.replace(/\\/g, '\\\\'));
});
