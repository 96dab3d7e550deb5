// The web console in a real browser (Debian's Chromium through playwright-core) against the real
// server process: sign-in, every page with axe-core, a token created from the form seen by the
// CLI, a token-method secret kept out of the list's DOM, a refused join's code on the Joins page,
// a node removed from the Nodes page on the CRL, and changes without the session or with a forged
// CSRF token refused. JOINERY_CONSOLE_SCREENSHOTS=<dir> saves a screenshot of each page.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Crl } from '@peculiar/x509';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { JoineryClient } from '../../client/api-client';
import { runCli, startTestServer, type TestServer } from '../support/server';
import { launchChromium, seriousFindings } from './browser';
import { httpsRequest } from '../lifecycle/support';

const { build } = require('../../scripts/build-console.js') as { build: () => void };

const SECRET = '9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const SHOTS = process.env.JOINERY_CONSOLE_SCREENSHOTS;

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let hostId: string;
const cspViolations: string[] = [];
const foreignRequests: string[] = [];

async function shot(name: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The Tokens list's "Managed by" cell of the token named `name`, as the page shows it. */
async function managedByCell(name: string): Promise<string> {
  const text = await page.locator('tr', { has: page.getByRole('cell', { name, exact: true }) }).locator('td').nth(5).innerText();
  return text.replace(/\s+/g, ' ').trim();
}

async function expectAccessible(): Promise<void> {
  expect(await seriousFindings(page)).toEqual([]);
}

beforeAll(async () => {
  build();
  server = await startTestServer();
  const c = server.client();
  await c.createToken({ version: 'v2', metadata: { name: SECRET, expires: new Date(Date.now() + 48 * 3600_000).toISOString() }, spec: { roles: ['Node'] } });
  await c.createToken({ version: 'v2', metadata: { name: 'ec2-fleet' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2'] }] } });
  await c.createToken({ version: 'v2', metadata: { name: 'old-ec2', expires: '2001-01-01T00:00:00Z' }, spec: { roles: ['Node'], allow: [{ aws_account: '222222222222' }] } });
  // Tokens as Terraform and the CDKTF constructs write them: the provider names itself, the construct declares the label.
  const tf = new JoineryClient({ addr: server.addr, adminToken: server.adminToken, caFile: server.caFile, client: 'terraform' });
  await tf.createToken({ version: 'v2', metadata: { name: 'tf-fleet' }, spec: { roles: ['Node'], allow: [{ aws_account: '333333333333' }] } });
  await tf.createToken({ version: 'v2', metadata: { name: 'cdktf-fleet', labels: { 'joinery.dev/managed-by': 'cdktf' } }, spec: { roles: ['Node'], allow: [{ aws_account: '444444444444' }] } });
  // One host joins with the secret; one attempt is refused (an unknown secret).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-console-agent-'));
  const joined = await runCli(['join', '--method', 'token', '--token', SECRET, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', dir]);
  expect(joined.code).toBe(0);
  hostId = JSON.parse(fs.readFileSync(path.join(dir, 'identity.json'), 'utf8')).host_id;
  const refused = await runCli(['join', '--method', 'token', '--token', 'ffffffffffffffffffffffffffffffff', '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-console-agent-'))]);
  expect(refused.code).not.toBe(0);

  browser = await launchChromium();
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  // Served offline: the page asks nothing of any origin but the server's.
  page.on('request', (r) => {
    if (!r.url().startsWith(`${server.url}/`) && r.url() !== 'about:blank') foreignRequests.push(r.url());
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

test('unauthenticated: the page shows nothing but the sign-in, under a strict CSP', async () => {
  const res = await page.goto(`${server.url}/`);
  const csp = res!.headers()['content-security-policy'];
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  await page.getByLabel('Admin credential').waitFor();
  expect(await page.locator('nav').count()).toBe(0);
  await expectAccessible();
  await shot('sign-in');

  // A wrong credential is refused and audited like a failed admin authentication.
  await page.getByLabel('Admin credential').fill('not-the-admin-credential');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('the admin credential is not valid').waitFor();
  const { events } = await server.client().request<{ events: { code: string; success: boolean }[] }>('GET', '/v1/audit?type=admin.auth');
  expect(events[0]).toMatchObject({ success: false, code: 'invalid_credential' });
});

test('sign in: an HttpOnly, Secure, SameSite=Strict cookie; the credential is not kept in the browser', async () => {
  await page.getByLabel('Admin credential').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const [cookie, ...others] = await context.cookies();
  expect(others).toEqual([]);
  expect(cookie).toMatchObject({ name: '__Host-joinery_session', httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  const storage = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
  expect(storage).toBe('[{},{},""]');
  expect(await page.content()).not.toContain(server.adminToken);
});

test('Overview: cluster, CA pin, counts and the joins of the last 24 hours', async () => {
  await page.getByText(server.caPin).waitFor();
  await expect(page.locator('text=test-cluster').first().isVisible()).resolves.toBe(true);
  const joins = await page.locator('section', { hasText: 'Joins, last 24 h' }).first().innerText();
  expect(joins).toMatch(/1 accepted · 1 refused/);
  expect(joins).toContain('token_not_found');
  await expectAccessible();
  await shot('overview');
});

test('Tokens: the list never holds a token-method secret; it is shown only when asked for', async () => {
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('cell', { name: 'ec2-fleet', exact: true }).waitFor();
  expect(await page.content()).not.toContain(SECRET);
  expect(await page.content()).toContain('*'.repeat(24) + SECRET.slice(24));
  // The expired token is marked; the token-method secret outliving a day is flagged.
  await expect(page.locator('tr', { hasText: 'old-ec2' }).innerText()).resolves.toContain('expired');
  await expect(page.locator('tr', { hasText: SECRET.slice(24) }).innerText()).resolves.toContain('long-lived secret');
  // Who manages each token, from its joinery.dev/managed-by label; code-managed ones warn of drift.
  await expect(managedByCell('tf-fleet')).resolves.toBe('Terraform edits here drift');
  await expect(managedByCell('cdktf-fleet')).resolves.toBe('CDKTF edits here drift');
  await expect(managedByCell('ec2-fleet')).resolves.toBe('API (tool not recorded)');
  await expectAccessible();
  await shot('tokens');

  await page.getByRole('button', { name: /Show secret of token/ }).click();
  await page.getByRole('dialog').getByText(SECRET).waitFor();
  await expectAccessible();
  await shot('token-secret');
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  expect(await page.content()).not.toContain(SECRET);
});

test('Tokens: an iam token created from the form; the server\'s field errors shown at the field', async () => {
  await page.getByRole('button', { name: 'New token' }).click();
  await page.getByLabel('iam').check();
  await page.getByLabel('Name').fill('console-iam');
  await page.getByLabel('AWS account').fill('12345');
  await page.getByLabel('Caller ARN (glob)').fill('arn:aws:sts::333333333333:assumed-role/node/*');
  const account = page.getByLabel('AWS account');
  expect(await account.getAttribute('aria-invalid')).toBe(null);
  await page.getByRole('button', { name: 'Create token' }).click();
  // The server's error for spec.allow[0].aws_account appears under that input, which it marks.
  await page.locator('#rule-0-account-error').waitFor();
  expect(await account.getAttribute('aria-invalid')).toBe('true');
  expect(await page.locator('#rule-0-account-error').innerText()).toMatch(/12 digits|account/i);
  await expectAccessible();
  await shot('token-form');

  await account.fill('333333333333');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByText('Created iam token console-iam.').waitFor();
  await expect(managedByCell('console-iam')).resolves.toBe('console');
  const cli = await runCli(['get', 'tokens', '--addr', server.addr, '--ca-file', server.caFile], { env: { JOINERY_ADMIN_TOKEN: server.adminToken } });
  expect(cli.code).toBe(0);
  expect(cli.stdout).toContain('console-iam');
  const t = await server.client().request<{ spec: { join_method: string; allow: unknown[] } }>('GET', '/v1/tokens/console-iam');
  expect(t.spec).toMatchObject({ join_method: 'iam', allow: [{ aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/node/*' }] });
});

test('Tokens: an ec2 token from the form, with regions and a role to assume', async () => {
  await page.getByRole('button', { name: 'New token' }).click();
  await page.getByLabel('ec2').check();
  await page.getByLabel('Name').fill('console-ec2');
  await page.getByLabel('App').check();
  await page.getByLabel('AWS account').fill('222222222222');
  await page.getByLabel('Regions').fill('us-west-2, eu-west-1');
  await page.getByLabel('Role to assume (other accounts)').fill('arn:aws:iam::222222222222:role/teleport-DescribeInstances-role');
  await expectAccessible();
  await shot('token-form-ec2');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByText('Created ec2 token console-ec2.').waitFor();
  const t = await server.client().request<{ spec: Record<string, unknown> }>('GET', '/v1/tokens/console-ec2');
  expect(t.spec).toMatchObject({
    join_method: 'ec2',
    roles: ['Node', 'App'],
    allow: [{ aws_account: '222222222222', aws_regions: ['us-west-2', 'eu-west-1'], aws_role: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' }],
  });
});

test('Tokens: a token-method token from the form gets a generated secret and an expiry; shown once, then only masked', async () => {
  await page.getByRole('button', { name: 'New token' }).click();
  await page.getByLabel('token', { exact: true }).check();
  await page.getByLabel('Expires after').selectOption({ label: '1 hour' });
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.locator('code.secret').innerText()).trim();
  expect(secret).toMatch(/^[0-9a-f]{32}$/);
  await expectAccessible();
  const stored = await server.client().request<{ metadata: { expires: string }; spec: { join_method: string } }>('GET', `/v1/tokens/${secret}`);
  expect(stored.spec.join_method).toBe('token');
  const ttl = Date.parse(stored.metadata.expires) - Date.now();
  expect(ttl).toBeGreaterThan(50 * 60_000);
  expect(ttl).toBeLessThanOrEqual(3600_000);
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('cell', { name: 'ec2-fleet', exact: true }).waitFor();
  expect(await page.content()).not.toContain(secret);
  await expect(page.locator('tr', { hasText: secret.slice(24) }).innerText()).resolves.not.toContain('long-lived secret');
});

test('Tokens: an edit that lost the race to another change is refused with the revision conflict', async () => {
  await page.locator('tr', { hasText: 'console-iam' }).getByRole('button', { name: /Edit/ }).click();
  await page.getByLabel('Token resource (YAML)').waitFor();
  // Someone else changes the token meanwhile.
  const c = server.client();
  const current = await c.request<Record<string, any>>('GET', '/v1/tokens/console-iam');
  await c.request('PUT', '/v1/tokens/console-iam', { ...current, status: undefined, spec: { ...current.spec, roles: ['Node', 'App'] } });
  const editor = page.getByLabel('Token resource (YAML)');
  await editor.fill((await editor.inputValue()).replace('- Node', '- Node\n    - Db'));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('revision_conflict').waitFor();
  await expectAccessible();
  await page.getByRole('button', { name: 'Load their version' }).click();
  expect(await editor.inputValue()).toContain('App');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved token console-iam.').waitFor();
});

test('Joins: a refused join shows its code and reason, refused first when asked', async () => {
  await page.getByRole('link', { name: 'Joins' }).click();
  await page.getByLabel('Refused first').check();
  const first = page.locator('tbody tr').first();
  await expect(first.innerText()).resolves.toContain('token_not_found');
  expect(await first.innerText()).toContain('the join token is not valid');
  await expectAccessible();
  await shot('joins');
});

test('Nodes: remove a host with confirmation; its serial is on the CRL', async () => {
  await page.getByRole('link', { name: 'Nodes' }).click();
  const row = page.locator('tr', { hasText: hostId });
  await row.waitFor();
  await expectAccessible();
  await shot('nodes');
  const serial = (await server.client().request<{ cert_serial: string }>('GET', `/v1/nodes/${hostId}`)).cert_serial;
  await row.getByRole('button', { name: `Remove host ${hostId}` }).click();
  await expectAccessible();
  await shot('node-remove');
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await page.getByText(`Removed ${hostId}`).waitFor();
  // The notice comes before the list's reload: wait for the row as the reload draws it.
  await row.filter({ hasText: 'removed' }).waitFor({ timeout: 10_000 });
  await expect(row.innerText()).resolves.toContain('removed');

  const res = await fetchCrl();
  const listed = new X509Crl(res).entries.map((e) => e.serialNumber.toLowerCase().replace(/^0+/, ''));
  expect(listed).toContain(serial);
});

test('Nodes: filters narrow the server\'s pages; lock a host with confirmation: its serial is on the CRL and it cannot join or renew', async () => {
  // A second host of the secret token, reporting its agent version and hostname.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-console-agent-'));
  const joined = await runCli(['join', '--method', 'token', '--token', SECRET, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', dir]);
  expect(joined.code).toBe(0);
  const lockedHost = JSON.parse(fs.readFileSync(path.join(dir, 'identity.json'), 'utf8')).host_id as string;
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('link', { name: 'Nodes' }).click();
  const row = page.locator('tr', { hasText: lockedHost });
  await row.waitFor();
  // The status filter asks the server: removed hosts only, then all again.
  await page.getByLabel('Status').selectOption('removed');
  await page.locator('tr', { hasText: hostId }).waitFor();
  await row.waitFor({ state: 'detached' });
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Method').selectOption('token');
  await row.waitFor();
  await expectAccessible();

  const serial = (await server.client().request<{ cert_serial: string }>('GET', `/v1/nodes/${lockedHost}`)).cert_serial;
  await row.getByRole('button', { name: `Lock host ${lockedHost}` }).click();
  await page.getByLabel('Message for the host').fill('incident 7: compromised');
  await page.getByLabel('Expires after').selectOption('24h');
  await expectAccessible();
  await shot('node-lock');
  await page.getByRole('dialog').getByRole('button', { name: 'Lock' }).click();
  await page.getByText(`Locked ${lockedHost}`).waitFor();
  expect(await page.getByText(`Locked ${lockedHost}`).innerText()).toContain('1 certificate(s) revoked');

  const locks = await server.client().request<{ locks: { kind: string; target: string; message: string; expires_at: string }[] }>('GET', '/v1/locks');
  expect(locks.locks).toEqual([expect.objectContaining({ kind: 'host_id', target: lockedHost, message: 'incident 7: compromised' })]);
  const listed = new X509Crl(await fetchCrl()).entries.map((e) => e.serialNumber.toLowerCase().replace(/^0+/, ''));
  expect(listed).toContain(serial);
  // Its renewal is refused `locked`, with the lock's message.
  const renewed = await httpsRequest(`${server.url}/v1/renew`, 'POST', {
    ca: fs.readFileSync(server.caFile, 'utf8'),
    cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
  });
  expect(renewed.status).toBe(403);
  expect(renewed.json().error).toMatchObject({ code: 'locked', message: 'locked: incident 7: compromised' });
});

async function fetchCrl(): Promise<ArrayBuffer> {
  const r = await context.request.get(`${server.url}/v1/crl`);
  expect(r.status()).toBe(200);
  const body = await r.body();
  return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
}

test('a change without the session, or with a forged CSRF token, changes nothing', async () => {
  const url = `${server.url}/v1/tokens/ec2-fleet`;
  // With the session cookie (context.request shares the page's cookies) but no CSRF header.
  let r = await context.request.delete(url);
  expect(r.status()).toBe(403);
  expect((await r.json()).error.code).toBe('csrf_failed');
  r = await context.request.delete(url, { headers: { 'X-CSRF-Token': 'forged-token-forged-token-forged-token-12' } });
  expect(r.status()).toBe(403);
  r = await context.request.post(`${server.url}/v1/tokens`, { headers: { 'X-CSRF-Token': 'forged' }, data: { version: 'v2', metadata: { name: 'forged-token' }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } } });
  expect(r.status()).toBe(403);
  // A form post from another site: no JSON, no CSRF header.
  r = await context.request.post(`${server.url}/v1/tokens`, { form: { name: 'forged-token' } });
  expect([403, 415]).toContain(r.status());
  // Without any session.
  const anonymous = await browser.newContext({ ignoreHTTPSErrors: true });
  r = await anonymous.request.delete(url);
  expect(r.status()).toBe(401);
  r = await anonymous.request.get(`${server.url}/console/api/overview`);
  expect(r.status()).toBe(401);
  await anonymous.close();

  const c = server.client();
  await expect(c.request('GET', '/v1/tokens/ec2-fleet')).resolves.toMatchObject({ metadata: { name: 'ec2-fleet' } });
  await expect(c.request('GET', '/v1/tokens/forged-token')).rejects.toMatchObject({ status: 404 });
});

test('sign-out ends the session on the server: the old cookie opens nothing', async () => {
  const [cookie] = await context.cookies();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin credential').waitFor();
  const replay = await browser.newContext({ ignoreHTTPSErrors: true });
  await replay.addCookies([cookie]);
  const r = await replay.request.get(`${server.url}/v1/tokens`);
  expect(r.status()).toBe(401);
  expect((await r.json()).error.code).toBe('session_expired');
  await replay.close();
  const { events } = await server.client().request<{ events: { type: string }[] }>('GET', '/v1/audit?type=admin.sign_out');
  expect(events).toHaveLength(1);
  expect(cspViolations).toEqual([]);
  expect(foreignRequests).toEqual([]);
});

test('sign-in failures and bearer failures share one throttle: a guesser cannot double its attempts', async () => {
  const anonymous = await browser.newContext({ ignoreHTTPSErrors: true });
  let status = 0;
  // Bearer guesses until the gate closes (30 a minute), then the right credential at sign-in waits too.
  for (let i = 0; i < 40 && status !== 429; i++) {
    status = (await anonymous.request.get(`${server.url}/v1/tokens`, { headers: { Authorization: `Bearer wrong-guess-${i}` } })).status();
  }
  expect(status).toBe(429);
  const r = await anonymous.request.post(`${server.url}/console/api/session`, { data: { credential: server.adminToken } });
  expect(r.status()).toBe(429);
  expect(r.headers()['retry-after']).toMatch(/^\d+$/);
  expect((await anonymous.cookies()).length).toBe(0);
  await anonymous.close();
});
