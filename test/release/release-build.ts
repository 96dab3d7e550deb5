// The release under test: `npm run release` once per run (skipped when release/BUILD-ID says
// the sources are unchanged), then the paths of what it built.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/server';

export interface Release {
  dir: string;
  version: string;
  joinery: string;
  providerZip: string;
  providerSums: string;
  mirror: string;
  /** The hashes the network mirror advertises (h1: and zh:). */
  mirrorHashes: string[];
  serverTarball: string;
  constructsTarball: string;
}

/** Builds release/ unless it is current; throws with the build's output when it fails. */
export function ensureRelease(): Release {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'release', 'build.js'), '--if-changed'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`npm run release failed (${r.status ?? r.signal}):\n${r.stderr.slice(-4000)}`);
  const dir = path.join(REPO_ROOT, 'release');
  const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
  const typeDir = path.join(dir, 'mirror', 'joinery.local', 'joinery', 'teleport');
  const versionJson = JSON.parse(fs.readFileSync(path.join(typeDir, `${version}.json`), 'utf8'));
  const release: Release = {
    dir,
    version,
    joinery: path.join(dir, `joinery-${version}-linux-x64`),
    providerZip: path.join(dir, `terraform-provider-teleport_${version}_linux_amd64.zip`),
    providerSums: path.join(dir, `terraform-provider-teleport_${version}_SHA256SUMS`),
    mirror: path.join(dir, 'mirror'),
    mirrorHashes: versionJson.archives.linux_amd64.hashes,
    serverTarball: path.join(dir, `joinery-${version}.tgz`),
    constructsTarball: path.join(dir, `joinery-cdktf-constructs-${version}.tgz`),
  };
  for (const [k, v] of Object.entries(release)) if (typeof v === 'string' && k !== 'version' && !fs.existsSync(v)) throw new Error(`the release has no ${v}`);
  return release;
}
