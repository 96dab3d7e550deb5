// `joinery install systemd [--config FILE] [-o FILE]`: a unit that keeps the agent running, with
// the sandboxing a process that only needs the network and its data directory can live with.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, type Parsed } from './args';
import { DEFAULT_DATA_DIR, readConfigFile } from './agent/config';
import { createOwnFile } from './agent/host-files';
import { str } from './common';

export const DEFAULT_CONFIG_FILE = '/etc/joinery.yaml';

/** The command that runs this very joinery: a single-file build is its own executable. */
export function joineryCommand(): string[] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sea = require('node:sea') as { isSea(): boolean };
    if (sea.isSea()) return [process.execPath];
  } catch {
    // node:sea does not exist before Node 20.12: not a single-file build.
  }
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell the path of the running joinery script');
  return [fs.realpathSync(process.execPath), fs.realpathSync(script)];
}

function unitWord(s: string, what: string): string {
  if (!path.isAbsolute(s)) throw new UsageError(`${what} must be an absolute path for a systemd unit (got ${s})`);
  // $ would be expanded from the environment in ExecStart= (so --config /etc/$X.yaml reads another
  // file); control characters have no place in a unit file.
  if (/[\s"'\\$\p{Cc}]/u.test(s)) throw new UsageError(`${what} ${JSON.stringify(s)} contains spaces, quotes, backslashes, $ or control characters, which a systemd unit cannot carry safely; use another path`);
  // % starts a systemd specifier.
  return s.replace(/%/g, '%%');
}

export function systemdUnit(opts: { command: string[]; configFile: string; dataDir: string }): string {
  const exec = [...opts.command.map((c) => unitWord(c, 'the joinery executable')), 'agent', '--config', unitWord(opts.configFile, '--config')].join(' ');
  const dataDir = unitWord(opts.dataDir, 'data_dir');
  // Files the service itself must be able to read, even under ProtectHome (a checkout in /home).
  const inHome = [...opts.command, opts.configFile].some((p) => /^\/(home|root|run\/user)\//.test(p));
  const stateDir = dataDir.startsWith('/var/lib/') ? dataDir.slice('/var/lib/'.length) : undefined;
  return `# Written by \`joinery install systemd\`. Runs the Joinery agent: joins this host, then renews
# its certificate at two thirds of its lifetime (docs/agent.md). Configuration: ${opts.configFile}
[Unit]
Description=Joinery agent (host identity: join and certificate renewal)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${exec}
Restart=on-failure
RestartSec=10s
# 2: configuration error; 3: the server refused for good (removed node, refused join, bad certificate).
RestartPreventExitStatus=2 3
# The agent stops cleanly on SIGTERM between steps; no file is left half-written.
KillSignal=SIGTERM
TimeoutStopSec=30s
${stateDir ? `StateDirectory=${stateDir}\nStateDirectoryMode=0700\n` : ''}ReadWritePaths=${dataDir}
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=${inHome ? 'read-only' : 'yes'}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
`;
}

export async function installSystemd(p: Parsed): Promise<number> {
  const configFile = path.resolve(str(p, 'config') ?? DEFAULT_CONFIG_FILE);
  let dataDir = DEFAULT_DATA_DIR;
  if (fs.existsSync(configFile)) {
    const file = readConfigFile(configFile);
    if (typeof file.data_dir === 'string') dataDir = path.resolve(path.dirname(configFile), file.data_dir);
  }
  const unit = systemdUnit({ command: joineryCommand(), configFile, dataDir });
  const out = str(p, 'output');
  if (!out) {
    process.stdout.write(unit);
    return 0;
  }
  // Created anew (never through a link someone left under the temporary name), then renamed over.
  const tmp = `${out}.tmp-${process.pid}`;
  createOwnFile(tmp, unit, 0o644);
  fs.renameSync(tmp, out);
  const name = path.basename(out);
  process.stderr.write(`wrote ${out}${fs.existsSync(configFile) ? '' : ` (${configFile} does not exist yet: write it before starting the unit)`}\nthen: systemctl daemon-reload && systemctl enable --now ${name}\n`);
  return 0;
}
