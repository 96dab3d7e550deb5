// Issue 9, hostile input against the real server: every bad request is a 4xx with the JSON error
// shape (Express routes and Node's own HTTP parser alike), nothing lax is stored, and no bad
// request is logged as a server error.

import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import fc from 'fast-check';
import * as YAML from 'yaml';
import { runCli, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let agent: https.Agent;
const SECRET = 'c0ffee00c0ffee00c0ffee00c0ffee00';

beforeAll(async () => {
  server = await startTestServer({ env: { JOINERY_LOG_LEVEL: 'info' } });
  agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: fs.readFileSync(server.caFile) });
  await server.client().createToken({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'] } });
});
afterAll(async () => {
  agent.destroy();
  await server.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** One request written byte for byte on a fresh TLS connection; resolves when the server closes it. */
function raw(request: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10s; got ${Buffer.concat(chunks).toString()}`));
    }, 10_000);
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = all.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text: rest.join('\r\n\r\n') });
    });
  });
}

/** A request through Node's client (keep-alive); the body is sent as given. */
function send(method: string, urlPath: string, body?: string | Buffer, contentType = 'application/json', admin = true): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (admin) headers.authorization = `Bearer ${server.adminToken}`;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = https.request({ host: '127.0.0.1', port: server.port, method, path: urlPath, headers, agent, servername: 'localhost', checkServerIdentity: () => undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The API's error shape, checked strictly. */
function errorOf(a: Answer): { code: string; message: string; field?: string } {
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(a.text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual(expect.objectContaining({ code: expect.stringMatching(/^[a-z0-9_]+$/), message: expect.any(String) }));
  return body.error;
}

function expectRefused(a: Answer, status: number, code: string, field?: string) {
  const e = errorOf(a);
  expect({ status: a.status, code: e.code, ...(field ? { field: e.field } : {}) }).toEqual({ status, code, ...(field ? { field } : {}) });
  return e;
}

/** Lines the server logged at error level (pino level 50) or above. */
const errorLogs = () =>
  server
    .output()
    .split('\n')
    .filter((l) => /"level":(5|6)\d/.test(l));

const token = (name: string, extra: Record<string, unknown> = {}) => ({ version: 'v2', metadata: { name, ...extra }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
const auth = () => `Authorization: Bearer ${server.adminToken}\r\n`;

describe('malformed percent-encoding is a 400, on any route', () => {
  test.each([
    ['GET', '/v1/tokens/%E0%A4%A'],
    ['GET', '/v1/tokens/%C0%80'],
    ['PUT', '/v1/tokens/%ZZ'],
    ['DELETE', '/v1/tokens/%'],
    ['GET', '/v1/nodes/%E0%A4%A'],
    ['DELETE', '/v1/nodes/%FF'],
  ])('%s %s', async (method, url) => {
    const a = await raw(`${method} ${url} HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    const e = expectRefused(a, 400, 'invalid_path');
    expect(e.message).not.toMatch(/%/);
  });

  test('unmatched routes with bad escapes stay 404, and nothing was logged as a server error', async () => {
    const a = await raw(`GET /v1/nope/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expectRefused(a, 404, 'not_found');
    expect(errorLogs()).toEqual([]);
  });
});

describe("Node's HTTP parser errors answer in the JSON error shape", () => {
  test('Content-Length together with Transfer-Encoding', async () => {
    const a = await raw(`POST /v1/join/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    expectRefused(a, 400, 'bad_request');
    expect(a.headers.connection).toBe('close');
  });

  test('oversized headers are 431', async () => {
    const a = await raw(`GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectRefused(a, 431, 'headers_too_large');
  });

  test('bad chunk size', async () => {
    const a = await raw(`POST /v1/join/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`);
    expectRefused(a, 400, 'bad_request');
  });

  test('not HTTP at all, and a bad header name', async () => {
    expectRefused(await raw('HELLO THERE\r\n\r\n'), 400, 'bad_request');
    expectRefused(await raw('GET /v1/status HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n'), 400, 'bad_request');
  });

  test('the Content-Length matches the JSON body, and no error-level log was written', async () => {
    const a = await raw(`GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(Number(a.headers['content-length'])).toBe(Buffer.byteLength(a.text));
    expect(errorLogs()).toEqual([]);
  });
});

describe('lax bodies are refused with the field', () => {
  test('JSON with duplicate keys, at the top and deep inside', async () => {
    const top = '{"version":"v2","version":"v2","metadata":{"name":"dup-a"},"spec":{"roles":["Node"],"allow":[{"aws_account":"111111111111"}]}}';
    expectRefused(await send('POST', '/v1/tokens', top), 400, 'duplicate_key', 'version');
    const deep = '{"version":"v2","metadata":{"name":"dup-b"},"spec":{"roles":["Node"],"allow":[{"aws_account":"111111111111","aws_account":"222222222222"}]}}';
    expectRefused(await send('POST', '/v1/tokens', deep), 400, 'duplicate_key', 'spec.allow[0].aws_account');
    expectRefused(await send('PUT', '/v1/tokens/dup-c', '{"metadata":{"labels":{"env":"a","env":"b"}}}'), 400, 'duplicate_key', 'metadata.labels.env');
    expectRefused(await send('POST', '/v1/join/token', `{"token_name":"x","token_name":"${SECRET}"}`, 'application/json', false), 400, 'duplicate_key', 'token_name');
    for (const name of ['dup-a', 'dup-b', 'dup-c']) expect((await send('GET', `/v1/tokens/${name}`)).status).toBe(404);
  });

  test('YAML with duplicate keys or tags outside the core schema', async () => {
    const yaml = (s: string) => send('POST', '/v1/tokens', s, 'application/yaml');
    expectRefused(await yaml('version: v2\nmetadata:\n  name: y1\n  name: y2\nspec:\n  roles: [Node]\n  allow: [{aws_account: "111111111111"}]\n'), 400, 'duplicate_key', 'metadata.name');
    expectRefused(await yaml('version: v2\nmetadata:\n  name: !!js/function "function () {}"\nspec:\n  roles: [Node]\n'), 400, 'unsupported_yaml_tag', 'metadata.name');
    expectRefused(await yaml('version: v2\nmetadata: {name: y3}\nspec:\n  roles: [!custom Node]\n  allow: [{aws_account: "111111111111"}]\n'), 400, 'unsupported_yaml_tag', 'spec.roles[0]');
    expect((await send('GET', '/v1/tokens/y3')).status).toBe(404);
  });

  test('invalid UTF-8 is refused, not replaced; other charsets are 415', async () => {
    const bytes = Buffer.concat([Buffer.from('{"version":"v2","metadata":{"name":"utf'), Buffer.from([0xff, 0xfe]), Buffer.from('"},"spec":{"roles":["Node"],"allow":[{"aws_account":"111111111111"}]}}')]);
    expectRefused(await send('POST', '/v1/tokens', bytes), 400, 'invalid_encoding');
    expectRefused(await send('POST', '/v1/tokens', bytes, 'application/yaml'), 400, 'invalid_encoding');
    expectRefused(await send('POST', '/v1/join/token', bytes, 'application/json', false), 400, 'invalid_encoding');
    expectRefused(await send('POST', '/v1/tokens', JSON.stringify(token('latin')), 'application/json; charset=latin1'), 415, 'unsupported_encoding');
    const list = JSON.parse((await send('GET', '/v1/tokens')).text) as { tokens: { metadata: { name: string } }[] };
    expect(list.tokens.filter((t) => t.metadata.name.includes('\ufffd') || t.metadata.name.startsWith('utf'))).toEqual([]);
  });

  test('names with bidi-override or zero-width characters', async () => {
    expectRefused(await send('POST', '/v1/tokens', JSON.stringify(token('admin\u202etxt.exe'))), 400, 'invalid_token', 'metadata.name');
    expectRefused(await send('POST', '/v1/tokens', JSON.stringify(token('prod\u200b'))), 400, 'invalid_token', 'metadata.name');
  });

  test('aws_iid_ttl outside 1s to the largest Go duration', async () => {
    const t = token('ttl-1');
    const e = expectRefused(await send('POST', '/v1/tokens', JSON.stringify({ ...t, spec: { ...t.spec, aws_iid_ttl: '3000000h' } })), 400, 'invalid_token', 'spec.aws_iid_ttl');
    expect(e.message).toMatch(/largest Go duration/);
  });

  test('a short token-method secret is refused with a clear message; a generated one is 32 characters', async () => {
    const e = expectRefused(await send('POST', '/v1/tokens', JSON.stringify({ version: 'v2', metadata: { name: '1234' }, spec: { roles: ['Node'] } })), 400, 'invalid_token', 'metadata.name');
    expect(e.message).toMatch(/name is its secret: use at least 16 characters/);
    const generated = await send('POST', '/v1/tokens', JSON.stringify({ version: 'v2', metadata: {}, spec: { roles: ['Node'] } }));
    expect(generated.status).toBe(201);
    expect(JSON.parse(generated.text).metadata.name).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('times fail closed', () => {
  test.each(['2000-01-01T00:00:00+24:00', '2000-01-01T00:00:00+99:00', '2000-01-01T00:00:00+00:60', '2030-01-01T12:00:60Z', '2030-02-30T00:00:00Z'])('expires %s is refused', async (expires) => {
    expectRefused(await send('POST', '/v1/tokens', JSON.stringify(token(`exp-${expires.length}`, { expires }))), 400, 'invalid_token', 'metadata.expires');
  });

  test('an offset expiry is stored in UTC and reported by its instant', async () => {
    const a = await send('POST', '/v1/tokens', JSON.stringify(token('exp-offset', { expires: '2999-01-01T02:00:00+02:00' })));
    expect(a.status).toBe(201);
    const t = JSON.parse(a.text);
    expect([t.metadata.expires, t.status.expired]).toEqual(['2999-01-01T00:00:00Z', false]);
    const past = JSON.parse((await send('POST', '/v1/tokens', JSON.stringify(token('exp-past', { expires: '2000-01-01T01:00:00+01:00' })))).text);
    expect([past.metadata.expires, past.status.expired]).toEqual(['2000-01-01T00:00:00Z', true]);
  });
});

describe('amplification', () => {
  test('a 250 KB YAML body with 125,000 roles answers a small 4xx', async () => {
    // As in the issue: every role is unknown, so a per-element error list would be megabytes.
    const body = `version: v2\nmetadata: {name: amp-yaml}\nspec:\n  allow: [{aws_account: "111111111111"}]\n  roles: [${new Array(125_000).fill('a').join(',')}]\n`;
    expect(body.length).toBeLessThan(256 * 1024);
    const a = await send('POST', '/v1/tokens', body, 'application/yaml');
    expectRefused(a, 400, 'too_many_elements');
    expect(a.text.length).toBeLessThan(2000);
  });

  test('the same as JSON answers one error naming spec.roles', async () => {
    const body = JSON.stringify({ version: 'v2', metadata: { name: 'amp-json' }, spec: { roles: new Array(25_000).fill('Wizard'), allow: [{ aws_account: '111111111111' }] } });
    const a = await send('POST', '/v1/tokens', body);
    const e = expectRefused(a, 400, 'invalid_token', 'spec.roles');
    expect(e.message).toBe('spec.roles: must list at most 32 roles (got 25000)');
    expect(a.text.length).toBeLessThan(2000);
  });

  test('many bad fields list 20 and count the rest', async () => {
    const body = JSON.stringify({ version: 'v2', metadata: { name: 'amp-rules' }, spec: { roles: ['Node'], allow: new Array(250).fill({ aws_account: 'x' }) } });
    const a = await send('POST', '/v1/tokens', body);
    const e = expectRefused(a, 400, 'invalid_token');
    expect(JSON.parse(a.text).error.details).toHaveLength(20);
    expect(e.message).toMatch(/; and 230 more problems$/);
  });
});

describe('agent public keys through the join route', () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  test.each([
    ['a private key', keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, /private key/],
    ['two blocks', (keys.publicKey.export({ type: 'spki', format: 'pem' }) as string).repeat(2), /exactly one PEM block/],
    ['trailing junk', `${keys.publicKey.export({ type: 'spki', format: 'pem' })}junk`, /after the PEM block/],
  ])('%s is invalid_public_key', async (_name, pem, message) => {
    const a = await send('POST', '/v1/join/token', JSON.stringify({ token_name: SECRET, role: 'Node', public_key: pem }), 'application/json', false);
    expect(expectRefused(a, 400, 'invalid_public_key').message).toMatch(message);
  });
});

describe('fuzz: random bodies never cause a 5xx', () => {
  const RUNS = { numRuns: 40 };
  const check = (a: Answer) => {
    expect(a.status).toBeLessThan(500);
    if (a.status >= 400) errorOf(a);
  };
  const nearToken = fc.record(
    {
      kind: fc.oneof(fc.constant('token'), fc.anything({ maxDepth: 1 })),
      version: fc.oneof(fc.constant('v2'), fc.anything({ maxDepth: 1 })),
      metadata: fc.oneof(fc.record({ name: fc.oneof(fc.string({ maxLength: 40 }), fc.anything({ maxDepth: 1 })), expires: fc.string({ maxLength: 30 }), labels: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }) }, { requiredKeys: [] }), fc.anything({ maxDepth: 2 })),
      spec: fc.oneof(fc.record({ roles: fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }), join_method: fc.string({ maxLength: 6 }), aws_iid_ttl: fc.string({ maxLength: 8 }), allow: fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }) }, { requiredKeys: [] }), fc.anything({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  );

  test('JSON bodies to the token and join routes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(nearToken, fc.jsonValue({ maxDepth: 3 })), fc.constantFrom('POST /v1/tokens', 'PUT /v1/tokens/fuzz-put-name', 'POST /v1/join/token', 'POST /v1/join/ec2', 'POST /v1/join/iam'), async (body, route) => {
        const [method, url] = route.split(' ');
        check(await send(method, url, JSON.stringify(body) ?? 'null', 'application/json', !url.startsWith('/v1/join')));
      }),
      RUNS,
    );
  });

  test('YAML bodies, valid and not', async () => {
    const text = fc.oneof(
      nearToken.map((t) => YAML.stringify(t)),
      fc.string({ maxLength: 200, unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', ',', '!', '&', '*', '"', '?', '|', '>', '#', '%', '\t', '1') }),
    );
    await fc.assert(fc.asyncProperty(text, async (body) => check(await send('POST', '/v1/tokens', body, 'application/yaml'))), RUNS);
  });

  test('raw bytes with any content type', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constantFrom('application/json', 'application/yaml', 'text/plain', 'application/json; charset=utf-16'), async (bytes, type) => {
        check(await send('POST', '/v1/tokens', Buffer.from(bytes), type));
      }),
      RUNS,
    );
  });

  test('after all of it, no request was logged as a server error', () => {
    expect(errorLogs()).toEqual([]);
  });
});

