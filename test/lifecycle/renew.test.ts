// Renewal over mutual TLS, removal as revocation with a CRL, and the node registry, against the
// real server (in process, with a clock the test moves).

import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import { loadConfig } from '../../api/config';
import { CRL_MAX_VALIDITY_MS } from '../../api/ca/crl-publisher';
import { joinWithToken, newHostKey, renew, startLifecycleServer, type Identity, type LifecycleServer } from './support';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const DAY = 24 * 3600_000;
let s: LifecycleServer;

beforeAll(async () => {
  s = await startLifecycleServer();
});
afterAll(() => s?.stop());

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
const secret = (label: string) => `${label}-${Math.random().toString(36).slice(2)}-0123456789abcdef`;

function opensslCrlSerials(der: Buffer): string[] {
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der }).toString();
  expect(text).toMatch(/Issuer: CN ?= ?life-cluster, O ?= ?Joinery cluster CA/);
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1].toLowerCase().replace(/^0+/, ''));
}

/** `openssl verify` of a host certificate against the CA and the server's CRL, as a relying service would. */
function opensslVerify(certPem: string, crlPem: string): { ok: true } | { ok: false; output: string } {
  const dir = fs.mkdtempSync(path.join(s.dataDir, 'verify-'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), s.caPem);
  fs.writeFileSync(path.join(dir, 'crl.pem'), crlPem);
  fs.writeFileSync(path.join(dir, 'host.pem'), certPem);
  // At the server's (moved) time: the CRL's thisUpdate is the server's now.
  const r = spawnSync('openssl', ['verify', '-attime', String(Math.ceil(s.now().getTime() / 1000) + 1), '-crl_check', '-CAfile', path.join(dir, 'ca.pem'), '-CRLfile', path.join(dir, 'crl.pem'), path.join(dir, 'host.pem')]);
  const output = `${r.stdout}${r.stderr}`;
  return r.status === 0 ? { ok: true } : { ok: false, output };
}

async function crlDer(): Promise<Buffer> {
  const r = await s.request('GET', '/v1/crl');
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/^application\/pkix-crl/);
  return r.body;
}

async function crlPem(): Promise<string> {
  const r = await s.request('GET', '/v1/crl?format=pem');
  expect(r.status).toBe(200);
  return r.body.toString();
}

