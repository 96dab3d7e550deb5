// The console's files as the server answers them: a build that is missing says how to build it
// (and the API serves on), files carry the CSP and revalidate by ETag, nothing outside the
// build's own files is served.

import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import { CONTENT_SECURITY_POLICY, consoleRoutes } from '../../api/server/console/routes';

async function serve(assetsDir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(consoleRoutes({ svc: {} as never, gate: {} as never, sessions: {} as never, adminOnly: (_req, _res, next) => next(), assetsDir }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

test('without a build, / says how to build the console', async () => {
  const s = await serve(path.join(os.tmpdir(), 'joinery-no-such-console'));
  try {
    const r = await fetch(`${s.url}/`);
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('npm run build');
    expect(r.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  } finally {
    await s.close();
  }
});

test('built files: CSP on each, ETag revalidation, only the build\'s own files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-console-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
  fs.writeFileSync(path.join(dir, 'app.js'), 'export {};');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not served');
  const s = await serve(dir);
  try {
    const page = await fetch(`${s.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const js = await fetch(`${s.url}/console/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    const again = await fetch(`${s.url}/console/assets/app.js`, { headers: { 'If-None-Match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    for (const p of ['/console/assets/notes.txt', '/console/assets/index.html', '/console/assets/..%2Fapp.js', '/console/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      expect([p, (await fetch(`${s.url}${p}`)).status]).toEqual([p, 404]);
    }
  } finally {
    await s.close();
  }
});
