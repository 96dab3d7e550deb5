// `joinery provider install`: puts terraform-provider-teleport where Terraform and OpenTofu look
// for providers without a registry (the implied local mirror directories), as a small launcher
// that runs this checkout's compiled provider with this Node.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXECUTABLE_NAME, PROVIDER_HOST, PROVIDER_NAMESPACE, PROVIDER_SOURCE, PROVIDER_TYPE, providerVersion, repoRoot } from '../provider/address';

export interface InstallResult {
  source: string;
  version: string;
  /** The installed executables. */
  paths: string[];
  requiredProvidersBlock: string;
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

/** The launcher: absolute paths, because Terraform may copy it out of the mirror. */
function launcherScript(mainJs: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# Installed by \`joinery provider install\`. exec, so Terraform's signals reach Node.\nexec ${q(process.execPath)} ${q(mainJs)} "$@"\n`;
}

export async function installProvider(opts: { pluginDir?: string } = {}): Promise<InstallResult> {
  const root = repoRoot();
  const mainJs = path.join(root, 'dist', 'provider', 'main.js');
  if (!fs.existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
  const version = providerVersion();
  const dirs = opts.pluginDir ? [opts.pluginDir] : defaultPluginDirs();
  const paths: string[] = [];
  for (const base of dirs) {
    const dir = path.join(base, PROVIDER_HOST, PROVIDER_NAMESPACE, PROVIDER_TYPE, version, platformDir());
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${EXECUTABLE_NAME}_v${version}`);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, launcherScript(mainJs), { mode: 0o755 });
    fs.renameSync(tmp, file);
    paths.push(file);
  }
  return { source: PROVIDER_SOURCE, version, paths, requiredProvidersBlock: requiredProvidersBlock(version) };
}