describe('renewal over mutual TLS', () => {
  let id: Identity;
  beforeAll(async () => {
    id = await joinWithToken(s, secret('renew'));
  });

  test('join answers expires_at; a renewal keeps host ID and role, with a new serial and a new validity from now', async () => {
    expect(Date.parse(id.expires_at)).toBe(Date.parse(new X509Certificate(id.certificate).validTo));
    s.advance(60_000);
    const r = await renew(s, id);
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ host_id: id.host_id, ca_certificates: [s.caPem] });
    const before = new X509Certificate(id.certificate);
    const after = new X509Certificate(body.certificate);
    expect(after.subject).toBe(before.subject); // CN=host, OU=role, O=cluster
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(Date.parse(after.validTo)).toBe(Date.parse(body.expires_at));
    expect(Date.parse(after.validTo)).toBeGreaterThan(Date.parse(before.validTo));
    // Same key: nothing in the body asked for a new one.
    expect(after.publicKey.export({ type: 'spki', format: 'pem' })).toBe(createPublicKey(id.key.privatePem).export({ type: 'spki', format: 'pem' }));
    // The older certificate still verifies with the CA until it expires, and is on no CRL.
    const ca = new X509Certificate(s.caPem);
    expect(before.verify(ca.publicKey)).toBe(true);
    expect(opensslVerify(id.certificate, await crlPem())).toEqual({ ok: true });

    const node = await s.admin<any>('GET', `/v1/nodes/${id.host_id}`);
    expect(node).toMatchObject({ status: 'active', cert_serial: serialOf(body.certificate), cert_expires_at: body.expires_at, last_renewed_at: s.now().toISOString().slice(0, 16) + node.last_renewed_at.slice(16) });
    expect(Date.parse(node.last_renewed_at)).toBeGreaterThan(Date.parse(node.joined_at));

    // The renewed certificate renews again; the older one, though it still verifies, does not:
    // only the newest certificate renews, so a copied identity cannot live on beside the host.
    const again = await renew(s, { certificate: body.certificate, key: id.key });
    expect(again.status).toBe(200);
    const stale = await renew(s, id);
    expect([stale.status, stale.json().error.code]).toEqual([403, 'certificate_superseded']);
    id = { ...id, certificate: again.json().certificate };
    const { events } = await s.admin<{ events: any[] }>('GET', '/v1/audit?type=renew');
    // Newest first: the refused stale renewal, with its code, after the accepted one.
    expect(events[0]).toMatchObject({ type: 'renew', success: false, code: 'certificate_superseded', hostId: id.host_id });
    expect(events[1]).toMatchObject({ type: 'renew', success: true, hostId: id.host_id });
  });

  test('an empty JSON object renews the same key as well', async () => {
    const r = await renew(s, id, {});
    expect(r.status).toBe(200);
    id = { ...id, certificate: r.json().certificate };
  });

  test('key rotation: public_key in the body gets a certificate for the new key, which then renews', async () => {
    const next = newHostKey();
    const r = await renew(s, id, { public_key: next.publicPem });
    expect(r.status).toBe(200);
    const cert = new X509Certificate(r.json().certificate);
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(next.publicPem);
    expect(cert.checkPrivateKey(createPrivateKey(next.privatePem))).toBe(true);
    const again = await renew(s, { certificate: r.json().certificate, key: next });
    expect(again.status).toBe(200);
    expect(again.json().host_id).toBe(id.host_id);
    // The old key's certificate was superseded by the rotation: it renews no more.
    const old = await renew(s, id);
    expect([old.status, old.json().error.code]).toEqual([403, 'certificate_superseded']);
    id = { ...id, certificate: again.json().certificate, key: next };
  });

  test('a bad public_key or body is a 400 with its code', async () => {
    const r = await renew(s, id, { public_key: 'not a key' });
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('invalid_public_key');
    const arr = await renew(s, id, [1]);
    expect(arr.status).toBe(400);
    expect(arr.json().error.code).toBe('invalid_request');
  });

  test('no client certificate: 401 client_certificate_required; join and admin routes still serve clients without one', async () => {
    const r = await s.request('POST', '/v1/renew', { body: {} });
    expect(r.status).toBe(401);
    expect(r.json().error.code).toBe('client_certificate_required');
    expect((await s.request('GET', '/v1/status')).status).toBe(200);
    await expect(joinWithToken(s, secret('no-client-cert'))).resolves.toMatchObject({ host_id: expect.any(String) });
  });

  test.each(['TLSv1.3', 'TLSv1.2'] as const)('a genuine host certificate of another cluster of the same name is refused certificate_untrusted over %s, and the audit says so', async (maxVersion) => {
    const other = await startLifecycleServer({ JOINERY_CLUSTER_NAME: 'life-cluster' });
    try {
      const foreign = await joinWithToken(other, secret('foreign'));
      const r = await renew(s, foreign, {}, { maxVersion });
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('certificate_untrusted');
      expect(r.json().error.message).toMatch(/another cluster of the same name/);
      // Answered in the TLS layer under TLS 1.2, by Express under 1.3: the same headers either way.
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['cache-control']).toBe('no-store');
      const serial = serialOf(foreign.certificate);
      const { events } = await s.admin<{ events: { code?: string; details?: { serial?: string; issuer?: string } }[] }>('GET', '/v1/audit?type=renew');
      const event = events.find((e) => e.details?.serial?.replace(/^0+/, '') === serial);
      expect(event).toMatchObject({ code: 'certificate_untrusted', details: { issuer: expect.stringContaining('CN=life-cluster') } });
    } finally {
      await other.stop();
    }
  });

  test("the cluster CA's own public key is refused as a host key, at renewal and at join", async () => {
    const caKey = createPublicKey(new X509Certificate(s.caPem).publicKey.export({ type: 'spki', format: 'pem' })).export({ type: 'spki', format: 'pem' }) as string;
    const host = await joinWithToken(s, secret('ca-key'));
    const r = await renew(s, host, { public_key: caKey });
    expect(r.status).toBe(403);
    expect(r.json().error.code).toBe('public_key_is_ca_key');
    // The host keeps its identity: the refused renewal issued nothing.
    expect((await renew(s, host)).status).toBe(200);
    const name = secret('ca-key-join');
    await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'token' } });
    const j = await s.request('POST', '/v1/join/token', { body: { token_name: name, role: 'Node', public_key: caKey } });
    expect(j.status).toBe(403);
    expect(j.json().error.code).toBe('public_key_is_ca_key');
  });

  test('a certificate signed by this CA but never issued to a host (unknown serial) is refused certificate_untrusted', async () => {
    const caKey = createPrivateKey(fs.readFileSync(path.join(s.dataDir, 'ca.key')));
    const signingKey = await webcrypto.subtle.importKey('pkcs8', caKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const key = newHostKey();
    const forged = await x509.X509CertificateGenerator.create({
      serialNumber: '0badc0ffee',
      subject: `CN=${id.host_id}, OU=Node, O=life-cluster`,
      issuer: new x509.X509Certificate(s.caPem).subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + DAY),
      publicKey: new Uint8Array(createPublicKey(key.publicPem).export({ type: 'spki', format: 'der' })),
      signingKey: signingKey as CryptoKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const r = await renew(s, { certificate: forged.toString('pem'), key });
    expect(r.status).toBe(403);
    expect(r.json().error.code).toBe('certificate_untrusted');
  });

  test('an expired certificate is refused certificate_expired, and the registry says expired', async () => {
    const lapsed = await joinWithToken(s, secret('lapse'));
    s.advance(DAY + 60_000);
    try {
      const r = await renew(s, lapsed);
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('certificate_expired');
      expect(await s.admin('GET', `/v1/nodes/${lapsed.host_id}`)).toMatchObject({ status: 'expired', last_renewed_at: null });
      const { events } = await s.admin<{ events: any[] }>('GET', '/v1/audit?type=renew');
      expect(events[0]).toMatchObject({ success: false, code: 'certificate_expired' });
    } finally {
      s.advance(-(DAY + 60_000));
    }
  });

  test('deleting the token the host joined with does not stop its renewals (the identity is the credential)', async () => {
    const token = secret('deleted-token');
    const host = await joinWithToken(s, token);
    await s.admin('DELETE', `/v1/tokens/${encodeURIComponent(token)}`);
    const r = await renew(s, host);
    expect(r.status).toBe(200);
    expect(r.json().host_id).toBe(host.host_id);
  });
});