describe('joinery create -f reads files as strictly', () => {
  const env = () => ({ JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_CA_PIN: server.caPin });
  const file = (content: string | Buffer) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-strict-')), 'token.yaml');
    fs.writeFileSync(f, content);
    return f;
  };

  test.each([
    ['a duplicate key', 'version: v2\nmetadata:\n  name: cli-dup\n  name: cli-dup2\nspec: {roles: [Node], allow: [{aws_account: "111111111111"}]}\n', /duplicate key "name" at metadata\.name/],
    ['a !!js/function tag', 'version: v2\nmetadata:\n  name: !!js/function "x"\nspec: {roles: [Node]}\n', /YAML tag !!js\/function at metadata\.name is not accepted/],
    ['a custom tag', 'version: v2\nmetadata: {name: cli-tag}\nspec: {roles: [!node Node], allow: [{aws_account: "111111111111"}]}\n', /YAML tag !node/],
    ['duplicate keys in JSON', '{"version":"v2","version":"v2","metadata":{"name":"cli-json"},"spec":{"roles":["Node"]}}', /duplicate key "version"/],
    ['invalid UTF-8', Buffer.from([0x76, 0x65, 0x72, 0xff, 0x0a]), /not valid UTF-8/],
  ])('%s is refused in one line', async (_name, content, message) => {
    const r = await runCli(['create', '-f', file(content)], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: [^\n]+\n$/);
    expect(r.stderr).toMatch(message);
  });
});
