// Runs real Terraform / OpenTofu against the local provider: a temporary working directory, a
// filesystem mirror filled by `installProvider`, and a CLI config that uses only that mirror
// (there is no registry access). The binaries come from scripts/install-terraform.sh.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installProvider } from '../../cli/provider-install';

export const TF_BIN_DIR = process.env.JOINERY_TF_BIN_DIR ?? path.join(os.homedir(), '.cache', 'joinery', 'bin');

export type TerraformTool = 'terraform' | 'tofu';

/**
 * The releases scripts/install-terraform.sh builds, from scripts/terraform-releases: every
 * real-tool suite runs on the newest of each; the oldest keep the provider-protocol suite, so the
 * provider stays usable from them.
 */
export const TOOL_VERSIONS = readReleases(path.join(__dirname, '..', '..', 'scripts', 'terraform-releases'));

function readReleases(file: string): Record<'newest' | 'oldest', Record<TerraformTool, string>> {
  const out: Record<string, Record<string, string>> = { newest: {}, oldest: {} };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [name, version, role] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (name && version && role && role in out) out[role][name] = version;
  }
  for (const role of ['newest', 'oldest']) {
    for (const tool of ['terraform', 'tofu']) if (!out[role][tool]) throw new Error(`${file} names no ${role} ${tool}`);
  }
  return out as Record<'newest' | 'oldest', Record<TerraformTool, string>>;
}

/** The binary's path (the newest release unless told); throws (so the test fails, never skips) when it is not installed. */
export function terraformBinary(name: TerraformTool, version: string = TOOL_VERSIONS.newest[name]): string {
  const bin = path.join(TF_BIN_DIR, `${name}-${version}`);
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/install-terraform.sh (CI does) to build Terraform and OpenTofu`);
  return bin;
}

/** Commands whose first argument is a subcommand. */
const NESTED_COMMANDS = ['providers', 'state', 'workspace'];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TerraformWorkspace {
  dir: string;
  /** HOME of the Terraform runs (a fresh temporary directory). */
  home: string;
  binary: string;
  source: string;
  version: string;
  writeMain(hcl: string): void;
  run(args: string[], opts?: { env?: Record<string, string> }): Promise<RunResult>;
  cleanup(): void;
}

/**
 * A working directory for `binary`. By default the provider comes from a filesystem mirror named
 * in a CLI config file; with `impliedMirror` there is no CLI config, so Terraform searches its
 * implied local mirror directories under `home` (fill them with `joinery provider install`).
 */
export async function terraformWorkspace(binary: string, env: Record<string, string> = {}, opts: { impliedMirror?: boolean } = {}): Promise<TerraformWorkspace> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-tf-'));
  const dir = path.join(root, 'work');
  const mirror = path.join(root, 'mirror');
  const home = path.join(root, 'home');
  fs.mkdirSync(dir);
  fs.mkdirSync(home);
  const baseEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(baseEnv)) if (k.startsWith('JOINERY_') || k.startsWith('TF_') || k.startsWith('XDG_')) delete baseEnv[k];
  Object.assign(baseEnv, { HOME: home, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1', ...env });

  const installed = await installProvider({ pluginDir: mirror, zip: false });
  if (!opts.impliedMirror) {
    const cliConfig = path.join(root, 'cli.tfrc');
    fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["${installed.source}"]\n  }\n}\n`);
    baseEnv.TF_CLI_CONFIG_FILE = cliConfig;
  } else {
    // Without a CLI config file Terraform looks in ~/.terraformrc, which does not exist under home.
    baseEnv.TF_CLI_CONFIG_FILE = path.join(home, '.terraformrc');
  }

  return {
    dir,
    home,
    binary,
    source: installed.source,
    version: installed.version,
    writeMain(hcl) {
      fs.writeFileSync(path.join(dir, 'main.tf'), hcl);
    },
    run(args, opts = {}) {
      return new Promise((resolve, reject) => {
        // -no-color goes right after the (sub)command: `plan -no-color`, `providers schema -no-color`.
        const command = NESTED_COMMANDS.includes(args[0]) && args[1] && !args[1].startsWith('-') ? 2 : 1;
        const child = spawn(binary, [...args.slice(0, command), '-no-color', ...args.slice(command)], { cwd: dir, env: { ...baseEnv, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.once('error', reject);
        child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The terraform block and provider block of a test configuration: the provider from `ws`'s
 * mirror, pointed at `server` and pinned to its CA. The admin token comes from
 * JOINERY_ADMIN_TOKEN in the workspace's environment, as the docs recommend for CI.
 */
export function providerHeader(ws: Pick<TerraformWorkspace, 'source' | 'version'>, server: { addr: string; caPin: string }): string {
  return `terraform {
  required_providers {
    teleport = {
      source  = "${ws.source}"
      version = "${ws.version}"
    }
  }
}

provider "teleport" {
  addr   = "${server.addr}"
  ca_pin = "${server.caPin}"
}

`;
}
