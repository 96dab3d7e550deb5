// `joinery provider install`: puts terraform-provider-teleport where Terraform and OpenTofu look
// for providers without a registry (the implied local mirror directories). From a release, that
// is the release's zip, as is (the packed mirror layout): the same bytes on every machine, so a
// committed .terraform.lock.hcl matches everywhere. From a checkout without a release, it is a
// small launcher that runs the checkout's compiled provider with this Node (its hash is local).

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXECUTABLE_NAME, PROVIDER_HOST, PROVIDER_NAMESPACE, PROVIDER_SOURCE, PROVIDER_TYPE, providerVersion, repoRoot } from '../provider/address';

export interface InstallResult {
  source: string;
  version: string;
  /** What was installed: the release zip, or a launcher of this checkout's provider. */
  from: 'release' | 'checkout';
  /** The release zip installed, when from is 'release'. */
  zip?: string;
  /** The installed files. */
  paths: string[];
  requiredProvidersBlock: string;
}

export interface InstallOptions {
  pluginDir?: string;
  /** A release zip to install; false: the checkout's launcher even when a release exists. */
  zip?: string | false;
  env?: NodeJS.ProcessEnv;
}

/** Terraform's name for this platform, e.g. linux_amd64. */
export function platformDir(platform: string = process.platform, arch: string = process.arch): string {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' };
  return `${platform === 'win32' ? 'windows' : platform}_${goArch[arch] ?? arch}`;
}

/** The implied local mirror directories of Terraform and OpenTofu on this machine. */
export function defaultPluginDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  const dataHome = env.XDG_DATA_HOME || path.join(home, '.local', 'share');
  return [path.join(home, '.terraform.d', 'plugins'), path.join(dataHome, 'terraform', 'plugins')];
}

export function requiredProvidersBlock(version: string): string {
  return ['terraform {', '  required_providers {', '    teleport = {', `      source  = "${PROVIDER_SOURCE}"`, `      version = "${version}"`, '    }', '  }', '}', ''].join('\n');
}

function isSingleExecutable(): boolean {
  try {
    // node:sea is loaded lazily: a Node without it (before 20.12) is never a single executable.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    return false;
  }
}

/** The version: the checkout's or package's package.json; compiled in for the single file, which has none. */
function currentVersion(): string {
  // Loaded only inside the single executable, where the package.json it would read is absent.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return isSingleExecutable() ? (require('../api/version') as { VERSION: string }).VERSION : providerVersion();
}

/** The release's file names for this version and platform. */
export function releaseZipName(version: string = currentVersion(), platform: string = platformDir()): string {
  return `${EXECUTABLE_NAME}_${version}_${platform}.zip`;
}
const sumsName = (version: string) => `${EXECUTABLE_NAME}_${version}_SHA256SUMS`;

/** Where a release zip may be: JOINERY_PROVIDER_ZIP, beside the single-file joinery, or the checkout's release/. */
export function findReleaseZip(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.JOINERY_PROVIDER_ZIP) {
    if (!fs.existsSync(env.JOINERY_PROVIDER_ZIP)) throw new Error(`JOINERY_PROVIDER_ZIP: ${env.JOINERY_PROVIDER_ZIP} does not exist`);
    return env.JOINERY_PROVIDER_ZIP;
  }
  const dirs: string[] = [];
  if (isSingleExecutable()) dirs.push(path.dirname(process.execPath));
  else {
    try {
      dirs.push(path.join(repoRoot(), 'release'));
    } catch {
      // Not in a checkout or package: nothing to find.
    }
  }
  return dirs.map((d) => path.join(d, releaseZipName())).find((f) => fs.existsSync(f));
}

/** Checks the zip against the SHA256SUMS file beside it, when there is one. */
function verifyAgainstSums(zip: string, version: string): void {
  const sums = path.join(path.dirname(zip), sumsName(version));
  if (!fs.existsSync(sums)) return;
  const want = fs
    .readFileSync(sums, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find(([, name]) => name === path.basename(zip))?.[0];
  if (!want) throw new Error(`${sums} has no line for ${path.basename(zip)}`);
  const got = createHash('sha256').update(fs.readFileSync(zip)).digest('hex');
  if (got !== want.toLowerCase()) throw new Error(`${zip} does not match ${sums} (sha256 ${got}, expected ${want})`);
}

function writeAtomically(file: string, data: Buffer | string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

/** The launcher: absolute paths, because Terraform may copy it out of the mirror. */
function launcherScript(mainJs: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# Installed by \`joinery provider install\`. exec, so Terraform's signals reach Node.\nexec ${q(process.execPath)} ${q(mainJs)} "$@"\n`;
}

export async function installProvider(opts: InstallOptions = {}): Promise<InstallResult> {
  const env = opts.env ?? process.env;
  const version = currentVersion();
  const zip = opts.zip === false ? undefined : (opts.zip ?? findReleaseZip(env));
  if (zip === undefined && opts.zip !== false && isSingleExecutable()) {
    throw new Error(
      `${releaseZipName()} is not beside ${process.execPath}: put the release's provider zip (and its SHA256SUMS) there, or set JOINERY_PROVIDER_ZIP to its path`,
    );
  }
  if (zip) verifyAgainstSums(zip, version);
  const dirs = opts.pluginDir ? [opts.pluginDir] : defaultPluginDirs(env);
  const paths: string[] = [];
  for (const base of dirs) {
    const typeDir = path.join(base, PROVIDER_HOST, PROVIDER_NAMESPACE, PROVIDER_TYPE);
    const packed = path.join(typeDir, releaseZipName(version));
    const unpacked = path.join(typeDir, version, platformDir());
    // One package per version and platform in a mirror: the other layout goes.
    if (zip) {
      fs.rmSync(unpacked, { recursive: true, force: true });
      writeAtomically(packed, fs.readFileSync(zip), 0o644);
      paths.push(packed);
    } else {
      const mainJs = path.join(repoRoot(), 'dist', 'provider', 'main.js');
      if (!fs.existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
      fs.rmSync(packed, { force: true });
      const file = path.join(unpacked, `${EXECUTABLE_NAME}_v${version}`);
      writeAtomically(file, launcherScript(mainJs), 0o755);
      paths.push(file);
    }
  }
  return { source: PROVIDER_SOURCE, version, from: zip ? 'release' : 'checkout', zip, paths, requiredProvidersBlock: requiredProvidersBlock(version) };
}
