// The outbound call on its own: TLS is verified, answers are capped even without a length, and a
// test endpoint must be a bare base URL.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterCA } from '../../api/ca/ca';
import { JoinError } from '../../api/join/errors';
import { forwardStsRequest, parseStsTestEndpoint } from '../../api/join/iam/sts-forward';
import { openSqliteStore } from '../../api/store/sqlite';

const REQ = { host: 'sts.amazonaws.com', headers: [['Host', 'sts.amazonaws.com']] as [string, string][], body: 'Action=GetCallerIdentity&Version=2011-06-15' };

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return String((server.address() as AddressInfo).port);
}

async function refusalOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(JoinError);
    return (e as JoinError).code;
  }
  throw new Error('no refusal');
}

test('a TLS endpoint whose certificate does not verify is unreachable, not trusted', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-iam-tls-'));
  const store = await openSqliteStore(path.join(dir, 'db.sqlite'));
  try {
    const ca = await ClusterCA.loadOrCreate(dir, 'untrusted', store);
    const { keyPem, certPem } = await ca.issueServerCertificate(['localhost']);
    let reached = 0;
    const server = https.createServer({ key: keyPem, cert: certPem }, (_req, res) => {
      reached++;
      res.end('');
    });
    const port = await listen(server);
    try {
      expect(await refusalOf(forwardStsRequest(REQ, { timeoutMs: 5000, testEndpoint: `https://127.0.0.1:${port}` }))).toBe('iam_sts_unreachable');
      expect(reached).toBe(0);
    } finally {
      server.close();
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an answer streamed without a length is cut off at the cap', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/xml' });
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    const more = () => {
      while (sent < 64 && res.write(chunk)) sent++;
      if (sent < 64) res.once('drain', more);
      else res.end();
    };
    more();
  });
  const port = await listen(server);
  try {
    expect(await refusalOf(forwardStsRequest(REQ, { timeoutMs: 5000, maxBytes: 64 * 1024, testEndpoint: `http://127.0.0.1:${port}` }))).toBe('iam_sts_response_too_large');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a test endpoint must be a bare http(s) base URL', () => {
  expect(parseStsTestEndpoint('http://127.0.0.1:5000').port).toBe('5000');
  expect(parseStsTestEndpoint('http://127.0.0.1:5000/').hostname).toBe('127.0.0.1');
  for (const bad of ['127.0.0.1:5000', 'ftp://x/', 'http://x/path', 'http://x/?q', 'http://u:p@x/', 'not a url']) {
    expect(() => parseStsTestEndpoint(bad)).toThrow(/JOINERY_IAM_STS_TEST_ENDPOINT/);
  }
});
