// The agent's files on a host: a link planted under any name the agent writes, reads or removes
// is refused with the path named and its target left alone; loose modes on the data directory,
// the key, the configuration and the directories above them are repaired or refused.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadHostState } from '../../cli/agent/agent';
import { createOwnFile } from '../../cli/agent/host-files';
import { readIdentity, recoverIdentity, writeIdentity } from '../../cli/agent/identity';
import { onRenewProgram, runOnRenew } from '../../cli/agent/on-renew';
import { parseArgs } from '../../cli/args';
import { AGENT_FLAGS, loadAgentConfig } from '../../cli/agent/config';
import { newKeyPair, createTestCa, type TestCa } from './support/test-pki';

// api/version.ts reads package.json relative to dist/; from the sources that path does not exist.
jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));

/** Written out rather than taken from the code, so a name the code forgets still gets tested. */
const NAMES = ['key.pem', 'cert.pem', 'ca.pem', 'identity.json', '.commit', '.key.pem.tmp', '.cert.pem.tmp', '.ca.pem.tmp', '.identity.json.tmp', '.commit.tmp'];
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const rootOnly = asRoot ? test : test.skip;

let tmp: string;
let ca: TestCa;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-host-files-'));
  ca = await createTestCa('host-files-ca');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const fresh = (label: string) => fs.mkdtempSync(path.join(tmp, `${label}-${n++}-`));
const identity = (host: string) => ({ host_id: host, join_method: 'token', role: 'Node', server: 's', joined_at: new Date().toISOString() });
const files = (tag: string) => ({ keyPem: `key-${tag}`, certPem: `cert-${tag}`, caPem: `ca-${tag}`, identity: identity(tag) });
const quiet = () => undefined;
/** Modes as test-title rows: ['0777', 0o777]. */
const octal = (modes: number[]) => modes.map((m) => [`0${m.toString(8)}`, m] as const);

/** A place outside the data directory that a planted link points at, and how to tell it is untouched. */
type Victim = { target: string; untouched: () => void };
const FORMS: Record<string, (dir: string) => Victim> = {
  'a file': (dir) => {
    const target = path.join(dir, 'victim.txt');
    fs.writeFileSync(target, 'precious\n', { mode: 0o644 });
    return { target, untouched: () => expect([fs.readFileSync(target, 'utf8'), fs.statSync(target).mode & 0o777]).toEqual(['precious\n', 0o644]) };
  },
  'a directory': (dir) => {
    const target = path.join(dir, 'victim-dir');
    fs.mkdirSync(target, { mode: 0o755 });
    return { target, untouched: () => expect([fs.readdirSync(target), fs.statSync(target).mode & 0o777]).toEqual([[], 0o755]) };
  },
  'nothing (dangling)': (dir) => {
    const target = path.join(dir, 'not-there');
    return { target, untouched: () => expect(fs.existsSync(target)).toBe(false) };
  },
};

function plant(dataDir: string, name: string, form: string): Victim {
  const victim = FORMS[form](path.dirname(dataDir));
  fs.rmSync(path.join(dataDir, name), { force: true });
  fs.symlinkSync(victim.target, path.join(dataDir, name));
  return victim;
}

