// Starting and stopping the API: storage, CA, admin credential, HTTPS listener, graceful shutdown.

import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import pino, { type Logger } from 'pino';
import { checkProxyEnvironment } from '../aws/egress-proxy';
import { startAuditExport, type AuditExporter } from '../audit/exporter';
import { writeCaFile, type OpenClusterCaOptions } from '../ca/ca';
import { CaTrust, ROTATION_POLL_MS } from '../ca/trust';
import type { ServerConfig } from '../config';
import type { JoinServices } from '../join/admit';
import { buildJoinAws } from '../join/aws';
import { parseStsTestEndpoint } from '../join/iam/sts-forward';
import { openStore } from '../store/open';
import type { Store } from '../store/types';
import { ensureAdminCredential, type AdminCredential } from './auth';
import { createApp } from './app';
import { startHousekeeping } from './housekeeping';
import { clientErrorHandler, expectationFailed } from './client-error';
import { limitConnectionsPerClient } from './connection-limit';
import { untrustedCertificateAnswer } from './routes/renew';

export interface RunningServer {
  url: string;
  port: number;
  /** The CAs and the rotation's phase; `ca` is the one signing host certificates at start. */
  trust: CaTrust;
  readonly ca: CaTrust['hostIssuer'];
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
  let trust: CaTrust | undefined;
  try {
    trust = await CaTrust.open({
      dataDir: config.dataDir,
      clusterName: config.clusterName,
      store,
      key: config.caKey,
      setting: config.caKeySetting,
      pkcs11Modules: config.pkcs11Modules,
      signer: opts.caSigner,
      hostCertTtlMs: config.hostCertTtlMs,
      warn: (m) => log.error(m),
    });
    const cas = trust;
    for (const ca of cas.trusted) log.info({ caKey: ca.signer.describe(), caPin: ca.pin, phase: cas.phase }, 'cluster CA');
    const admin = await ensureAdminCredential(store, config.dataDir, config.adminToken);
    const svc: JoinServices = {
      store,
      get ca() {
        return cas.hostIssuer;
      },
      trust: cas,
      config,
      log,
      now: opts.now ?? (() => new Date()),
      aws,
    };
    const { app, metrics } = createApp(svc, admin, log);
    // Before listening: an export file that cannot be written stops the start.
    if (config.auditExport) exporter = await startAuditExport(store, config.auditExport, log, { registry: metrics.registry, handleSighup: true });

    const names = [os.hostname(), ...config.tlsSans];
    if (config.host !== '0.0.0.0' && config.host !== '::') names.push(config.host);
    // The TLS key and certificate, from the CA that signs the server's certificate in this phase,
    // and every trusted CA as the anchors for client certificates. Made again, and swapped in for
    // new connections, whenever a CA rotation changes either.
    const secureContext = async () => {
      const issuer = cas.serverIssuer;
      const tls = await issuer.issueServerCertificate(names);
      // Send the CA after the leaf so clients that trust by pin can find it in the chain.
      // `ca` names the cluster CAs in the request so a client picks its host certificate.
      return { key: tls.keyPem, cert: tls.certPem + issuer.certPem, ca: cas.bundle(), minVersion: 'TLSv1.2' as const, issuer: issuer.pin, trusted: cas.bundle().join('') };
    };
    let context = await secureContext();
    // Client certificates are asked for but not required: join and admin routes serve clients
    // without one, and POST /v1/renew checks the one it gets itself (CA, expiry, serial, node).
    const server = https.createServer(
      {
        key: context.key,
        cert: context.cert,
        ca: context.ca,
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
        // Node's answer to an HTTP/1.1 request without Host is a bare 400; the app gives the
        // same refusal with the API's headers and error shape (app.ts).
        requireHostHeader: false,
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
    let refusedPerClient = 0;
    let perClientLoggedAt = -Infinity;
    limitConnectionsPerClient(server, config, (client) => {
      refusedPerClient++;
      if (Date.now() - perClientLoggedAt < 60_000) return;
      log.warn({ client, refused: refusedPerClient, maxConnectionsPerClient: config.maxConnectionsPerClient }, 'connections refused: JOINERY_MAX_CONNECTIONS_PER_CLIENT reached');
      refusedPerClient = 0;
      perClientLoggedAt = Date.now();
    });
    server.on('clientError', untrustedCertificateAnswer(svc, clientErrorHandler(log)));
    server.on('checkExpectation', expectationFailed);

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const displayHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `https://${displayHost}:${port}`;

    const housekeeping = startHousekeeping(store, config, log, { now: svc.now });

    cas.onChange(async () => {
      // The CLI on this machine trusts <data-dir>/ca.crt: it holds every trusted CA.
      writeCaFile(config.dataDir, cas.bundle().join(''));
      if (context.issuer === cas.serverIssuer.pin && context.trusted === cas.bundle().join('')) return;
      const next = await secureContext();
      server.setSecureContext({ key: next.key, cert: next.cert, ca: next.ca, minVersion: next.minVersion });
      context = next;
      log.info({ phase: cas.phase, serverCa: next.issuer, trusted: cas.trusted.map((c) => c.pin) }, 'TLS certificate and trusted CAs swapped in for new connections');
    });
    // Every replica follows the rotation row; an automatic rotation advances here (once across replicas).
    let polling: Promise<unknown> | undefined;
    const poll = setInterval(() => {
      polling ??= cas
        .tick(svc.now())
        .catch((err: unknown) => log.error({ err }, 'CA rotation step failed'))
        .finally(() => (polling = undefined));
    }, ROTATION_POLL_MS);
    poll.unref();

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(poll);
        await polling;
        await housekeeping.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // In-flight requests get a grace period, then their connections are cut.
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        });
        await exporter?.stop(); // the events of the last requests go out too
        await store.close();
        await cas.close();
      })());
    return {
      url,
      port,
      trust: cas,
      get ca() {
        return cas.hostIssuer;
      },
      store,
      admin,
      log,
      close,
    };
  } catch (e) {
    await exporter?.stop().catch(() => undefined);
    await store.close();
    await trust?.close().catch(() => undefined);
    throw e;
  }
}
