// Issue 17, item 4: no raw control or invisible character reaches a terminal through a CLI
// command, whatever the server sends. A stand-in server answers every admin call with strings full
// of them (ESC and BEL sequences, C1 controls, bidirectional overrides and isolates, zero-width
// characters, a lone surrogate, line breaks); every command is run in every format. Text shows
// them written out (`\u{202e}`); JSON and YAML carry them as escapes that parse to the exact value.

import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import * as YAML from 'yaml';
import { jsonText, table, yamlText } from '../../cli/output';
import { escapeUnsafeText, isSafeText } from '../../schema/text-safety';
import { selfSignedCertificate } from '../support/self-signed';
import { runCli } from '../support/server';

jest.setTimeout(60_000);

// The last part is what a renderer shows as nothing, beyond bidi and zero-width marks: an
// interlinear annotation, a Hangul filler, tag characters (outside the BMP), a variation selector,
// a soft hyphen.
const HOSTILE = 'a\u001b]0;pwned\u0007\u009b31m\u202etxt.exe\u2066\u200b\ufeff\ud800\u2028\u0085b\nc\td\u007f\ufff9ann\ufffb\u3164\u{e0041}\u{e007f}\ufe0f\u00ad';
const VISIBLE = escapeUnsafeText(HOSTILE);
// An argument cannot hold a lone surrogate (the command line is UTF-8), and a name in a
// reference is one line (no line break or line separator).
const TYPED = HOSTILE.replace('\ud800', '').replace('\n', '').replace('\u2028', '');

const token = { kind: 'token', version: 'v2', metadata: { name: HOSTILE, labels: { [HOSTILE]: HOSTILE }, expires: HOSTILE }, spec: { roles: [HOSTILE], join_method: HOSTILE, allow: [{ aws_account: HOSTILE }] } };
const node = { host_id: HOSTILE, join_method: HOSTILE, token_name: HOSTILE, role: HOSTILE, joined_at: HOSTILE, last_renewed_at: HOSTILE, cert_serial: HOSTILE, cert_expires_at: HOSTILE, status: HOSTILE, removed_at: null, attributes: { [HOSTILE]: HOSTILE } };
const status = { cluster_name: HOSTILE, version: HOSTILE, ca_pin: HOSTILE, storage: HOSTILE, server_time: HOSTILE };
const refusal = { error: { code: HOSTILE, message: HOSTILE, field: HOSTILE } };
const auditEvent = { id: 1, time: '2026-01-01T00:00:00.000Z', type: HOSTILE, eventCode: HOSTILE, success: false, code: HOSTILE, message: HOSTILE, tokenName: HOSTILE, hostId: HOSTILE, remoteAddr: HOSTILE, details: { [HOSTILE]: HOSTILE, rules: [{ index: HOSTILE, matched: false, failures: [HOSTILE] }, HOSTILE] } };

let server: https.Server;
let env: Record<string, string>;