const linkRefusal = (file: string) => new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a symbolic link`);

describe.each(Object.keys(FORMS))('a link to %s planted in the data directory', (form) => {
  test.each(NAMES)('under %s: a first write refuses it, names it, and leaves its target alone', (name) => {
    const dataDir = path.join(fresh('plant-new'), 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const victim = plant(dataDir, name, form);
    expect(() => writeIdentity(dataDir, files('new'), quiet)).toThrow(linkRefusal(path.join(dataDir, name)));
    victim.untouched();
    expect(fs.lstatSync(path.join(dataDir, name)).isSymbolicLink()).toBe(true);
  });

  test.each(NAMES)('under %s beside an identity: reading and renewing refuse it, and its target stays as it was', (name) => {
    const dataDir = path.join(fresh('plant-old'), 'data');
    writeIdentity(dataDir, files('old'), quiet);
    const victim = plant(dataDir, name, form);
    expect(() => readIdentity(dataDir, quiet)).toThrow(linkRefusal(path.join(dataDir, name)));
    expect(() => writeIdentity(dataDir, files('new'), quiet)).toThrow(linkRefusal(path.join(dataDir, name)));
    expect(() => recoverIdentity(dataDir, quiet)).toThrow(linkRefusal(path.join(dataDir, name)));
    victim.untouched();
  });
});

test.each(Object.keys(FORMS))('a file created anew (as install systemd writes its unit) never goes through a link to %s', (form) => {
  const dir = fresh('create');
  const victim = FORMS[form](dir);
  const file = path.join(dir, 'joinery.service.tmp-1');
  fs.symlinkSync(victim.target, file);
  expect(() => createOwnFile(file, 'unit', 0o644)).toThrow(`${file} already exists as a symbolic link (to ${victim.target}); joinery creates its files anew and never writes through an existing name`);
  victim.untouched();
});

describe('the data directory itself', () => {
  test.each(Object.keys(FORMS))('a link to %s as the data directory is refused, never followed', (form) => {
    const base = fresh('dir-link');
    const victim = FORMS[form](base);
    const dataDir = path.join(base, 'data');
    fs.symlinkSync(victim.target, dataDir);
    expect(() => writeIdentity(dataDir, files('new'), quiet)).toThrow(linkRefusal(dataDir));
    expect(() => readIdentity(dataDir, quiet)).toThrow(linkRefusal(dataDir));
    victim.untouched();
  });

  test('a link to a directory holding an identity is not read through', () => {
    const base = fresh('dir-link-id');
    writeIdentity(path.join(base, 'real'), files('old'), quiet);
    fs.symlinkSync(path.join(base, 'real'), path.join(base, 'data'));
    expect(() => loadHostState(path.join(base, 'data'), quiet)).toThrow(/is a symbolic link .*give the real path/);
  });

  test.each(octal([0o777, 0o775, 0o757, 0o770]))('mode %s, ours: repaired to 0700, and the repair is reported', (_, mode) => {
    const dataDir = path.join(fresh('dir-mode'), 'data');
    writeIdentity(dataDir, files('old'), quiet);
    fs.chmodSync(dataDir, mode);
    const warnings: string[] = [];
    expect(readIdentity(dataDir, (l) => warnings.push(l))?.host_id).toBe('old');
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(warnings).toEqual([`warning: ${dataDir} had mode 0${mode.toString(8)}, writable by group or others; repaired to 0700`]);
  });

  test('a new data directory is created 0700', () => {
    const dataDir = path.join(fresh('dir-new'), 'a', 'data');
    writeIdentity(dataDir, files('new'), quiet);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
  });

  rootOnly("owned by another user: refused, with the chown to run, and nothing is written", () => {
    const dataDir = path.join(fresh('dir-owner'), 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    fs.chownSync(dataDir, NOBODY, NOBODY);
    expect(() => writeIdentity(dataDir, files('new'), quiet)).toThrow(`${dataDir} belongs to uid ${NOBODY}, not to the agent's user (uid 0); run chown 0 ${dataDir}`);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  test.each(octal([0o777, 0o775, 0o757]))('a parent directory with mode %s (not sticky) is refused, by name', (_, mode) => {
    const parent = fresh('parent-mode');
    fs.chmodSync(parent, mode);
    const dataDir = path.join(parent, 'data');
    expect(() => writeIdentity(dataDir, files('new'), quiet)).toThrow(`${parent} (on the path of ${dataDir}) has mode 0${mode.toString(8)}: group or others could replace what the agent uses there; run chmod go-w ${parent}`);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test('a sticky world-writable parent (as /tmp) is fine: others cannot move what is ours', () => {
    const parent = fresh('parent-sticky');
    fs.chmodSync(parent, 0o1777);
    writeIdentity(path.join(parent, 'data'), files('new'), quiet);
    expect(readIdentity(path.join(parent, 'data'), quiet)?.host_id).toBe('new');
  });

  test('a link above the data directory is followed when only root and the agent can change it', () => {
    const base = fresh('parent-link');
    fs.mkdirSync(path.join(base, 'disk'), { mode: 0o755 });
    fs.symlinkSync(path.join(base, 'disk'), path.join(base, 'lib'));
    writeIdentity(path.join(base, 'lib', 'data'), files('new'), quiet);
    expect(fs.readFileSync(path.join(base, 'disk', 'data', 'cert.pem'), 'utf8')).toBe('cert-new');
  });

  test('a link above the data directory that leads through a directory others can write is refused', () => {
    const base = fresh('parent-link-open');
    fs.mkdirSync(path.join(base, 'open'));
    fs.chmodSync(path.join(base, 'open'), 0o777);
    fs.symlinkSync(path.join(base, 'open'), path.join(base, 'lib'));
    expect(() => writeIdentity(path.join(base, 'lib', 'data'), files('new'), quiet)).toThrow(`${path.join(base, 'open')} (on the path of ${path.join(base, 'lib', 'data')}) has mode 0777`);
    expect(fs.readdirSync(path.join(base, 'open'))).toEqual([]);
  });

  rootOnly('a parent directory owned by another user is refused; so is their link in a sticky directory', () => {
    const parent = fresh('parent-owner');
    fs.chownSync(parent, NOBODY, NOBODY);
    expect(() => writeIdentity(path.join(parent, 'data'), files('new'), quiet)).toThrow(`${parent} (on the path of ${path.join(parent, 'data')}) belongs to uid ${NOBODY}`);

    const sticky = fresh('sticky-link');
    fs.chmodSync(sticky, 0o1777);
    fs.mkdirSync(path.join(sticky, 'mine'), { mode: 0o700 });
    fs.symlinkSync(path.join(sticky, 'mine'), path.join(sticky, 'theirs'));
    fs.lchownSync(path.join(sticky, 'theirs'), NOBODY, NOBODY);
    expect(() => writeIdentity(path.join(sticky, 'theirs', 'data'), files('new'), quiet)).toThrow(`${path.join(sticky, 'theirs')} (on the path of ${path.join(sticky, 'theirs', 'data')}) is a symbolic link owned by uid ${NOBODY}`);
    expect(fs.readdirSync(path.join(sticky, 'mine'))).toEqual([]);
  });

  rootOnly("`..` after another user's link is read as written: nothing is created through the link", () => {
    const sticky = fresh('dotdot-link');
    fs.chmodSync(sticky, 0o1777);
    const theirs = fresh('dotdot-theirs');
    fs.mkdirSync(path.join(theirs, 'target'));
    fs.chownSync(theirs, NOBODY, NOBODY);
    fs.symlinkSync(path.join(theirs, 'target'), path.join(sticky, 'link'));
    fs.lchownSync(path.join(sticky, 'link'), NOBODY, NOBODY);
    // Not path.join: that would take the `..` out before the agent sees it.
    writeIdentity(`${sticky}/link/../data`, files('dotdot'), quiet);
    expect(readIdentity(path.join(sticky, 'data'), quiet)?.host_id).toBe('dotdot');
    expect(fs.readdirSync(theirs)).toEqual(['target']);
  });
});

