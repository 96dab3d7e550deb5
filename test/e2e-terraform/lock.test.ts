// teleport_lock through real Terraform and OpenTofu (newest and oldest release of each) against a
// live Joinery API: a lock applied from code refuses the join it names (a token-method join with
// the locked token), the second plan is clean, the end moves in place, a lock removed outside
// Terraform is planned back, import adopts one without replacing it, and destroy lets the host in.

import { generateKeyPairSync } from 'node:crypto';
import { ApiError } from '../../client/api-client';
import { startTestServer, type TestServer } from '../support/server';
import { providerHeader, terraformBinary, terraformWorkspace, TOOL_VERSIONS, type RunResult, type TerraformTool, type TerraformWorkspace } from '../support/terraform';

jest.setTimeout(180_000);

const SECRET = 'tf-e2e-lock-secret-0123456789abcdef';

function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

/** Terraform wraps diagnostic text at 80 columns: compare it as one line. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ');
const hoursAhead = (h: number) => new Date(Date.now() + h * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function lockHcl(attrs: { message: string; expires: string }): string {
  return `
resource "teleport_lock" "incident" {
  token   = "${SECRET}"
  message = "${attrs.message}"
  expires = "${attrs.expires}"
}
`;
}

describe.each([
  ['terraform', TOOL_VERSIONS.newest.terraform],
  ['tofu', TOOL_VERSIONS.newest.tofu],
  ['terraform', TOOL_VERSIONS.oldest.terraform],
  ['tofu', TOOL_VERSIONS.oldest.tofu],
] as [TerraformTool, string][])('teleport_lock with %s %s', (name, version) => {
  let server: TestServer;
  let ws: TerraformWorkspace;
  const expires = hoursAhead(24);

  const write = (body: string) => ws.writeMain(providerHeader(ws, server) + body);
  const planExit = async () => {
    const r = await ws.run(['plan', '-detailed-exitcode']);
    if (r.code === 1) throw new Error(`plan failed\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  /** A token-method join with the locked token: the code it is refused with, or 'admitted'. */
  const join = async (): Promise<string> => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    try {
      await server.client().request('POST', '/v1/join/token', { token_name: SECRET, role: 'Node', public_key: key });
      return 'admitted';
    } catch (e) {
      if (e instanceof ApiError) return `${e.code}: ${e.message}`;
      throw e;
    }
  };
  const lockIds = async () => {
    const ids: string[] = [];
    for await (const page of server.client().lockPages()) ids.push(...page.map((l) => l.id));
    return ids;
  };
  const stateId = async () => /\bid\s+=\s+"([^"]+)"/.exec(ok(await ws.run(['state', 'show', 'teleport_lock.incident']), 'state show').stdout)?.[1];

  beforeAll(async () => {
    server = await startTestServer();
    ws = await terraformWorkspace(terraformBinary(name, version), { JOINERY_ADMIN_TOKEN: server.adminToken });
    await server.client().createToken({ version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'], join_method: 'token' } });
  });
  afterAll(async () => {
    ws?.cleanup();
    await server?.stop();
  });

  test('an expires that has passed fails the plan on expires, before any API call', async () => {
    write(lockHcl({ message: 'incident 7', expires: '2020-01-01T00:00:00Z' }));
    ok(await ws.run(['init']), 'init');
    const plan = await ws.run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Error: Lock would end before it starts/);
    expect(oneLine(plan.stderr)).toMatch(/expires \(2020-01-01T00:00:00Z\) has already passed/);
    expect(plan.stderr).toMatch(/in resource "teleport_lock" "incident"/);
    expect(await lockIds()).toEqual([]);
  });

  test('two targets are an error on the second one', async () => {
    write(`resource "teleport_lock" "two" {\n  host_id = "h"\n  account = "111122223333"\n}\n`);
    const plan = await ws.run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Error: Conflicting lock targets/);
    expect(plan.stderr).toMatch(/account = "111122223333"/); // Terraform quotes the attribute's line
  });

  test('apply locks: the join with the locked token is refused `locked` with the message; the second plan is clean', async () => {
    expect(await join()).toBe('admitted');
    write(lockHcl({ message: 'incident 7', expires }));
    const plan = await planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/teleport_lock\.incident will be created/);
    expect(plan.stdout).not.toContain(SECRET); // a sensitive attribute
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await join()).toBe('locked: locked: incident 7');
    const again = await planExit();
    expect(again.stdout).toMatch(/No changes/);
    expect(again.code).toBe(0);
  });

  test('a new message and a later end change the lock in place', async () => {
    const id = await stateId();
    write(lockHcl({ message: 'incident 7: extended', expires: hoursAhead(48) }));
    const plan = await planExit();
    expect(plan.stdout).toMatch(/will be updated in-place/);
    expect(plan.stdout).toMatch(/0 to add, 1 to change, 0 to destroy/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await lockIds()).toEqual([id]);
    expect(await join()).toBe('locked: locked: incident 7: extended');
    expect((await planExit()).code).toBe(0);
  });

  test('a lock removed outside Terraform is planned back', async () => {
    const [id] = await lockIds();
    await server.client().deleteLock(id);
    expect(await join()).toBe('admitted');
    const plan = await planExit();
    expect(plan.stdout).toMatch(/teleport_lock\.incident will be created/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await join()).toMatch(/^locked: /);
    expect((await planExit()).code).toBe(0);
  });

  test('import adopts a lock by ID without replacing it (the secret name matched by its digest)', async () => {
    const [id] = await lockIds();
    ok(await ws.run(['state', 'rm', 'teleport_lock.incident']), 'state rm');
    ok(await ws.run(['import', 'teleport_lock.incident', id]), 'import');
    const plan = await planExit();
    // The state holds the masked name the server shows; the plan puts the configured one there.
    expect(plan.stdout).not.toMatch(/forces replacement|must be replaced/);
    expect(plan.stdout).toMatch(/0 to add, 1 to change, 0 to destroy/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await lockIds()).toEqual([id]);
    expect((await planExit()).code).toBe(0);
  });

  test('destroy removes the lock: the join is admitted', async () => {
    ok(await ws.run(['destroy', '-auto-approve']), 'destroy');
    expect(await lockIds()).toEqual([]);
    expect(await join()).toBe('admitted');
  });
});
