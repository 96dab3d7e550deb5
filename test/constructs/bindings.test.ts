// The L1 bindings must match the provider's schema exactly: they are regenerated here from
// providerSchemaJson() and compared with the committed files, and a synthesized resource using
// every argument is checked attribute by attribute against the schema.
import { promises as fs } from 'fs';
import * as path from 'path';
import { Testing } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest'; // the matchers' types
import { BINDING_FILES, committedBindingsDir, generateBindings } from '../../constructs/generate-bindings';
import { DataTeleportProvisionToken, Lock, ProvisionToken, TELEPORT_PROVIDER_SOURCE, TeleportProvider } from '../../constructs';
import { providerSchemaJson } from '../../provider/schema-json';
import { providerVersion } from '../../provider/address';

type AttrJson = { type?: unknown; nested_type?: { nesting_mode: string; attributes: Record<string, AttrJson> }; required?: boolean; optional?: boolean; computed?: boolean };
type BlockJson = { block: { attributes: Record<string, AttrJson> } };

Testing.setupJest();

const schema = providerSchemaJson() as { provider_schemas: Record<string, { provider: BlockJson; resource_schemas: Record<string, BlockJson>; data_source_schemas: Record<string, BlockJson> }> };
const [source, providerSchema] = Object.entries(schema.provider_schemas)[0];

describe('L1 bindings', () => {
  it('are exactly what the generator makes of the provider schema (regenerate with `node dist/constructs/generate-bindings.js`)', async () => {
    const generated = await generateBindings(providerSchemaJson(), providerVersion());
    const dir = committedBindingsDir();
    const committed = (await fs.readdir(dir, { recursive: true }))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.split(path.sep).join('/'))
      .sort();
    expect(committed).toEqual([...BINDING_FILES].sort());
    for (const [file, text] of generated) {
      expect({ file, text: await fs.readFile(path.join(dir, file), 'utf8') }).toEqual({ file, text });
    }
  });

  it('use the provider source address and type names of the schema', () => {
    expect(TELEPORT_PROVIDER_SOURCE).toBe(source);
    expect(Object.keys(providerSchema.resource_schemas)).toEqual([ProvisionToken.tfResourceType, Lock.tfResourceType]);
    expect(Object.keys(providerSchema.data_source_schemas)).toEqual([DataTeleportProvisionToken.tfResourceType]);
    const text = Testing.synthScope((scope) => void new TeleportProvider(scope, 'teleport', { addr: '127.0.0.1:3025' }));
    expect(text).toHaveProviderWithProperties(TeleportProvider, { addr: '127.0.0.1:3025' });
    const out = JSON.parse(text);
    expect(out.terraform.required_providers.teleport).toEqual({ source, version: providerVersion() });
  });

  // Every configurable attribute set, to compare what the binding writes with the schema.
  it('write only configurable schema attributes, with the schema types, and every required one', () => {
    const out = JSON.parse(
      Testing.synthScope((scope) => {
        new TeleportProvider(scope, 'teleport', { addr: 'h:1', adminToken: 't', caPin: 'sha256:00', caFile: '/ca.pem', insecure: true });
        new ProvisionToken(scope, 'token', {
          kind: 'token',
          subKind: '',
          version: 'v2',
          labels: { a: 'b' },
          metadata: { name: 'n', description: 'd', labels: { c: 'd' }, expires: '2030-01-01T00:00:00Z', namespace: 'default' },
          spec: {
            roles: ['Node'],
            joinMethod: 'ec2',
            botName: 'b',
            awsIidTtl: '5m',
            allow: [
              {
                awsAccount: '111111111111',
                awsRegions: ['us-west-1'],
                awsRole: 'arn:aws:iam::111111111111:role/r',
                awsArn: 'x',
                awsOrganizationId: 'o-a1b2c3d4e5',
                awsOrganizationalUnits: { include: ['*'], exclude: ['ou-ab12-cdef3456'] },
              },
            ],
            suggestedLabels: { env: ['prod'] },
            suggestedAgentMatcherLabels: { '*': ['*'] },
          },
        });
        new DataTeleportProvisionToken(scope, 'read', { metadata: { name: 'n' } });
        // One target at a time is the provider's rule, not the schema's: all are settable.
        new Lock(scope, 'lock', { hostId: 'h', instanceId: 'i-0abc', account: '111122223333', arn: 'arn:aws:iam::1:role/*', token: 't', message: 'm', expires: '2030-01-01T00:00:00Z' });
      }),
    );
    const checkBlock = (where: string, value: Record<string, unknown>, attrs: Record<string, AttrJson>) => {
      const settable = Object.entries(attrs).filter(([, a]) => a.required || a.optional).map(([n]) => n).sort();
      const required = Object.entries(attrs).filter(([, a]) => a.required).map(([n]) => n);
      const written = Object.keys(value).filter((k) => k !== '//').sort();
      expect({ where, written }).toEqual({ where, written: expect.arrayContaining(required) });
      expect({ where, unknown: written.filter((k) => !settable.includes(k)) }).toEqual({ where, unknown: [] });
      for (const k of written) checkValue(`${where}.${k}`, value[k], attrs[k]);
    };
    const checkValue = (where: string, v: unknown, a: AttrJson) => {
      if (a.nested_type) {
        const items = a.nested_type.nesting_mode === 'single' ? [v] : (v as unknown[]);
        expect({ where, isList: Array.isArray(v) }).toEqual({ where, isList: a.nested_type.nesting_mode !== 'single' });
        items.forEach((item, i) => checkBlock(`${where}[${i}]`, item as Record<string, unknown>, a.nested_type!.attributes));
        return;
      }
      const t = JSON.stringify(a.type);
      const ok =
        t === '"string"' ? typeof v === 'string'
        : t === '"bool"' ? typeof v === 'boolean'
        : t === '["list","string"]' ? Array.isArray(v) && v.every((x) => typeof x === 'string')
        : t === '["map","string"]' ? typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string')
        : t === '["map",["list","string"]]' ? typeof v === 'object' && v !== null && Object.values(v).every((x) => Array.isArray(x) && x.every((y) => typeof y === 'string'))
        : false;
      expect({ where, type: t, value: v, ok }).toEqual({ where, type: t, value: v, ok: true });
    };
    checkBlock('provider', out.provider.teleport[0], providerSchema.provider.block.attributes);
    checkBlock('resource', Object.values(out.resource.teleport_provision_token)[0] as Record<string, unknown>, providerSchema.resource_schemas.teleport_provision_token.block.attributes);
    checkBlock('data', Object.values(out.data.teleport_provision_token)[0] as Record<string, unknown>, providerSchema.data_source_schemas.teleport_provision_token.block.attributes);
    checkBlock('lock', Object.values(out.resource.teleport_lock)[0] as Record<string, unknown>, providerSchema.resource_schemas.teleport_lock.block.attributes);
    // Every settable attribute of the resource was exercised above.
    const settable = Object.entries(providerSchema.resource_schemas.teleport_provision_token.block.attributes).filter(([, a]) => a.required || a.optional);
    expect(Object.keys(Object.values(out.resource.teleport_provision_token)[0] as object).filter((k) => k !== '//').sort()).toEqual(settable.map(([n]) => n).sort());
  });
});
