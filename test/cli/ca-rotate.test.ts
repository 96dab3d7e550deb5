// `joinery ca rotate` and `joinery status` as an operator runs them on the server's machine
// (the CLI trusts <data-dir>/ca.crt, which the server rewrites at every change): hostile flags get
// one line and exit 1 and change nothing; the runbook of docs/ca.md works as written, through a
// rollback, with `status` showing the phase and both pins.

import * as path from 'node:path';
import { runCli, startTestServer, type TestServer } from '../support/server';

jest.setTimeout(90_000);

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await startTestServer({ env: { JOINERY_HOST_CERT_TTL_SECONDS: '60' } });
  env = { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_DATA_DIR: server.dataDir };
});
afterAll(() => server?.stop());

const cli = (...args: string[]) => runCli(args, { env });

test('hostile flags: one line on stderr, exit 1, nothing changed', async () => {
  const cases: [string[], RegExp][] = [
    [['--grace', '0'], /grace "0" is not a duration.*\[grace\] \(400 invalid_request\)/],
    [['--grace', '-5'], /grace "-5" is not a duration/],
    [['--grace', 'soon'], /is not a duration/],
    [['--grace', '1.5h'], /is not a duration/],
    [['--grace', '30s'], /shorter than a host certificate lifetime \(1m\)/],
    [['--grace', '100000000d'], /longer than 732d/],
    [['--grace', '99999999999d'], /is too long/],
    [['--manual', '--grace', '1h'], /give one or the other \[grace\]/],
    [['--phase', 'everything'], /phase must be one of/],
    [['--phase', 'standby'], /no rotation is in progress \(phase standby\).*\(409 invalid_phase_transition\)/],
    [['--rollback'], /no rotation is in progress/],
    [['--phase', 'rollback', '--rollback'], /give phase or rollback, not both/],
    [['--new-key', 'vault:x'], /unknown CA key kind "vault".*\(400 invalid_new_key\)/],
    [['--new-key', 'file:relative.key'], /needs an absolute path/],
    [['--new-key', 'file:/nonexistent/ca.key'], /cannot read the CA key \/nonexistent\/ca.key/],
    [['--new-key', `file:${path.join(server.dataDir, 'ca.key')}`], /is the key of a CA the cluster trusts now/],
    [['--new-key', 'pkcs11:object=ca?module-path=/nonexistent.so&pin-source=file:/etc/hostname&pin-source=file:/x'], /"pin-source" appears twice/],
    // A library the operator has not allowed is never loaded (loading one runs its code).
    [['--new-key', 'pkcs11:object=ca?module-path=/etc/hostname&pin-source=file:/nonexistent'], /module-path \/etc\/hostname is not a PKCS#11 library this server may load; the operator lists it in JOINERY_PKCS11_MODULES/],
  ];
  for (const [args, message] of cases) {
    const r = await cli('ca', 'rotate', ...args);
    expect([args.join(' '), r.code, r.stdout]).toEqual([args.join(' '), 1, '']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  }
  expect((await cli('status')).stdout).toMatch(/^CA rotation {2}standby$/m);
});

test("docs/ca.md's manual runbook with a rollback, as written", async () => {
  const oldPin = server.caPin;
  const init = await cli('ca', 'rotate', '--manual');
  expect(init.code).toBe(0);
  expect(init.stdout).toMatch(/^CA rotation {2}init \(manual, since /m);
  // Where each key is, for the replicas on key files.
  expect(init.stdout).toContain(`key: file ${path.join(server.dataDir, 'ca.key')}`);
  expect(init.stdout).toMatch(new RegExp(`key: file ${server.dataDir}/ca-\\d+-[0-9a-f]{8}\\.key`));
  const newPin = /^ {2}next {5}(sha256:[0-9a-f]{64})/m.exec(init.stdout)![1];

  const status = await cli('status');
  expect(status.stdout).toMatch(new RegExp(`^  current  ${oldPin}  signs host_certificates, server_certificate$`, 'm'));
  expect(status.stdout).toMatch(new RegExp(`^  next     ${newPin}  trusted, signs nothing$`, 'm'));

  expect((await cli('ca', 'rotate', '--phase', 'update_clients')).code).toBe(0);
  expect((await cli('ca', 'rotate', '--phase', 'update_servers')).code).toBe(0);
  // The server's TLS certificate is the new CA's now: the CLI follows through ca.crt.
  expect((await cli('status')).stdout).toMatch(new RegExp(`^CA pin +${newPin}$`, 'm'));
  // A remote admin who pinned the old CA hears which CA the server presents, and why.
  const pinned = await runCli(['status', '--ca-pin', oldPin], { env: { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr } });
  expect(pinned.code).toBe(1);
  expect(pinned.stderr).toContain(`does not present a CA matching ${oldPin} (it presents ${newPin})`);
  expect(pinned.stderr).toMatch(/the server presents the new CA from phase update_servers on: GET \/v1\/ca lists every CA the cluster trusts/);
  const back = await cli('ca', 'rotate', '--rollback');
  expect([back.code, /^CA rotation {2}rollback/m.test(back.stdout)]).toEqual([0, true]);
  expect((await cli('ca', 'rotate', '--phase', 'update_clients')).stderr).toMatch(/in phase rollback; it can move to standby, not update_clients/);
  expect((await cli('ca', 'rotate', '--phase', 'standby')).code).toBe(0);
  const done = await cli('status');
  expect(done.stdout).toMatch(new RegExp(`^CA pin +${oldPin}$`, 'm'));
  expect(done.stdout).toMatch(/^CA rotation {2}standby$/m);
  expect(done.stdout).not.toContain(newPin);
});
