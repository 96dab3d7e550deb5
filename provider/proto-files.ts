// The plugin protocol's .proto definitions: read from provider/proto in a checkout or the npm
// package, or, in the single-file provider of a release, from the descriptors embedded in the
// executable (scripts/release turns each .proto into protobuf.js JSON at build time).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_FILES = ['tfplugin6.proto', 'go-plugin.proto', 'health.proto'] as const;
export type ProtoFile = (typeof PROTO_FILES)[number];

/** The name of a file's embedded descriptor among the single executable's assets. */
export const embeddedAssetName = (file: ProtoFile): string => `proto/${file}.json`;

/** The .proto files ship next to the sources; dist/provider/*.js finds them via the repo. */
function protoDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'provider', 'proto');
    if (fs.existsSync(path.join(candidate, 'tfplugin6.proto'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find provider/proto/tfplugin6.proto above ${__dirname}`);
  }
}

function embeddedDescriptor(file: ProtoFile): string | undefined {
  // node:sea exists from Node 20.12; an older Node is never a single executable.
  let sea: { isSea(): boolean; getAsset(key: string, encoding: string): string } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sea = require('node:sea');
  } catch {
    return undefined;
  }
  return sea?.isSea() ? sea.getAsset(embeddedAssetName(file), 'utf8') : undefined;
}

export function loadProto(file: ProtoFile, opts: protoLoader.Options): protoLoader.PackageDefinition {
  const embedded = embeddedDescriptor(file);
  if (embedded !== undefined) return protoLoader.fromJSON(JSON.parse(embedded), opts);
  return protoLoader.loadSync(path.join(protoDir(), file), opts);
}
