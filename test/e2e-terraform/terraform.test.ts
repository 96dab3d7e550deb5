// Real Terraform and OpenTofu applying the seed document's HCL through the local provider against a
// live Joinery API, checking the API after every step: every suite on the newest release of each
// (scripts/terraform-releases), the provider-protocol essentials on the oldest.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenResource } from '../../client/api-client';
import { providerSchemaJson } from '../../provider/schema-json';
import { runCli, startTestServer, type TestServer } from '../support/server';
import { providerHeader, terraformBinary, terraformWorkspace, TOOL_VERSIONS, type RunResult, type TerraformTool, type TerraformWorkspace } from '../support/terraform';

jest.setTimeout(180_000);

const SEED = fs.readFileSync(path.join(__dirname, 'seed-ec2-token.tf.txt'), 'utf8');

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

describe.each(['terraform', 'tofu'] as const)('%s (newest) end to end', (name) => {
  let server: TestServer;
  let ws: TerraformWorkspace;
  let hcl: string;
  const api = () => server.client();
  const get = (token: string): Promise<TokenResource | undefined> => api().getToken(token);
  const write = (body: string) => {
    hcl = body;
    ws.writeMain(providerHeader(ws, server) + body);
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
    // Recorded as Terraform's (the console says so), beside the origin the seed writes.
    expect(t?.metadata.labels).toEqual({ 'teleport.dev/origin': 'dynamic', 'joinery.dev/managed-by': 'terraform' });
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
    ws.writeMain(providerHeader(ws, server) + hcl.replace('"111111111111"', '"1234"'));
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
      providerHeader(ws, server) +
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

describe.each(['terraform', 'tofu'] as const)('`joinery provider install` for %s (newest)', (name) => {
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

/** A workspace on one release with a live server of its own, torn down after the describe. */
function liveWorkspace(name: TerraformTool, version: string) {
  const ctx = {} as { server: TestServer; ws: TerraformWorkspace; write(body: string): void; planExit(): Promise<RunResult> };
  beforeAll(async () => {
    ctx.server = await startTestServer();
    ctx.ws = await terraformWorkspace(terraformBinary(name, version), { JOINERY_ADMIN_TOKEN: ctx.server.adminToken });
    expect(ok(await ctx.ws.run(['version']), 'version').stdout).toContain(`v${version}`);
  });
  afterAll(async () => {
    ctx.ws?.cleanup();
    await ctx.server?.stop();
  });
  ctx.write = (body) => ctx.ws.writeMain(providerHeader(ctx.ws, ctx.server) + body);
  ctx.planExit = async () => {
    const r = await ctx.ws.run(['plan', '-detailed-exitcode']);
    if (r.code === 1) throw new Error(`plan failed\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  return ctx;
}

describe.each([
  ['terraform', TOOL_VERSIONS.oldest.terraform],
  ['tofu', TOOL_VERSIONS.oldest.tofu],
] as const)('provider protocol on the oldest release: %s %s', (name, version) => {
  const t = liveWorkspace(name, version);

  test('init, apply, a clean second plan, import and destroy of the seed HCL', async () => {
    t.write(SEED);
    ok(await t.ws.run(['init']), 'init');
    ok(await t.ws.run(['apply', '-auto-approve']), 'apply');
    expect((await t.server.client().getToken('ec2-token'))?.spec.allow?.[0].aws_regions).toEqual(['us-west-1', 'us-west-2']);
    expect((await t.planExit()).code).toBe(0);
    await t.server.client().createToken({ version: 'v2', metadata: { name: 'made-by-cli', description: 'created with joinery create' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/ci/*' }] } });
    t.write(SEED + IMPORTED);
    ok(await t.ws.run(['import', 'teleport_provision_token.imported', 'made-by-cli']), 'import');
    expect((await t.planExit()).code).toBe(0);
    ok(await t.ws.run(['destroy', '-auto-approve']), 'destroy');
    expect(await t.server.client().listTokens()).toEqual([]);
  });
});

const EXPIRED_YAML = (expires: string) => `kind: token
version: v2
metadata:
  name: expired-token
  expires: "${expires}"
spec:
  roles: [Node]
  join_method: iam
  allow:
    - aws_account: "444444444444"
`;

const expiringResource = (expires: string, name = 'expired-token') => `
resource "teleport_provision_token" "expiring" {
  version  = "v2"
  metadata = {
    name    = "${name}"
    expires = "${expires}"
  }
  spec = {
    roles       = ["Node"]
    join_method = "iam"
    allow       = [{ aws_account = "444444444444" }]
  }
}
`;

/** Terraform wraps diagnostic text at 80 columns: compare it as one line. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

describe.each(['terraform', 'tofu'] as const)('expired tokens in code, %s (newest)', (name) => {
  const t = liveWorkspace(name, TOOL_VERSIONS.newest[name]);

  test('creating a token whose expires has passed fails the plan on metadata.expires, before any API call', async () => {
    t.write(expiringResource('2020-01-01T00:00:00Z'));
    ok(await t.ws.run(['init']), 'init');
    const plan = await t.ws.run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Error: Token would be created expired/);
    expect(oneLine(plan.stderr)).toMatch(/metadata\.expires \(2020-01-01T00:00:00Z\) has already passed, so no host could ever join with this token/);
    expect(plan.stderr).toMatch(/in resource "teleport_provision_token" "expiring"/);
    expect(await t.server.client().listTokens()).toEqual([]);
  });

  test('a managed token that has expired plans clean with a warning saying what to do', async () => {
    // The token expired while Terraform managed it: made with the CLI, then imported.
    const made = await runCli(['create', '-f', '-', '--addr', t.server.addr, '--ca-file', t.server.caFile], { input: EXPIRED_YAML('2021-06-01T12:00:00Z'), env: { JOINERY_ADMIN_TOKEN: t.server.adminToken } });
    expect(made.code).toBe(0);
    t.write(expiringResource('2021-06-01T12:00:00Z'));
    ok(await t.ws.run(['import', 'teleport_provision_token.expiring', 'expired-token']), 'import');
    const plan = await t.planExit();
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/No changes/);
    const out = oneLine(plan.stdout + plan.stderr);
    expect(out).toMatch(/Warning: Token has expired/);
    expect(out).toMatch(/Token "expired-token" expired at 2021-06-01T12:00:00Z: hosts can no longer join with it/);
    expect(out).toMatch(/set metadata\.expires to a later time/);
  });

  test('extending expires is an in-place update, and the warning goes away', async () => {
    t.write(expiringResource('2099-01-01T00:00:00Z'));
    const plan = await t.planExit();
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/will be updated in-place/);
    expect(plan.stdout + plan.stderr).not.toMatch(/Warning/);
    ok(await t.ws.run(['apply', '-auto-approve']), 'apply');
    expect((await t.server.client().getToken('expired-token'))?.metadata.expires).toBe('2099-01-01T00:00:00Z');
    expect((await t.planExit()).code).toBe(0);
    ok(await t.ws.run(['destroy', '-auto-approve']), 'destroy');
  });
});

describe(`Terraform ${TOOL_VERSIONS.newest.terraform}: resource identity`, () => {
  const t = liveWorkspace('terraform', TOOL_VERSIONS.newest.terraform);
  const IDENTITY_YAML = IMPORTED_YAML.replace('name: made-by-cli', 'name: by-identity');

  test('an import block with identity adopts a token, and the second plan is clean', async () => {
    const made = await runCli(['create', '-f', '-', '--addr', t.server.addr, '--ca-file', t.server.caFile], { input: IDENTITY_YAML, env: { JOINERY_ADMIN_TOKEN: t.server.adminToken } });
    expect(made.code).toBe(0);
    const before = await t.server.client().getToken('by-identity');
    t.write(`import {
  to       = teleport_provision_token.imported
  identity = { name = "by-identity" }
}
${IMPORTED.replace('"made-by-cli"', '"by-identity"')}`);
    ok(await t.ws.run(['init']), 'init');
    const plan = await t.planExit();
    expect(plan.stdout).toMatch(/teleport_provision_token\.imported will be imported/);
    expect(plan.stdout).toMatch(/1 to import, 0 to add, 0 to change, 0 to destroy/);
    ok(await t.ws.run(['apply', '-auto-approve']), 'apply');
    const second = await t.planExit();
    expect(second.stdout).toMatch(/No changes/);
    expect(second.code).toBe(0);
    // Adopted, not rewritten; the state holds the identity Terraform matches on.
    expect((await t.server.client().getToken('by-identity'))?.metadata.revision).toBe(before?.metadata.revision);
    const shown = JSON.parse(ok(await t.ws.run(['show', '-json']), 'show').stdout);
    const res = shown.values.root_module.resources.find((r: { address: string }) => r.address === 'teleport_provision_token.imported');
    expect(res.identity).toEqual({ name: 'by-identity' });
    expect(res.identity_schema_version).toBe(0);
  });

  test('`providers schema -json` shows the identity schema exactly as `terraform-provider-teleport schema-json` does', async () => {
    t.write(SEED);
    ok(await t.ws.run(['init']), 'init');
    const shown = JSON.parse(ok(await t.ws.run(['providers', 'schema', '-json']), 'providers schema').stdout);
    const ours = (providerSchemaJson(t.ws.source) as any).provider_schemas[t.ws.source];
    expect(shown.provider_schemas[t.ws.source].resource_identity_schemas).toEqual(ours.resource_identity_schemas);
  });

  test('an identity naming no token is one clear error', async () => {
    t.write(`import {
  to       = teleport_provision_token.missing
  identity = { name = "no-such-token" }
}
${IMPORTED.replace('"made-by-cli"', '"no-such-token"').replace('"imported"', '"missing"')}`);
    const plan = await t.ws.run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Cannot import non-existent remote object/);
  });

  test('-generate-config-out writes the configuration of a token an import block names', async () => {
    const made = await runCli(['create', '-f', '-', '--addr', t.server.addr, '--ca-file', t.server.caFile], { input: IMPORTED_YAML.replace('name: made-by-cli', 'name: generated-config'), env: { JOINERY_ADMIN_TOKEN: t.server.adminToken } });
    expect(made.code).toBe(0);
    t.write(`import {
  to       = teleport_provision_token.generated
  identity = { name = "generated-config" }
}
`);
    ok(await t.ws.run(['init']), 'init');
    const plan = ok(await t.ws.run(['plan', '-generate-config-out=generated.tf']), 'plan -generate-config-out');
    expect(plan.stdout).toMatch(/teleport_provision_token\.generated will be imported\n\s+# \(config will be generated\)/);
    const file = path.join(t.ws.dir, 'generated.tf');
    const generated = fs.readFileSync(file, 'utf8');
    expect(generated).toMatch(/resource "teleport_provision_token" "generated" \{/);
    expect(generated).toMatch(/join_method\s+= "iam"/);
    expect(generated).toMatch(/aws_arn\s+= "arn:aws:sts::333333333333:assumed-role\/ci\/\*"/);
    // Terraform leaves sensitive attributes out; the token keeps its name from the state.
    expect(generated).toMatch(/name\s+= null # sensitive/);
    const before = await t.server.client().getToken('generated-config');
    ok(await t.ws.run(['apply', '-auto-approve']), 'apply');
    const second = await t.planExit();
    expect(second.stdout).toMatch(/No changes/);
    expect(second.code).toBe(0);
    expect((await t.server.client().getToken('generated-config'))?.metadata.revision).toBe(before?.metadata.revision);
    fs.rmSync(file); // the next apply deletes the token
  });

  test('tokens created by Terraform get an identity, and destroy deletes them', async () => {
    t.write(SEED);
    ok(await t.ws.run(['apply', '-auto-approve']), 'apply');
    const shown = JSON.parse(ok(await t.ws.run(['show', '-json']), 'show').stdout);
    expect(shown.values.root_module.resources.map((r: { identity?: unknown }) => r.identity)).toEqual([{ name: 'ec2-token' }]);
    expect((await t.planExit()).code).toBe(0);
    ok(await t.ws.run(['destroy', '-auto-approve']), 'destroy');
    expect(await t.server.client().listTokens()).toEqual([]);
  });
});