describe('the files in the data directory', () => {
  async function joined(label: string): Promise<string> {
    const dataDir = path.join(fresh(label), 'data');
    const k = newKeyPair();
    const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'h', notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 3_600_000) });
    writeIdentity(dataDir, { keyPem: k.keyPem, certPem, caPem: ca.certPem, identity: identity('h') }, quiet);
    return dataDir;
  }

  test('a good identity loads', async () => {
    expect(loadHostState(await joined('good'), quiet)?.identity.host_id).toBe('h');
  });

  test('a ca.pem that holds no CA certificate (damaged, or a leaf put in place) is named, with what to do', async () => {
    const dataDir = await joined('bundle');
    const file = path.join(dataDir, 'ca.pem');
    const leaf = fs.readFileSync(path.join(dataDir, 'cert.pem'), 'utf8');
    const cases: [string, string][] = [
      ['junk\n', 'no certificate'],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'a certificate that cannot be read'],
      [ca.certPem + leaf, 'a certificate that is not a CA'],
    ];
    for (const [content, why] of cases) {
      fs.writeFileSync(file, content);
      expect(() => loadHostState(dataDir, quiet)).toThrow(`${file} holds ${why}`);
    }
    fs.writeFileSync(file, ca.certPem);
    expect(() => loadHostState(dataDir, quiet)).not.toThrow();
  });

  test.each(octal([0o644, 0o640, 0o604]))('key.pem with mode %s is refused as OpenSSH refuses an unprotected key', async (_, mode) => {
    const dataDir = await joined('key-mode');
    const key = path.join(dataDir, 'key.pem');
    fs.chmodSync(key, mode);
    expect(() => loadHostState(dataDir, quiet)).toThrow(`UNPROTECTED PRIVATE KEY FILE: ${key} has mode 0${mode.toString(8)}, readable by others; run chmod 600 ${key}`);
    expect(fs.statSync(key).mode & 0o777).toBe(mode);
  });

  test.each([
    ['cert.pem', '0666'],
    ['ca.pem', '0664'],
    ['identity.json', '0646'],
  ])('%s with mode %s (others could have altered it) is refused', async (name, mode) => {
    const dataDir = await joined('file-mode');
    fs.chmodSync(path.join(dataDir, name), parseInt(mode, 8));
    expect(() => loadHostState(dataDir, quiet)).toThrow(`${path.join(dataDir, name)} has mode ${mode}: group or others could have altered it`);
  });

  test.each(['key.pem', 'cert.pem', 'identity.json'])('%s with a second name elsewhere (a hard link) is refused', async (name) => {
    const dataDir = await joined('hard-link');
    fs.linkSync(path.join(dataDir, name), path.join(path.dirname(dataDir), 'elsewhere'));
    expect(() => loadHostState(dataDir, quiet)).toThrow(`${path.join(dataDir, name)} has 2 hard links`);
  });

  test.each(['cert.pem', '.commit'])('%s as a FIFO is refused without blocking on it', async (name) => {
    const dataDir = await joined('fifo');
    fs.rmSync(path.join(dataDir, name), { force: true });
    execFileSync('mkfifo', ['-m', '600', path.join(dataDir, name)]);
    expect(() => loadHostState(dataDir, quiet)).toThrow(`${path.join(dataDir, name)} is a FIFO, not a file the agent wrote: remove it`);
  });

  rootOnly.each(['key.pem', 'ca.pem', '.cert.pem.tmp'])('%s owned by another user is refused', async (name) => {
    const dataDir = await joined('file-owner');
    const file = path.join(dataDir, name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, 'x', { mode: 0o600 });
    fs.chownSync(file, NOBODY, NOBODY);
    expect(() => loadHostState(dataDir, quiet)).toThrow(`${file} belongs to uid ${NOBODY}, not to the agent's user (uid 0)`);
  });

  test('a .commit.tmp left by a crash before the marker was in place is removed (its name was misspelt)', () => {
    const dataDir = path.join(fresh('stale-marker'), 'data');
    writeIdentity(dataDir, files('old'), quiet);
    fs.writeFileSync(path.join(dataDir, '.commit.tmp'), 'key.pem\n', { mode: 0o600 });
    recoverIdentity(dataDir, quiet);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
  });
});

