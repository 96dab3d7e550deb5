// A SoftHSM2 token in a temporary directory for a test file. The module reads SOFTHSM2_CONF from
// the real environment, which a test cannot change (jest gives it a copy), so the global setup
// names a per-run path and this writes the configuration there; softhsm2-util makes the token and pkcs11-tool (OpenSC) an EC
// P-256 key pair on it, private key sensitive and not extractable. scripts/install-test-deps.sh
// installs both (Debian packages softhsm2 and opensc).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE || ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => fs.existsSync(p)) || '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  pinFile: string;
  pin: string;
  uri(path: string): string;
  addKey(opts: { label: string; idHex: string; curve?: string; token?: string }): void;
  addToken(label: string): void;
  remove(): void;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is missing; run scripts/install-test-deps.sh (apt-get install softhsm2 opensc)`, { cause: err });
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

export function createSoftHsm(token = 'joinery'): SoftHsm {
  if (!fs.existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE} missing); run scripts/install-test-deps.sh`);
  const conf = process.env.SOFTHSM2_CONF;
  if (!conf?.includes(`${path.sep}joinery-test-softhsm-`)) throw new Error('SOFTHSM2_CONF is not the test run\'s own (test/support/global-setup.js sets it): run the suite through jest');
  const dir = path.dirname(conf);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(conf, `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const pin = '246810';
  const pinFile = path.join(dir, 'pin');
  fs.writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const addToken = (label: string) => void run('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '13579'], env);
  addToken(token);
  return {
    dir,
    pin,
    pinFile,
    uri: (p) => `pkcs11:${p}?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}`,
    addToken,
    addKey: ({ label, idHex, curve = 'prime256v1', token: t = token }) =>
      void run('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', t, '--login', '--pin', pin, '--keypairgen', '--key-type', `EC:${curve}`, '--label', label, '--id', idHex], env),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
