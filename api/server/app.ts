// The Express application: routes, admin auth, request ids, access logs, metrics, errors.

import { randomUUID } from 'node:crypto';
import express, { type Request } from 'express';
import type { Logger } from 'pino';
import type { JoinServices } from '../join/admit';
import { VERSION } from '../version';
import { AdminGate, requireAdmin, type AdminCredential } from './auth';
import { consoleRoutes } from './console/routes';
import { ConsoleSessions } from './console/sessions';
import { errorHandler, HttpError } from './errors';
import { createMetrics, type Metrics } from './metrics';
import { openApiDocument } from './openapi';
import { clientAddress } from './client-address';
import { rateLimit } from './rate-limit';
import { responseHeaders } from './response-headers';
import { joinRoutes } from './routes/join';
import { auditRoutes } from './routes/audit';
import { lockRoutes } from './routes/locks';
import { caRoutes } from './routes/ca';
import { nodeRoutes } from './routes/nodes';
import { crlRoutes, renewRoutes } from './routes/renew';
import { tokenRoutes } from './routes/tokens';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

/** The route pattern (never the raw URL: token names in paths can be secrets). */
function routeLabel(req: Request): string {
  return req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
}

export function createApp(svc: JoinServices, admin: AdminCredential, log: Logger): { app: express.Express; metrics: Metrics } {
  const metrics = createMetrics(svc.store, svc.now);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(responseHeaders);

  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeLabel(req);
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.duration.observe({ method: req.method, route }, seconds);
      log.info({ reqId: req.id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000), remote: clientAddress(req, svc.config.trustProxy) }, 'request');
    });
    next();
  });

  // RFC 9112 3.2: an HTTP/1.1 request without Host is refused with 400 (Node's own check is off
  // in server.ts so that this refusal carries the headers above and a JSON error).
  app.use((req, _res, next) => next(req.httpVersion === '1.1' && req.headers.host === undefined ? new HttpError(400, 'bad_request', 'an HTTP/1.1 request must send a Host header') : undefined));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (await svc.store.ping()) res.json({ status: 'ready' });
    else res.status(503).json({ error: { code: 'not_ready', message: 'storage does not answer' } });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument(VERSION));
  });
  app.get('/v1/status', (_req, res) => {
    // ca_pin: the CA the server's TLS certificate chains to, the one a first contact pins.
    const rotation = svc.trust.view();
    res.json({
      cluster_name: svc.ca.clusterName,
      version: VERSION,
      ca_pin: svc.trust.serverIssuer.pin,
      storage: svc.store.kind,
      server_time: svc.now().toISOString(),
      ca_rotation: { phase: rotation.phase, recorded_phase: rotation.recorded_phase, mode: rotation.mode, phase_started_at: rotation.phase_started_at, next_phase: rotation.next_phase, next_phase_at: rotation.next_phase_at },
      trusted_cas: rotation.cas.map(({ pin, state, signs }) => ({ pin, state, signs })),
    });
  });

  // One gate throttles the bearer check and the console's sign-in together.
  const gate = new AdminGate(admin, svc.store, svc.config.trustProxy);
  const sessions = new ConsoleSessions(svc.store.consoleSessions, () => svc.now().getTime());
  const adminOnly = requireAdmin(gate, sessions);
  app.use(consoleRoutes({ svc, gate, sessions, adminOnly }));
  app.use('/v1/tokens', adminOnly, tokenRoutes(svc.store, svc));
  app.use('/v1/nodes', adminOnly, nodeRoutes(svc.store, svc.now));
  app.use('/v1/locks', adminOnly, lockRoutes(svc.store, svc.now));
  app.use('/v1/audit', auditRoutes(svc.store, adminOnly, svc.now)); // admin, but for the public /schema
  app.use('/v1/join', rateLimit(svc.config), joinRoutes(svc, metrics));
  // Authenticated by the host's client certificate, checked in the route, not by the TLS layer.
  app.use('/v1/renew', rateLimit(svc.config), renewRoutes(svc, metrics));
  app.use('/v1/crl', crlRoutes(svc));
  app.use('/v1/ca', caRoutes(svc, adminOnly));

  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return { app, metrics };
}
