// The client gives up on a server that trickles its answer: the socket timeout alone only notices
// silence, so without a deadline the agent (or a Terraform run) could wait forever.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError, JoineryClient } from '../../client/api-client';
import { caught } from '../support/caught';

test('an answer trickled a byte at a time fails at the deadline (twice the idle timeout)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-trickle-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  const timers: NodeJS.Timeout[] = [];
  let answered = false;
  const server = https.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    // One byte every 200 ms, for at most 10 s: never silent long enough for the idle timeout.
    let n = 0;
    const t = setInterval(() => (n++ < 50 ? res.write(' ') : (clearInterval(t), (answered = true), res.end('{}'))), 200);
    timers.push(t);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const client = new JoineryClient({ addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: path.join(dir, 'c.pem'), timeoutMs: 500 });
    const e = await caught(client.status(), ApiError);
    expect(e.message).toMatch(/no complete answer within 1s/);
    expect(answered).toBe(false); // it gave up while the server was still trickling
  } finally {
    for (const t of timers) clearInterval(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