beforeAll(async () => {
  const { certPem, keyPem } = await selfSignedCertificate('CN=stand-in');
  server = https.createServer({ key: keyPem, cert: certPem }, (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url!, 'https://x');
    if (url.pathname === '/v1/status') return send(200, status);
    if (url.pathname === '/v1/tokens' && req.method === 'POST') return send(201, token);
    if (url.pathname === '/v1/tokens') return send(200, { tokens: [token] });
    if (url.pathname === '/v1/nodes') return send(200, { nodes: [node] });
    if (url.pathname === '/v1/audit') return send(200, { events: [auditEvent] });
    if (url.pathname === '/v1/tokens/found') return send(200, token);
    if (url.pathname.startsWith('/v1/tokens/') && req.method === 'GET') return send(404, { error: { code: 'not_found', message: 'not found' } });
    return send(409, refusal);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  env = { JOINERY_ADMIN_TOKEN: 'a'.repeat(32), JOINERY_ADDR: `127.0.0.1:${(server.address() as AddressInfo).port}`, JOINERY_INSECURE: 'true' };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Output as a terminal gets it: its own line breaks are the only control characters. */
function expectTerminalSafe(output: string): void {
  for (const line of output.split('\n')) expect(isSafeText(line)).toBe(true);
}

describe('every command, every format', () => {
  test.each([
    [['status'], { text: [VISIBLE], yaml: status, json: status }],
    [['tokens', 'ls'], { text: [VISIBLE], yaml: [token], json: [token] }],
    [['get', 'tokens'], { text: [VISIBLE], yaml: token, json: [token] }],
    [['get', 'token/found'], { text: [VISIBLE], yaml: token, json: token }],
    [['nodes', 'ls'], { text: [VISIBLE], yaml: [node], json: [node] }],
    [['get', 'nodes'], { text: [VISIBLE], yaml: node, json: [node] }],
    [['audit', 'ls'], { text: [VISIBLE], yaml: [auditEvent], json: [auditEvent] }],
  ] as [string[], { text: string[]; yaml: unknown; json: unknown }][])('%j', async (args, expected) => {
    const text = await runCli([...args, '--format', 'text'], { env });
    expect(text.code).toBe(0);
    expectTerminalSafe(text.stdout);
    for (const shown of expected.text) expect(text.stdout).toContain(shown);

    const yaml = await runCli([...args, '--format', 'yaml'], { env });
    expect(yaml.code).toBe(0);
    expectTerminalSafe(yaml.stdout);
    expect(YAML.parse(yaml.stdout)).toEqual(expected.yaml);

    const json = await runCli([...args, '--format', 'json'], { env });
    expect(json.code).toBe(0);
    expectTerminalSafe(json.stdout);
    expect(JSON.parse(json.stdout)).toEqual(expected.json);
  });

  test.each([
    ['a refusal quoting anything', ['tokens', 'rm', 'some-name']],
    ['a refusal to rm', ['rm', 'token/some-name']],
    ['a name the user typed, quoted back', ['get', `token/x${TYPED}`]],
    ['a reference the CLI cannot read, quoted back', ['get', `token/${HOSTILE.replace('\ud800', '')}`]],
  ])('error messages: %s', async (_kind, args) => {
    const r = await runCli(args, { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: /m);
    expectTerminalSafe(r.stderr);
    expect(r.stderr).toContain(args[1].startsWith('token/x') ? escapeUnsafeText(TYPED) : '\\u{202e}txt.exe');
  });

  test('tokens add: the printed command and agent configuration keep their lines whatever the server answers', async () => {
    const r = await runCli(['tokens', 'add', '--type', 'node'], { env });
    expect(r.code).toBe(0);
    expectTerminalSafe(r.stdout);
    expect(r.stdout).toContain(`The invite token: ${VISIBLE}`);
    expect(r.stdout).toContain(`  role: ${VISIBLE}`);
    // HOSTILE holds "b\nc": a raw line break would start a line of its own with "c".
    expect(r.stdout).not.toMatch(/^\s*c(\t|\\u\{9\})d/m);
  });

  test('an error is one line: a line break in the server message cannot forge another line', async () => {
    const r = await runCli(['tokens', 'rm', 'some-name'], { env });
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
    expect(r.stderr).toContain(`error: ${VISIBLE} [${VISIBLE}] (409 ${VISIBLE})`);
  });
});

describe('the printers', () => {
  const hostile = fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom(...HOSTILE.split(''), ' ', '#', ':', '- ', '"', "'", '\\')), { maxLength: 8 }).map((p) => p.join(''));
  const leaf = fc.oneof(hostile, fc.integer(), fc.boolean(), fc.constant(null));
  const value = fc.oneof(leaf, fc.array(leaf), fc.dictionary(hostile, fc.oneof(leaf, fc.array(leaf), fc.dictionary(hostile, leaf))));

  test('property: JSON and YAML parse back to the value and hold nothing unsafe', () => {
    fc.assert(
      fc.property(value, (value) => {
        const json = jsonText(value);
        expectTerminalSafe(json);
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(value)));
        const yaml = yamlText(value);
        expectTerminalSafe(yaml);
        expect(YAML.parse(yaml)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  test('a table cell cannot break the table: line breaks and tabs in a cell are written out', () => {
    const t = table([
      ['A', 'B'],
      ['x\ny', 'z\u202e\t'],
    ]);
    expect(t.split('\n')).toEqual([`A${' '.repeat(8)}B`, 'x\\u{a}y  z\\u{202e}\\u{9}']);
  });
});
