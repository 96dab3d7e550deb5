// `joinery provider install`: the mirror layout Terraform expects and a launcher that works.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultPluginDirs, installProvider, platformDir, releaseZipName } from '../../cli/provider-install';
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

  test('a release zip is installed as is (packed layout), replacing a launcher of the same version', async () => {
    const launcher = await installProvider({ pluginDir: dir, zip: false });
    const releaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-release-'));
    try {
      const zip = path.join(releaseDir, releaseZipName(launcher.version));
      fs.writeFileSync(zip, 'zip bytes');
      const r = await installProvider({ pluginDir: dir, zip });
      expect(r.from).toBe('release');
      expect(r.paths).toEqual([path.join(dir, 'joinery.local', 'joinery', 'teleport', `terraform-provider-teleport_${r.version}_${platformDir()}.zip`)]);
      expect(fs.readFileSync(r.paths[0], 'utf8')).toBe('zip bytes');
      // One package per version in a mirror: the launcher's directory is gone.
      expect(fs.existsSync(path.dirname(launcher.paths[0]))).toBe(false);

      // Back to the checkout's launcher: the packed zip goes.
      const again = await installProvider({ pluginDir: dir, zip: false });
      expect(again.from).toBe('checkout');
      expect(fs.existsSync(r.paths[0])).toBe(false);
    } finally {
      fs.rmSync(releaseDir, { recursive: true, force: true });
    }
  });

  test('a release zip is checked against the SHA256SUMS beside it, before anything is installed', async () => {
    const releaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-release-'));
    try {
      const version = (await installProvider({ pluginDir: path.join(dir, 'probe'), zip: false })).version;
      const zip = path.join(releaseDir, releaseZipName(version));
      fs.writeFileSync(zip, 'zip bytes');
      const sums = path.join(releaseDir, `terraform-provider-teleport_${version}_SHA256SUMS`);
      fs.writeFileSync(sums, `${createHash('sha256').update('other bytes').digest('hex')}  ${path.basename(zip)}\n`);
      await expect(installProvider({ pluginDir: path.join(dir, 'm'), zip })).rejects.toThrow(/does not match .*SHA256SUMS/);
      expect(fs.existsSync(path.join(dir, 'm'))).toBe(false);

      fs.writeFileSync(sums, `${createHash('sha256').update('zip bytes').digest('hex')}  ${path.basename(zip)}\n`);
      expect((await installProvider({ pluginDir: path.join(dir, 'm'), zip })).from).toBe('release');
      // JOINERY_PROVIDER_ZIP names the zip when none is given.
      expect((await installProvider({ pluginDir: path.join(dir, 'n'), env: { JOINERY_PROVIDER_ZIP: zip } })).zip).toBe(zip);
    } finally {
      fs.rmSync(releaseDir, { recursive: true, force: true });
    }
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
    const s = providerSchemaJson() as any;
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