describe('the configuration and CA file', () => {
  const load = (args: string[]) => loadAgentConfig(parseArgs(args, AGENT_FLAGS));
  function config(label: string, mode = 0o600): string {
    const dir = fresh(label);
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(file, `auth_server: a:1\ninsecure: true\njoin_params: {token_name: t}\non_renew: systemctl reload x\n`, { mode });
    fs.chmodSync(file, mode);
    return file;
  }

  test.each(octal([0o600, 0o644, 0o640]))('mode %s: read', (_, mode) => {
    expect(load(['--config', config('cfg-ok', mode)]).onRenew).toBe('systemctl reload x');
  });

  test.each(octal([0o666, 0o664, 0o646, 0o777, 0o620]))('mode %s: refused, with the chmod to run', (_, mode) => {
    const file = config('cfg-mode', mode);
    expect(() => load(['--config', file])).toThrow(`${file} has mode 0${mode.toString(8)}: group or others can write the configuration; run chmod go-w ${file}`);
  });

  rootOnly('owned by another user: refused; owned by root: read', () => {
    const file = config('cfg-owner', 0o644);
    fs.chownSync(file, NOBODY, NOBODY);
    expect(() => load(['--config', file])).toThrow(`${file} belongs to uid ${NOBODY}; the configuration must belong to root or to the agent's user`);
    fs.chownSync(file, 0, 0);
    expect(load(['--config', file]).onRenew).toBe('systemctl reload x');
  });

  test('in a directory others can write: refused, naming the directory', () => {
    const file = config('cfg-dir');
    fs.chmodSync(path.dirname(file), 0o777);
    expect(() => load(['--config', file])).toThrow(`${path.dirname(file)} (on the path of ${file}) has mode 0777`);
  });

  test('a link to a configuration that only root and the agent can change is followed; a link to one others can write is not', () => {
    const file = config('cfg-link');
    const link = path.join(path.dirname(file), 'joinery.yaml');
    fs.symlinkSync(file, link);
    expect(load(['--config', link]).onRenew).toBe('systemctl reload x');
    fs.chmodSync(file, 0o666);
    expect(() => load(['--config', link])).toThrow(`${link} (${file}) has mode 0666`);
  });

  test('a CA file others can write is refused (it decides whom the agent trusts)', () => {
    const file = config('cfg-ca');
    const caFile = path.join(path.dirname(file), 'ca.pem');
    fs.writeFileSync(caFile, ca.certPem, { mode: 0o666 });
    fs.chmodSync(caFile, 0o666);
    expect(() => load(['--config', file, '--no-insecure', '--ca-file', caFile])).toThrow(`${caFile} has mode 0666: group or others can write the CA file; run chmod go-w ${caFile}`);
  });
});

