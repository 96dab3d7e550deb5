// The provider schema in the format of `terraform providers schema -json`, for tools that
// generate or check bindings (the CDKTF constructs) without running Terraform.

import { typeJson } from './cty';
import { PROVIDER_SOURCE } from './address';
import { DATA_SOURCE_SCHEMA, DATA_SOURCE_TYPE, LOCK_RESOURCE_TYPE, LOCK_SCHEMA, PROVIDER_SCHEMA, RESOURCE_IDENTITY, RESOURCE_SCHEMA, RESOURCE_TYPE, type Attr, type Schema } from './schema';

function attrJson(a: Attr): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (a.type) out.type = typeJson(a.type);
  if (a.nested) {
    out.nested_type = {
      attributes: Object.fromEntries(a.nested.attributes.map((c) => [c.name, attrJson(c)])),
      nesting_mode: a.nested.nesting,
    };
  }
  if (a.description) {
    out.description = a.description;
    out.description_kind = 'plain';
  }
  if (a.required) out.required = true;
  if (a.optional) out.optional = true;
  if (a.computed) out.computed = true;
  if (a.sensitive) out.sensitive = true;
  return out;
}

function schemaJson(s: Schema): Record<string, unknown> {
  return {
    version: s.version,
    block: {
      attributes: Object.fromEntries(s.attributes.map((a) => [a.name, attrJson(a)])),
      description: s.description,
      description_kind: 'plain',
    },
  };
}

/** The resource identity, as Terraform >= 1.12 lists it under resource_identity_schemas. */
function identityJson(): Record<string, unknown> {
  return {
    version: RESOURCE_IDENTITY.version,
    attributes: Object.fromEntries(
      RESOURCE_IDENTITY.attributes.map((a) => [a.name, { type: typeJson(a.type), description: a.description, ...(a.requiredForImport ? { required_for_import: true } : { optional_for_import: true }) }]),
    ),
  };
}

export function providerSchemaJson(source: string = PROVIDER_SOURCE): Record<string, unknown> {
  return {
    format_version: '1.0',
    provider_schemas: {
      [source]: {
        provider: schemaJson(PROVIDER_SCHEMA),
        resource_schemas: { [RESOURCE_TYPE]: schemaJson(RESOURCE_SCHEMA), [LOCK_RESOURCE_TYPE]: schemaJson(LOCK_SCHEMA) },
        data_source_schemas: { [DATA_SOURCE_TYPE]: schemaJson(DATA_SOURCE_SCHEMA) },
        resource_identity_schemas: { [RESOURCE_TYPE]: identityJson() },
      },
    },
  };
}
