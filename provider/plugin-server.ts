// The go-plugin side of the provider process: checks that Terraform started it, serves the
// provider over gRPC with mutual TLS, prints the handshake line, and exits when Terraform is done.

import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { generatePluginCertificate } from './plugin-tls';
import { loadProto, type ProtoFile } from './proto-files';
import { ProviderService } from './service';

export const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
export const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
const CORE_PROTOCOL_VERSION = 1;
const APP_PROTOCOL_VERSION = 6;

export class HandshakeError extends Error {}

function loadServices() {
  const opts: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };
  const load = (file: ProtoFile) => grpc.loadPackageDefinition(loadProto(file, opts)) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    provider: load('tfplugin6.proto').tfplugin6.Provider.service as grpc.ServiceDefinition,
    controller: load('go-plugin.proto').plugin.GRPCController.service as grpc.ServiceDefinition,
    health: load('health.proto').grpc.health.v1.Health.service as grpc.ServiceDefinition,
  };
}

/** Checks the environment go-plugin gives a plugin; throws HandshakeError with advice otherwise. */
export function checkHandshakeEnv(env: NodeJS.ProcessEnv): void {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    throw new HandshakeError(
      [
        'terraform-provider-teleport is a Terraform provider plugin: Terraform or OpenTofu starts it, it is not run by hand.',
        '',
        'To use it, install it with `npx joinery provider install` and add the printed required_providers block',
        'to your configuration, then run `terraform init`. `terraform-provider-teleport schema-json` prints its schema.',
      ].join('\n'),
    );
  }
  const versions = (env.PLUGIN_PROTOCOL_VERSIONS ?? String(APP_PROTOCOL_VERSION)).split(',').map((v) => v.trim());
  if (!versions.includes(String(APP_PROTOCOL_VERSION))) {
    throw new HandshakeError(`this provider speaks plugin protocol ${APP_PROTOCOL_VERSION}, but the client offers ${versions.join(', ')}; use Terraform >= 1.0 or OpenTofu`);
  }
}

export interface RunningPlugin {
  handshakeLine: string;
  done: Promise<void>;
}

export async function servePlugin(env: NodeJS.ProcessEnv = process.env, writeLine: (line: string) => void = (l) => process.stdout.write(l)): Promise<RunningPlugin> {
  checkHandshakeEnv(env);
  const services = loadServices();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 * 1024 * 1024 });

  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // Let the Shutdown answer go out before the server closes its connections.
    setImmediate(() => server.tryShutdown(() => finish()));
    setTimeout(() => {
      server.forceShutdown();
      finish();
    }, 2000).unref();
  };

  const provider = new ProviderService();
  server.addService(services.provider, provider.grpcImplementation());
  server.addService(services.controller, {
    Shutdown: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, {});
      shutdown();
    },
  });
  server.addService(services.health, {
    Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 'SERVING' }),
  });

  let credentials = grpc.ServerCredentials.createInsecure();
  let handshakeCert = '';
  const clientCert = env.PLUGIN_CLIENT_CERT;
  if (clientCert) {
    const cert = await generatePluginCertificate();
    credentials = grpc.ServerCredentials.createSsl(Buffer.from(clientCert), [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certPem) }], true);
    handshakeCert = cert.handshakeCert;
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  const handshakeLine = `${CORE_PROTOCOL_VERSION}|${APP_PROTOCOL_VERSION}|tcp|127.0.0.1:${port}|grpc${handshakeCert ? `|${handshakeCert}` : ''}\n`;
  writeLine(handshakeLine);

  // Terraform handles Ctrl-C itself (StopProvider, then Shutdown); like go-plugin servers, ignore it.
  process.on('SIGINT', () => {});
  process.once('SIGTERM', shutdown);
  return { handshakeLine, done };
}