describe('text a planted link carries', () => {
  // The target of a link is whatever its planter wrote: a line break would forge a log line (the
  // journal under systemd), an escape sequence would act on the operator's terminal.
  const HOSTILE = '/x\nerror: forged line\u001b[2J\u009b31m\u202e';
  const SHOWN = '/x\\u{a}error: forged line\\u{1b}[2J\\u{9b}31m\\u{202e}';
  const lineSafe = (message: string) => expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/u);

  test.each(['key.pem', '.commit.tmp'])('a link named %s in the data directory', (name) => {
    const dataDir = path.join(fresh('hostile-target'), 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    fs.symlinkSync(HOSTILE, path.join(dataDir, name));
    let message = '';
    try {
      writeIdentity(dataDir, files('new'), quiet);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`${path.join(dataDir, name)} is a symbolic link (to ${SHOWN})`);
    lineSafe(message);
  });

  test('the data directory itself a link', () => {
    const dataDir = path.join(fresh('hostile-dir-link'), 'data');
    fs.symlinkSync(HOSTILE, dataDir);
    let message = '';
    try {
      writeIdentity(dataDir, files('new'), quiet);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`${dataDir} is a symbolic link (to ${SHOWN})`);
    lineSafe(message);
  });

  test('created anew over a planted link', () => {
    const file = path.join(fresh('hostile-create'), 'unit.tmp');
    fs.symlinkSync(HOSTILE, file);
    expect(() => createOwnFile(file, 'x', 0o644)).toThrow(`${file} already exists as a symbolic link (to ${SHOWN})`);
  });
});

