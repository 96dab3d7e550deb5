// The web console on the API's origin: the page at `/`, its bundled assets under
// /console/assets/, and the session endpoints under /console/api/. The page then calls the same
// /v1 API as the CLI, authenticated by the session cookie and a CSRF header (auth.ts).
//
// The assets are built from console/ by scripts/build-console.js into dist/console/ and read
// once at start. Every console answer carries a strict Content-Security-Policy: scripts and
// styles only from this origin's files (nothing inline), no framing, no foreign form targets.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Router, type RequestHandler, type Response } from 'express';
import type { JoinServices } from '../../join/admit';
import type { AdminGate } from '../auth';
import { parseBody } from '../body';
import { HttpError } from '../errors';
import { overview } from './overview';
import { SESSION_COOKIE, SESSION_IDLE_MS, SESSION_LIFETIME_MS, cookieValue, type ConsoleSessions } from './sessions';

export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Where the build writes the console (dist/console, beside dist/api). */
export const CONSOLE_DIR = path.resolve(__dirname, '..', '..', '..', 'console');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  try {
    for (const name of fs.readdirSync(dir)) {
      const type = TYPES[path.extname(name)];
      if (!type) continue;
      const body = fs.readFileSync(path.join(dir, name));
      assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  } catch (e) {
    // Not built (or being rebuilt): the API serves on, and `/` says how to build the console.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    assets.clear();
  }
  return assets;
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};

function cookie(value: string, maxAgeSeconds: number): string {
  // __Host-: only ever set by this origin over HTTPS for the whole path (no Domain can widen it).
  return `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

function send(res: Response, asset: Asset | undefined, ifNoneMatch: string | undefined): void {
  if (!asset) throw new HttpError(404, 'not_found', 'no such console file');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('ETag', asset.etag);
  if (ifNoneMatch === asset.etag) {
    res.status(304).end();
    return;
  }
  res.type(asset.type).send(asset.body);
}

export interface ConsoleDeps {
  svc: JoinServices;
  gate: AdminGate;
  sessions: ConsoleSessions;
  /** The API's admin check (bearer or session), for the overview. */
  adminOnly: RequestHandler;
  assetsDir?: string;
}

export function consoleRoutes({ svc, gate, sessions, adminOnly, assetsDir = CONSOLE_DIR }: ConsoleDeps): Router {
  const assets = loadAssets(assetsDir);
  const router = Router();
  router.use('/console', securityHeaders);

  router.get('/', securityHeaders, (req, res) => {
    const index = assets.get('index.html');
    if (!index) {
      res.status(503).type('text/plain').send('The console is not built: run `npm run build` (scripts/build-console.js).\n');
      return;
    }
    send(res, index, req.headers['if-none-match']);
  });
  router.get('/console/assets/:file', (req, res) => {
    send(res, req.params.file === 'index.html' ? undefined : assets.get(req.params.file), req.headers['if-none-match']);
  });

  const api = Router();
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // Sign-in: the admin credential, checked and throttled exactly like the API's bearer check.
  api.post('/session', parseBody({ yaml: false }), async (req, res) => {
    const client = gate.client(req);
    const wait = gate.throttled(client, res);
    if (wait) throw wait;
    const credential = (req.body as { credential?: unknown } | undefined)?.credential;
    if (typeof credential !== 'string' || credential === '') throw new HttpError(400, 'invalid_request', 'send {"credential": "<admin token>"}', 'credential');
    if (!gate.matches(credential)) throw gate.fail(client, 'the admin credential is not valid', 'invalid_credential');
    await sessions.end(cookieValue(req.headers.cookie, SESSION_COOKIE)); // a sign-in replaces the browser's old session
    const s = await sessions.create();
    await svc.store.audit.append({ time: svc.now().toISOString(), type: 'admin.sign_in', success: true, remoteAddr: client });
    res.setHeader('Set-Cookie', cookie(s.id, SESSION_LIFETIME_MS / 1000));
    res.status(201).json({ csrf_token: s.csrf, expires_at: new Date(s.expiresAt).toISOString(), idle_timeout_seconds: SESSION_IDLE_MS / 1000 });
  });
  // The page asks after a reload: who am I, and the CSRF token it lost with its memory.
  api.get('/session', async (req, res) => {
    const s = await sessions.lookup(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!s) throw new HttpError(401, 'unauthenticated', 'not signed in');
    res.json({ csrf_token: s.csrf, expires_at: new Date(s.expiresAt).toISOString(), idle_timeout_seconds: SESSION_IDLE_MS / 1000 });
  });
  // Sign-out is a change like any other: it needs the session's CSRF header.
  api.delete('/session', adminOnly, async (req, res) => {
    if (await sessions.end(cookieValue(req.headers.cookie, SESSION_COOKIE))) {
      await svc.store.audit.append({ time: svc.now().toISOString(), type: 'admin.sign_out', success: true, remoteAddr: gate.client(req) });
    }
    res.setHeader('Set-Cookie', cookie('', 0));
    res.status(204).end();
  });
  api.get('/overview', adminOnly, async (_req, res) => {
    const now = svc.now();
    res.json({ cluster_name: svc.ca.clusterName, ca_pin: svc.ca.pin, storage: svc.store.kind, server_time: now.toISOString(), ...(await overview(svc.store, now)) });
  });
  router.use('/console/api', api);
  return router;
}
