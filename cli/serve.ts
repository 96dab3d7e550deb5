// `joinery serve`: the API on embedded SQLite (or PostgreSQL), until SIGINT/SIGTERM.

import { getHeapStatistics } from 'node:v8';
import { loadConfig } from '../api/config';
import { startServer } from '../api/server/server';
import { VERSION } from '../api/version';
import type { Parsed } from './args';
import { str } from './common';

export async function serve(p: Parsed): Promise<number> {
  const config = loadConfig({ dataDir: str(p, 'data-dir'), listen: str(p, 'listen'), caKey: str(p, 'ca-key') });
  const server = await startServer(config);
  const err = process.stderr;
  err.write(`Joinery ${VERSION} serving ${server.url} (cluster ${server.ca.clusterName}, storage ${server.store.kind}, data ${config.dataDir})\n`);
  err.write(`CA pin: ${server.ca.pin} (key: ${server.ca.signer.describe()})\n`);
  // bin/joinery gives the server a heap budget (JOINERY_SERVER_HEAP_MB); started another way, V8
  // sizes the heap from the machine and the server's RSS grows with uncollected garbage.
  const heapMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  err.write(`Heap limit: ${heapMb} MB${heapMb > 1024 ? ' (no budget: start it as `joinery serve`, or set NODE_OPTIONS=--max-old-space-size=160)' : ''}\n`);
  if (server.admin.source === 'generated') err.write(`Admin credential generated and written to ${server.admin.generatedFile} (only its hash is stored)\n`);
  else err.write(`Admin credential: ${server.admin.source === 'environment' ? 'from JOINERY_ADMIN_TOKEN' : `as generated on first start (${config.dataDir}/admin-token)`}\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.log.info({ signal }, 'shutting down');
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
