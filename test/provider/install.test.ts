// `joinery provider install`: the mirror layout Terraform expects and a launcher that works.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPluginDirs, installProvider, platformDir } from '../../cli/provider-install';
import { providerSchemaJson } from '../../provider/schema-json';

describe('installProvider', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-install-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes an executable launcher at HOST/NAMESPACE/TYPE/VERSION/OS_ARCH', async () => {
    const r = await installProvider({ pluginDir: dir, zip: false });
    expect(r.source).toBe('joinery.local/joinery/teleport');
    expect(r.paths).toEqual([path.join(dir, 'joinery.local', 'joinery', 'teleport', r.version, platformDir(), `terraform-provider-teleport_v${r.version}`)]);
    expect(fs.statSync(r.paths[0]).mode & 0o111).toBeTruthy();
    expect(fs.readFileSync(r.paths[0], 'utf8')).toMatch(/^#!\/bin\/sh\n[\s\S]*\nexec /);
    expect(r.requiredProvidersBlock).toContain('source  = "joinery.local/joinery/teleport"');
    expect(r.requiredProvidersBlock).toContain(`version = "${r.version}"`);

    // The launcher runs the built provider, wherever Terraform copies it.
    const copy = path.join(dir, 'copied-elsewhere');
    fs.copyFileSync(r.paths[0], copy);
    fs.chmodSync(copy, 0o755);
    expect(JSON.parse(execFileSync(copy, ['schema-json'], { encoding: 'utf8' }))).toEqual(providerSchemaJson());
  });

  test('installing again replaces the launcher', async () => {
    const a = await installProvider({ pluginDir: dir, zip: false });
    fs.writeFileSync(a.paths[0], 'stale');
    const b = await installProvider({ pluginDir: dir, zip: false });
    expect(fs.readFileSync(b.paths[0], 'utf8')).toMatch(/^#!\/bin\/sh/);
  });

  test('the default directories are the implied local mirrors of Terraform and OpenTofu', () => {
    expect(defaultPluginDirs({ HOME: '/h' })).toEqual(['/h/.terraform.d/plugins', '/h/.local/share/terraform/plugins']);
    expect(defaultPluginDirs({ HOME: '/h', XDG_DATA_HOME: '/x' })).toEqual(['/h/.terraform.d/plugins', '/x/terraform/plugins']);
    expect(platformDir('linux', 'x64')).toBe('linux_amd64');
    expect(platformDir('darwin', 'arm64')).toBe('darwin_arm64');
  });
});

describe('schema-json', () => {
  test('has the shape of `terraform providers schema -json`', () => {
    const s = providerSchemaJson() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const p = s.provider_schemas['joinery.local/joinery/teleport'];
    expect(s.format_version).toBe('1.0');
    expect(p.provider.block.attributes.admin_token).toMatchObject({ type: 'string', optional: true, sensitive: true });
    const r = p.resource_schemas.teleport_provision_token.block.attributes;
    expect(r.metadata.nested_type.nesting_mode).toBe('single');
    expect(r.spec.nested_type.attributes.allow.nested_type.nesting_mode).toBe('list');
    expect(r.spec.nested_type.attributes.allow.nested_type.attributes.aws_regions.type).toEqual(['list', 'string']);
    expect(p.data_source_schemas.teleport_provision_token.block.attributes.metadata.required).toBe(true);
  });
});
