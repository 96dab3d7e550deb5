// Real Terraform v1.5.7 and OpenTofu v1.6.3 applying the seed document's HCL through the local
// provider against a live Joinery API, checking the API after every step.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenResource } from '../../client/api-client';
import { runCli, startTestServer, type TestServer } from '../support/server';
import { terraformBinary, terraformWorkspace, type RunResult, type TerraformWorkspace } from '../support/terraform';

jest.setTimeout(180_000);

const SEED = fs.readFileSync(path.join(__dirname, 'seed-ec2-token.tf.txt'), 'utf8');

function header(ws: TerraformWorkspace, server: TestServer): string {
  // The admin token comes from JOINERY_ADMIN_TOKEN, as the docs recommend for CI.
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

const IMPORTED = `
resource "teleport_provision_token" "imported" {
  version = "v2"
  metadata = {
    name        = "made-by-cli"
    description = "created with joinery create"
  }
  spec = {
    roles       = ["Node"]
    join_method = "iam"
    allow = [
      { aws_account = "333333333333", aws_arn = "arn:aws:sts::333333333333:assumed-role/ci/*" },
    ]
  }
}
`;

const IMPORTED_YAML = `kind: token
version: v2
metadata:
  name: made-by-cli
  description: created with joinery create
spec:
  roles: [node]
  join_method: iam
  allow:
    - aws_account: "333333333333"
      aws_arn: "arn:aws:sts::333333333333:assumed-role/ci/*"
`;

function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

describe.each(['terraform', 'tofu'] as const)('%s end to end', (name) => {
  let server: TestServer;
  let ws: TerraformWorkspace;
  let hcl: string;
  const api = () => server.client();
  const get = (token: string): Promise<TokenResource | undefined> => api().getToken(token);
  const write = (body: string) => {
    hcl = body;
    ws.writeMain(header(ws, server) + body);
  };
  const planExit = async () => {
    const r = await ws.run(['plan', '-detailed-exitcode']);
    if (r.code === 1) throw new Error(`plan failed\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    const binary = terraformBinary(name);
    server = await startTestServer();
    ws = await terraformWorkspace(binary, { JOINERY_ADMIN_TOKEN: server.adminToken });
    write(SEED);
  });

  afterAll(async () => {
    ws?.cleanup();
    await server?.stop();
  });

  test('init installs the provider from the local mirror', async () => {
    ok(await ws.run(['init']), 'init');
    expect(fs.readFileSync(path.join(ws.dir, '.terraform.lock.hcl'), 'utf8')).toContain(`provider "${ws.source}"`);
  });

  test('plan and apply create the seed token exactly as written', async () => {
    const plan = await planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/teleport_provision_token\.ec2-token will be created/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    const t = await get('ec2-token');
    expect(t).toMatchObject({
      kind: 'token',
      version: 'v2',
      metadata: { name: 'ec2-token', labels: { 'teleport.dev/origin': 'dynamic' } },
      spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }] },
    });
  });

  test('a second plan shows no changes', async () => {
    const plan = await planExit();
    expect(plan.stdout).toMatch(/No changes/);
    expect(plan.code).toBe(0);
  });

  test('adding a region updates the token in place', async () => {
    write(hcl.replace('["us-west-1", "us-west-2"]', '["us-west-1", "us-west-2", "eu-west-1"]'));
    const plan = await planExit();
    expect(plan.stdout).toMatch(/will be updated in-place/);
    expect(plan.stdout).toMatch(/1 to change, 0 to destroy/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect((await get('ec2-token'))?.spec.allow?.[0].aws_regions).toEqual(['us-west-1', 'us-west-2', 'eu-west-1']);
    expect((await planExit()).code).toBe(0);
  });

  test('renaming the token replaces it', async () => {
    write(hcl.replace('name = "ec2-token"', 'name = "ec2-token-renamed"'));
    const plan = await planExit();
    expect(plan.stdout).toMatch(/forces replacement/);
    expect(plan.stdout).toMatch(/1 to add, 0 to change, 1 to destroy/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await get('ec2-token')).toBeUndefined();
    expect((await get('ec2-token-renamed'))?.spec.allow?.[0].aws_regions).toHaveLength(3);
    expect((await planExit()).code).toBe(0);
  });

  test('a token deleted outside Terraform is recreated by the next apply', async () => {
    expect(await api().deleteToken('ec2-token-renamed')).toBe(true);
    const plan = await planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/will be created/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect(await get('ec2-token-renamed')).toBeDefined();
    expect((await planExit()).code).toBe(0);
  });

  test('a token changed outside Terraform is put back', async () => {
    const { status: _status, ...current } = (await get('ec2-token-renamed'))!;
    await api().putToken({ ...current, metadata: { ...current.metadata, revision: undefined }, spec: { ...current.spec, roles: ['Node', 'Proxy'] } });
    const plan = await planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/- +"Proxy"/);
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    expect((await get('ec2-token-renamed'))?.spec.roles).toEqual(['Node']);
  });

  test('invalid values fail the plan with the schema message naming the attribute', async () => {
    const good = hcl;
    ws.writeMain(header(ws, server) + hcl.replace('"111111111111"', '"1234"'));
    const plan = await ws.run(['plan']);
    expect(plan.code).toBe(1);
    // Terraform locates nested-attribute paths only down to the resource, so the detail names the field.
    expect(plan.stderr).toMatch(/spec\.allow\[0\]\.aws_account: must be a 12-digit AWS account ID \(got "1234"\)/);
    expect(plan.stderr).toMatch(/on main\.tf line \d+, in resource "teleport_provision_token" "ec2-token"/);
    write(good);
  });

  test('import adopts a token made with the CLI', async () => {
    const made = await runCli(['create', '-f', '-', '--addr', server.addr, '--ca-file', server.caFile], { input: IMPORTED_YAML, env: { JOINERY_ADMIN_TOKEN: server.adminToken } });
    expect(made.code).toBe(0);
    write(hcl + IMPORTED);
    ok(await ws.run(['import', 'teleport_provision_token.imported', 'made-by-cli']), 'import');
    const plan = await planExit();
    expect(plan.stdout).toMatch(/No changes/);
    expect(plan.code).toBe(0);
    expect((await get('made-by-cli'))?.metadata.description).toBe('created with joinery create');
  });

  test('the data source reads a token by name', async () => {
    const body = hcl;
    ws.writeMain(
      header(ws, server) +
        body +
        `
data "teleport_provision_token" "cli" {
  metadata = { name = "made-by-cli" }
}

output "cli_token" {
  value = "\${data.teleport_provision_token.cli.spec.join_method}:\${data.teleport_provision_token.cli.spec.allow[0].aws_account}:\${data.teleport_provision_token.cli.metadata.labels["teleport.dev/origin"]}"
}
`,
    );
    ok(await ws.run(['apply', '-auto-approve']), 'apply');
    const out = ok(await ws.run(['output', '-raw', 'cli_token']), 'output');
    expect(out.stdout.trim()).toBe('iam:333333333333:dynamic');
    write(body);
  });

  test('values known only after apply (a generated name used by another token) plan and apply', async () => {
    write(
      hcl +
        `
resource "teleport_provision_token" "generated" {
  version = "v2"
  spec    = { roles = ["Node"] }
}

resource "teleport_provision_token" "dependent" {
  version  = "v2"
  metadata = {
    name   = "dependent-token-secret"
    labels = { "generated" = substr(teleport_provision_token.generated.id, 13, 8) }
  }
  spec = { roles = ["Node"] }
}
`,
    );
    const plan = await planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/"generated" = \(known after apply\)/);
    const applied = await ws.run(['apply', '-auto-approve']);
    ok(applied, 'apply');
    const all = await api().listTokens();
    const generated = all.find((t) => t.spec.join_method === 'token' && t.metadata.name !== 'dependent-token-secret')!;
    // The secret name appears nowhere Terraform prints: not in apply, not in a refreshing plan.
    const refreshed = await ws.run(['plan']);
    expect(applied.stdout + applied.stderr + refreshed.stdout + refreshed.stderr).not.toContain(generated.metadata.name);
    expect(refreshed.stdout).toMatch(/Refreshing state\.\.\. \[id=token-sha256-[0-9a-f]{16}\]/);
    expect(generated.metadata.name).toMatch(/^[0-9a-f]{32}$/);
    // The ID of a token-method token is a digest of its secret name (token-sha256-<16 hex>), never the name.
    const digest = createHash('sha256').update(generated.metadata.name).digest('hex');
    expect((await get('dependent-token-secret'))?.metadata.labels?.generated).toBe(digest.slice(0, 8));
    expect((await planExit()).code).toBe(0);
  });

  test('a wrong admin token is one clear error, not a stack trace', async () => {
    const r = await ws.run(['plan'], { env: { JOINERY_ADMIN_TOKEN: 'not-the-admin-token-0000' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Error: The Joinery API rejected the admin token/);
    expect(r.stderr).not.toMatch(/rpc error|goroutine|\.js:\d+/);
  });

  test('destroy deletes every token it manages', async () => {
    ok(await ws.run(['destroy', '-auto-approve']), 'destroy');
    expect(await get('ec2-token-renamed')).toBeUndefined();
    expect(await get('made-by-cli')).toBeUndefined();
    expect(await api().listTokens()).toEqual([]);
  });
});

describe.each(['terraform', 'tofu'] as const)('`joinery provider install` for %s', (name) => {
  test('puts the provider where init finds it with no CLI configuration and no registry', async () => {
    const ws = await terraformWorkspace(terraformBinary(name), {}, { impliedMirror: true });
    try {
      const installed = await runCli(['provider', 'install'], { env: { HOME: ws.home, XDG_DATA_HOME: '' } });
      expect(installed.code).toBe(0);
      expect(installed.stdout).toContain(`${ws.home}/.terraform.d/plugins/joinery.local/joinery/teleport/`);
      expect(installed.stdout).toContain(`${ws.home}/.local/share/terraform/plugins/joinery.local/joinery/teleport/`);
      // The printed block is the configuration to use, as is.
      const block = installed.stdout.slice(installed.stdout.indexOf('terraform {'));
      ws.writeMain(`${block}\nprovider "teleport" {}\n\nresource "teleport_provision_token" "t" {\n  version = "v2"\n  spec    = { roles = ["Node"] }\n}\n`);
      ok(await ws.run(['init']), 'init');
      const v = ok(await ws.run(['validate']), 'validate');
      expect(v.stdout).toMatch(/configuration is valid/);
    } finally {
      ws.cleanup();
    }
  });
});
