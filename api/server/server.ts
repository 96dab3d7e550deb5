// Starting and stopping the API: storage, CA, admin credential, HTTPS listener, graceful shutdown.

import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import pino, { type Logger } from 'pino';
import { checkProxyEnvironment } from '../aws/egress-proxy';
import { startAuditExport, type AuditExporter } from '../audit/exporter';
import { ClusterCA, type OpenClusterCaOptions } from '../ca/ca';
import type { ServerConfig } from '../config';
import type { JoinServices } from '../join/admit';
import { buildJoinAws } from '../join/aws';
import { parseStsTestEndpoint } from '../join/iam/sts-forward';
import { openStore } from '../store/open';
import type { Store } from '../store/types';
import { ensureAdminCredential, type AdminCredential } from './auth';
import { createApp } from './app';
import { startHousekeeping } from './housekeeping';
import { clientErrorHandler } from './client-error';
import { untrustedCertificateAnswer } from './routes/renew';

export interface RunningServer {
  url: string;
  port: number;
  ca: ClusterCA;
  store: Store;
  admin: AdminCredential;
  log: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  now?: () => Date;
  /** Tests and stand-ins: the KMS client (and pacing) the CA signer uses. */
  caSigner?: OpenClusterCaOptions['signer'];
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? pino({ level: config.logLevel, base: { svc: 'joinery' } });
  // The AWS clients and the EC2 trust store, once; a broken JOINERY_EC2_EXTRA_CERTS stops the
  // start with a clear message, not the first join with a 4xx.
  const aws = buildJoinAws(config);
  aws.ec2Trust();
  const proxy = checkProxyEnvironment();
  if (proxy) log.info({ proxy }, 'AWS calls go through the HTTPS_PROXY egress proxy (NO_PROXY exempts hosts)');
  if (config.iamStsTestEndpoint) {
    parseStsTestEndpoint(config.iamStsTestEndpoint);
    log.warn({ endpoint: config.iamStsTestEndpoint }, 'JOINERY_IAM_STS_TEST_ENDPOINT is set: IAM joins are verified against a test STS, not AWS. Never use this in production.');
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(config, { warn: (m) => log.warn(m) });
  let exporter: AuditExporter | undefined;
  let ca: ClusterCA | undefined;
  try {
    ca = await ClusterCA.open({ dataDir: config.dataDir, clusterName: config.clusterName, store, key: config.caKey, setting: config.caKeySetting, signer: opts.caSigner });
    log.info({ caKey: ca.signer.describe(), caPin: ca.pin }, 'cluster CA');
    const admin = await ensureAdminCredential(store, config.dataDir, config.adminToken);
    const svc: JoinServices = { store, ca, config, log, now: opts.now ?? (() => new Date()), aws };
    const { app, metrics } = createApp(svc, admin, log);
    // Before listening: an export file that cannot be written stops the start.
    if (config.auditExport) exporter = await startAuditExport(store, config.auditExport, log, { registry: metrics.registry, handleSighup: true });

    const names = [os.hostname(), ...config.tlsSans];
    if (config.host !== '0.0.0.0' && config.host !== '::') names.push(config.host);
    const tls = await ca.issueServerCertificate(names);
    // Send the CA after the leaf so clients that trust by pin can find it in the chain.
    // Client certificates are asked for but not required: join and admin routes serve clients
    // without one, and POST /v1/renew checks the one it gets itself (CA, expiry, serial, node).
    // `ca` names the cluster CA in the request so a client picks its host certificate.
    const server = https.createServer(
      {
        key: tls.keyPem,
        cert: tls.certPem + ca.certPem,
        ca: [ca.certPem],
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        // A connection that never finishes the handshake (or never starts it: a silent TCP
        // client) is dropped after this, not after Node's two minutes.
        handshakeTimeout: config.tlsHandshakeTimeoutMs,
        // Counted from a connection's start as well as each request's: a TLS connection that
        // sends nothing after the handshake gets the 408 of a stalled request.
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.requestTimeoutMs,
        keepAliveTimeout: config.keepAliveTimeoutMs,
        // Node looks for expired header and request timers this often (30 s by default): a
        // timeout is only as sharp as this sweep.
        connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
      },
      app,
    );
    // Beyond this Node closes each new connection as it arrives; open ones are served on.
    server.maxConnections = config.maxConnections;
    // One line a minute at most: a flood of refused connections must not become a flood of logs.
    let dropped = 0;
    let loggedAt = -Infinity;
    server.on('drop', () => {
      dropped++;
      if (Date.now() - loggedAt < 60_000) return;
      log.warn({ dropped, maxConnections: config.maxConnections }, 'connections refused: JOINERY_MAX_CONNECTIONS reached');
      dropped = 0;
      loggedAt = Date.now();
    });
    server.on('clientError', untrustedCertificateAnswer(svc, clientErrorHandler(log)));

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const displayHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `https://${displayHost}:${port}`;

    const housekeeping = startHousekeeping(store, config, log, { now: svc.now });

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await housekeeping.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // In-flight requests get a grace period, then their connections are cut.
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        });
        await exporter?.stop(); // the events of the last requests go out too
        await store.close();
        await ca?.close();
      })());
    return { url, port, ca, store, admin, log, close };
  } catch (e) {
    await exporter?.stop().catch(() => undefined);
    await store.close();
    await ca?.close().catch(() => undefined);
    throw e;
  }
}