describe("on_renew's program", () => {
  const load = (args: string[]) => loadAgentConfig(parseArgs(args, AGENT_FLAGS));
  const flags = (onRenew: string) => ['--auth-server', 'a:1', '--insecure', '--token', 't', '--on-renew', onRenew];
  function script(label: string, mode: number): string {
    const file = path.join(fresh(label), 'reload.sh');
    fs.writeFileSync(file, '#!/bin/sh\ntouch "$0.ran"\n');
    fs.chmodSync(file, mode);
    return file;
  }
  const ran = (file: string) => fs.existsSync(`${file}.ran`);

  test.each([
    ['/usr/local/bin/reload --now', '/usr/local/bin/reload'],
    ['  FOO=1 BAR=x exec ./reload.sh', './reload.sh'],
    ['systemctl reload nginx', undefined],
    ['"/opt/quoted path"', undefined],
    ['$HOME/reload', undefined],
  ])('the program of %j is %j', (command, program) => {
    expect(onRenewProgram(command)).toBe(program);
  });

  test.each(octal([0o777, 0o775, 0o757]))('a script with mode %s: the configuration is refused, and the agent does not run it', async (_, mode) => {
    const file = script('hook-mode', mode);
    for (const command of [file, `${file} --arg`, `X=1 exec ${file}`]) {
      expect(() => load(flags(command))).toThrow(`flags: on_renew: ${file} has mode 0${mode.toString(8)}: group or others can write the on_renew program; run chmod go-w ${file}`);
      const r = await runOnRenew(command, { event: 'renew', hostId: 'h', dataDir: '/nonexistent' });
      expect(r).toEqual({ ok: false, summary: expect.stringMatching(/^on_renew not run: .* has mode/) });
      expect(ran(file)).toBe(false);
    }
  });

  test('a script in a directory others can write, or reached through such a directory, is refused', async () => {
    const file = script('hook-dir', 0o755);
    fs.chmodSync(path.dirname(file), 0o777);
    expect(() => load(flags(file))).toThrow(`${path.dirname(file)} (on the path of ${file}) has mode 0777`);
    expect((await runOnRenew(file, { event: 'renew', hostId: 'h', dataDir: '/nonexistent' })).ok).toBe(false);
    expect(ran(file)).toBe(false);
  });

  rootOnly('a script owned by another user is refused', async () => {
    const file = script('hook-owner', 0o755);
    fs.chownSync(file, NOBODY, NOBODY);
    expect(() => load(flags(file))).toThrow(`${file} belongs to uid ${NOBODY}; the on_renew program must belong to root or to the agent's user`);
    expect((await runOnRenew(file, { event: 'renew', hostId: 'h', dataDir: '/nonexistent' })).ok).toBe(false);
    expect(ran(file)).toBe(false);
  });

  test('a safe script runs; a program on PATH and one that does not exist are left to the shell', async () => {
    const file = script('hook-ok', 0o755);
    expect(load(flags(`${file} --now`)).onRenew).toBe(`${file} --now`);
    expect(await runOnRenew(file, { event: 'renew', hostId: 'h', dataDir: '/nonexistent' })).toEqual({ ok: true, summary: 'on_renew succeeded' });
    expect(ran(file)).toBe(true);
    expect(load(flags('true')).onRenew).toBe('true');
    expect(load(flags('/nonexistent/reload')).onRenew).toBe('/nonexistent/reload');
  });

  test('a script changed after the agent started is checked again before it runs', async () => {
    const file = script('hook-later', 0o755);
    expect(load(flags(file)).onRenew).toBe(file);
    fs.chmodSync(file, 0o777);
    expect((await runOnRenew(file, { event: 'renew', hostId: 'h', dataDir: '/nonexistent' })).summary).toMatch(/^on_renew not run: /);
    expect(ran(file)).toBe(false);
  });
});