describe('removal is revocation', () => {
  test('nodes rm: renewal refused node_removed, every unexpired serial of the host on the CRL, read by openssl', async () => {
    const id = await joinWithToken(s, secret('removed'));
    const renewed = (await renew(s, id)).json();
    const bystander = await joinWithToken(s, secret('bystander'));

    expect(opensslCrlSerials(await crlDer())).not.toContain(serialOf(id.certificate));
    expect((await s.request('DELETE', `/v1/nodes/${id.host_id}`, { headers: { authorization: `Bearer ${s.adminToken}` } })).status).toBe(204);

    for (const cert of [id.certificate, renewed.certificate]) {
      const r = await renew(s, { certificate: cert, key: id.key });
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('node_removed');
    }
    const serials = opensslCrlSerials(await crlDer());
    expect(serials).toEqual(expect.arrayContaining([serialOf(id.certificate), serialOf(renewed.certificate)]));
    expect(serials).not.toContain(serialOf(bystander.certificate));

    // PEM form, and a relying service's check with openssl: revoked vs still good.
    const pem = await crlPem();
    expect(pem).toMatch(/^-----BEGIN X509 CRL-----\n/);
    expect(opensslVerify(renewed.certificate, pem)).toEqual({ ok: false, output: expect.stringMatching(/certificate revoked/) });
    expect(opensslVerify(bystander.certificate, pem)).toEqual({ ok: true });

    expect(await s.admin('GET', `/v1/nodes/${id.host_id}`)).toMatchObject({ status: 'removed', removed_at: expect.any(String) });
    // Removing again is idempotent; an unknown host is 404.
    expect((await s.request('DELETE', `/v1/nodes/${id.host_id}`, { headers: { authorization: `Bearer ${s.adminToken}` } })).status).toBe(204);
    const unknown = await s.request('DELETE', '/v1/nodes/no-such-host', { headers: { authorization: `Bearer ${s.adminToken}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
  });

  test('serials leave the CRL within one CRL window (half its validity) of their expiry', async () => {
    const id = await joinWithToken(s, secret('crl-expiry'));
    await s.admin('DELETE', `/v1/nodes/${id.host_id}`);
    expect(opensslCrlSerials(await crlDer())).toContain(serialOf(id.certificate));
    // The CRL lists what was unexpired at the start of its window, so replicas agree on it.
    const later = DAY + CRL_MAX_VALIDITY_MS / 2 + 120_000;
    s.advance(later);
    try {
      expect(opensslCrlSerials(await crlDer())).not.toContain(serialOf(id.certificate));
    } finally {
      s.advance(-later);
    }
  });

  test('the CRL is served from cache with an ETag and max-age; If-None-Match answers 304 until a removal changes it', async () => {
    const first = await s.request('GET', '/v1/crl');
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('public, max-age=60');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]{16}-der"$/);
    const again = await s.request('GET', '/v1/crl', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // The PEM form is another representation with its own tag.
    const pem = await s.request('GET', '/v1/crl?format=pem', { headers: { 'if-none-match': etag } });
    expect(pem.status).toBe(200);
    const id = await joinWithToken(s, secret('crl-etag'));
    await s.admin('DELETE', `/v1/nodes/${id.host_id}`);
    const changed = await s.request('GET', '/v1/crl', { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(opensslCrlSerials(changed.body)).toContain(serialOf(id.certificate));
  });

  test('the CRL is public, signed by the cluster CA, and refuses unknown formats', async () => {
    const r = await s.request('GET', '/v1/crl');
    const crl = new x509.X509Crl(new Uint8Array(r.body));
    expect(await crl.verify({ publicKey: await new x509.X509Certificate(s.caPem).publicKey.export() })).toBe(true);
    expect(crl.nextUpdate!.getTime()).toBeGreaterThan(crl.thisUpdate.getTime());
    const bad = await s.request('GET', '/v1/crl?format=xml');
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_query', field: 'format' });
  });
});

describe('the node registry', () => {
  test('every host with its status fields; token-method token names masked in list and read', async () => {
    const token = secret('masked');
    const id = await joinWithToken(s, token);
    const { nodes } = await s.admin<{ nodes: any[] }>('GET', '/v1/nodes');
    const listed = nodes.find((n) => n.host_id === id.host_id);
    expect(listed).toEqual({
      host_id: id.host_id,
      join_method: 'token',
      token_name: expect.any(String),
      role: 'Node',
      joined_at: expect.any(String),
      last_renewed_at: null,
      cert_serial: serialOf(id.certificate),
      cert_expires_at: id.expires_at,
      status: 'active',
      removed_at: null,
      attributes: {},
      last_seen: expect.any(String),
      agent_version: null,
      hostname: null,
      identity: {},
      labels: {},
    });
    expect(listed.token_name).not.toContain(token.slice(0, token.length - 4));
    expect(listed.token_name).toMatch(/^\*+/);
    expect((await s.admin<any>('GET', `/v1/nodes/${id.host_id}`)).token_name).toBe(listed.token_name);
    expect(JSON.stringify(nodes)).not.toContain(token);
  });

  test('metrics count nodes by status and tokens', async () => {
    const active = await joinWithToken(s, secret('m-active'));
    const removed = await joinWithToken(s, secret('m-removed'));
    await s.admin('DELETE', `/v1/nodes/${removed.host_id}`);
    const { nodes } = await s.admin<{ nodes: any[] }>('GET', '/v1/nodes');
    const count = (st: string) => nodes.filter((n) => n.status === st).length;
    const { tokens } = await s.admin<{ tokens: unknown[] }>('GET', '/v1/tokens');
    const text = (await s.request('GET', '/metrics')).body.toString();
    expect(text).toContain(`joinery_nodes{status="active"} ${count('active')}`);
    expect(text).toContain(`joinery_nodes{status="removed"} ${count('removed')}`);
    expect(text).toContain(`joinery_nodes{status="expired"} ${count('expired')}`);
    expect(text).toContain(`joinery_tokens ${tokens.length}`);
    expect(count('active')).toBeGreaterThan(0);
    expect(nodes.find((n) => n.host_id === active.host_id).status).toBe('active');
    expect(text).toMatch(/joinery_renewals_total\{result="accepted",code="ok",ca="sha256:[0-9a-f]{64}"\} \d+/);
  });
});

describe('host certificate lifetime', () => {
  test('24 hours by default; JOINERY_HOST_CERT_TTL_SECONDS down to 10 seconds, an error below', () => {
    expect(loadConfig({}, {}).hostCertTtlMs).toBe(DAY);
    expect(loadConfig({}, { JOINERY_HOST_CERT_TTL_SECONDS: '10' }).hostCertTtlMs).toBe(10_000);
    expect(() => loadConfig({}, { JOINERY_HOST_CERT_TTL_SECONDS: '9' })).toThrow(/at least 10/);
  });

  test('issued certificates carry the configured lifetime', async () => {
    const short = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: '30' });
    try {
      const id = await joinWithToken(short, secret('short'));
      const cert = new X509Certificate(id.certificate);
      expect(Date.parse(cert.validTo) - Date.parse(id.expires_at)).toBe(0);
      expect(Math.abs(Date.parse(id.expires_at) - short.now().getTime() - 30_000)).toBeLessThan(5_000);
      const r = (await renew(short, id)).json();
      expect(Math.abs(Date.parse(r.expires_at) - short.now().getTime() - 30_000)).toBeLessThan(5_000);
    } finally {
      await short.stop();
    }
  });
});
