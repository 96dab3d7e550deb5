// `joinery install systemd`: the unit runs this very joinery as the agent, restarts it on
// failure (but not after a permanent refusal), and sandboxes it to its data directory.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { systemdUnit } from '../../cli/install-systemd';
import { CLI_JS } from '../support/server';
import { runJoinery } from './support/run';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-systemd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lines = (unit: string) => unit.split('\n');

test('writes a unit with -o: ExecStart is the running joinery (absolute), the data_dir of the config is writable', async () => {
  const config = path.join(tmp, 'agent.yaml');
  fs.writeFileSync(config, 'version: v1\nauth_server: a:1\nca_file: /x\ndata_dir: /srv/joinery-state\njoin_params: {token_name: t, method: ec2}\n');
  const out = path.join(tmp, 'joinery.service');
  const r = await runJoinery(['install', 'systemd', '--config', config, '-o', out]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain(`wrote ${out}`);
  expect(r.stderr).toContain('systemctl enable --now joinery.service');
  const unit = lines(fs.readFileSync(out, 'utf8'));
  expect(unit).toContain(`ExecStart=${fs.realpathSync(process.execPath)} ${fs.realpathSync(CLI_JS)} agent --config ${config}`);
  for (const l of [
    '[Unit]',
    'After=network-online.target',
    'Wants=network-online.target',
    '[Service]',
    'Restart=on-failure',
    'RestartPreventExitStatus=2 3',
    'ReadWritePaths=/srv/joinery-state',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'CapabilityBoundingSet=',
    '[Install]',
    'WantedBy=multi-user.target',
  ]) {
    expect(unit).toContain(l);
  }
  expect(unit.some((l) => /^ProtectHome=(yes|read-only)$/.test(l))).toBe(true);
  // Node's JIT needs writable executable memory.
  expect(unit.some((l) => l.startsWith('MemoryDenyWriteExecute'))).toBe(false);
  expect(unit.some((l) => l.startsWith('StateDirectory='))).toBe(false);
});

test('prints the unit without -o; the default config is /etc/joinery.yaml with data in /var/lib/joinery', async () => {
  const r = await runJoinery(['install', 'systemd']);
  expect(r.code).toBe(0);
  const unit = lines(r.stdout);
  expect(unit.find((l) => l.startsWith('ExecStart='))).toMatch(/^ExecStart=\/\S+ \/\S+\/dist\/cli\/main\.js agent --config \/etc\/joinery\.yaml$/);
  expect(unit).toContain('ReadWritePaths=/var/lib/joinery');
  expect(unit).toContain('StateDirectory=joinery');
  expect(unit).toContain('StateDirectoryMode=0700');
});

test('paths a unit file cannot carry are refused; % is escaped; ProtectHome stays readable for a checkout in /home', () => {
  expect(() => systemdUnit({ command: ['/usr/bin/joinery'], configFile: '/etc/my joinery.yaml', dataDir: '/var/lib/joinery' })).toThrow(/spaces/);
  expect(() => systemdUnit({ command: ['/usr/bin/joinery'], configFile: 'rel.yaml', dataDir: '/var/lib/joinery' })).toThrow(/absolute/);
  // systemd expands $VAR in ExecStart=: the unit would run with another configuration.
  expect(() => systemdUnit({ command: ['/usr/bin/joinery'], configFile: '/etc/$HOME.yaml', dataDir: '/var/lib/joinery' })).toThrow(/\$/);
  expect(() => systemdUnit({ command: ['/opt/$X/joinery'], configFile: '/etc/joinery.yaml', dataDir: '/var/lib/joinery' })).toThrow(/\$/);
  expect(() => systemdUnit({ command: ['/usr/bin/joinery'], configFile: '/etc/joinery.yaml', dataDir: '/var/lib/\u001b[2Jjoinery' })).toThrow(/control characters/);
  const unit = lines(systemdUnit({ command: ['/usr/bin/node', '/home/me/joinery/dist/cli/main.js'], configFile: '/etc/j%n.yaml', dataDir: '/var/lib/joinery' }));
  expect(unit).toContain('ExecStart=/usr/bin/node /home/me/joinery/dist/cli/main.js agent --config /etc/j%%n.yaml');
  expect(unit).toContain('ProtectHome=read-only');
  expect(lines(systemdUnit({ command: ['/usr/local/bin/joinery'], configFile: '/etc/joinery.yaml', dataDir: '/var/lib/joinery' }))).toContain('ProtectHome=yes');
});

test('usage errors', async () => {
  // The argument parser (commander) names the unknown subcommand and the known ones.
  const sysv = await runJoinery(['install', 'sysv']);
  expect([sysv.code, sysv.stderr]).toEqual([2, 'error: unknown command "sysv" for joinery install; expected one of: systemd\n']);
  const bad = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(bad, 'dta_dir: /x\n');
  const r = await runJoinery(['install', 'systemd', '--config', bad]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/unknown key dta_dir/);
});

// scripts/install-test-deps.sh makes sure systemd-analyze is there: this never skips.
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => fs.existsSync(p)) ?? 'systemd-analyze';
test('systemd-analyze verify accepts the unit', async () => {
  const out = path.join(tmp, 'joinery-verify.service');
  expect((await runJoinery(['install', 'systemd', '-o', out])).code).toBe(0);
  const r = spawnSync(analyze!, ['verify', out], { encoding: 'utf8' });
  expect(r.stderr.split('\n').filter((l) => l.includes('joinery-verify.service'))).toEqual([]);
  expect(r.status).toBe(0);
});
