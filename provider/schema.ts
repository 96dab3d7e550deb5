// The provider's schemas: provider configuration, the teleport_provision_token resource and data
// source. Field descriptions come from FIELD_DOCS in schema/token.ts, the one token schema.

import { FIELD_DOCS } from '../schema/token';
import type { CtyType } from './cty';

export const RESOURCE_TYPE = 'teleport_provision_token';
export const DATA_SOURCE_TYPE = 'teleport_provision_token';

export interface Attr {
  name: string;
  /** Primitive or collection type; absent when `nested` describes the attribute. */
  type?: CtyType;
  nested?: { nesting: 'single' | 'list'; attributes: Attr[] };
  description: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
}

export interface Schema {
  version: number;
  description: string;
  attributes: Attr[];
}

const doc = (path: string): string => FIELD_DOCS[path] ?? '';
const STRING_LIST = ['list', 'string'] as const;
const STRING_MAP = ['map', 'string'] as const;

/**
 * The optional arguments of Teleport's own provider block, accepted so that a Teleport user's HCL
 * needs only its `required_providers` source changed. Those with a meaning here are used; the
 * others (Teleport identities, profiles, Machine ID joining) are ignored with a warning, because
 * Joinery authenticates Terraform with its admin token.
 */
export const TELEPORT_PROVIDER_ARGUMENTS: readonly { name: string; used: boolean; sensitive?: boolean; meaning: string }[] = [
  { name: 'root_ca_path', used: true, meaning: 'path of a PEM file with the cluster CA; the same as ca_file.' },
  { name: 'root_ca_base64', used: true, meaning: 'the cluster CA certificate, PEM encoded in base64; an alternative to ca_file.' },
  { name: 'dial_timeout_duration', used: true, meaning: 'timeout of each API request, as a Go duration (for example 30s).' },
  { name: 'retry_base_duration', used: false, meaning: 'ignored: Joinery writes are immediately visible, so there is no "not found" to wait out.' },
  { name: 'retry_cap_duration', used: false, meaning: 'ignored, as retry_base_duration.' },
  { name: 'retry_max_tries', used: false, meaning: 'ignored, as retry_base_duration.' },
  ...['cert_path', 'cert_base64', 'key_path', 'key_base64', 'identity_file_path', 'identity_file', 'identity_file_base64', 'profile_name', 'profile_dir', 'join_method', 'join_token', 'audience_tag', 'gitlab_id_token_env_var'].map((name) => ({
    name,
    used: false,
    sensitive: ['key_base64', 'identity_file', 'identity_file_base64'].includes(name),
    meaning: 'ignored: Joinery authenticates Terraform with its admin token (admin_token or JOINERY_ADMIN_TOKEN), not a Teleport identity.',
  })),
];

export const PROVIDER_SCHEMA: Schema = {
  version: 0,
  description: 'Manages Joinery (Teleport-compatible) provision tokens through the Joinery API.',
  attributes: [
    { name: 'addr', type: 'string', optional: true, description: 'Joinery API address, HOST:PORT or https://HOST:PORT. Defaults to JOINERY_ADDR, else 127.0.0.1:3025 (as the CLI).' },
    { name: 'admin_token', type: 'string', optional: true, sensitive: true, description: 'Admin bearer token of the Joinery API. Defaults to JOINERY_ADMIN_TOKEN.' },
    { name: 'ca_pin', type: 'string', optional: true, description: 'Pin of the cluster CA (sha256:<hex>, as `joinery status` prints it). Defaults to JOINERY_CA_PIN.' },
    { name: 'ca_file', type: 'string', optional: true, description: 'Path of a PEM file with the cluster CA. Defaults to JOINERY_CA_FILE.' },
    { name: 'insecure', type: 'bool', optional: true, description: 'Skip verification of the server certificate (development only). Defaults to JOINERY_INSECURE.' },
    ...TELEPORT_PROVIDER_ARGUMENTS.map((a) => ({ name: a.name, type: 'string' as const, optional: true, sensitive: a.sensitive, description: `Teleport provider compatibility: ${a.meaning}` })),
  ],
};

const ALLOW_RULE_ATTRS = (mode: 'config' | 'computed'): Attr[] =>
  (['aws_account', 'aws_regions', 'aws_role', 'aws_arn'] as const).map((name) => ({
    name,
    type: name === 'aws_regions' ? STRING_LIST : 'string',
    description: doc(`spec.allow.${name}`),
    ...(mode === 'config' ? { optional: true } : { computed: true }),
  }));

export const RESOURCE_SCHEMA: Schema = {
  version: 0,
  description: 'A join token (kind token, version v2) in Joinery: which hosts may join, and as which roles.',
  attributes: [
    { name: 'id', type: 'string', computed: true, description: 'The token name for ec2 and iam tokens; for token-method tokens, whose name is a secret, token-sha256-<first 16 hex digits of its SHA-256>.' },
    { name: 'kind', type: 'string', computed: true, description: doc('kind') },
    { name: 'version', type: 'string', required: true, description: doc('version') },
    {
      name: 'labels',
      type: STRING_MAP,
      optional: true,
      description: `Alias of metadata.labels, accepted at the top level as Teleport's documentation writes it. ${doc('metadata.labels')}`,
    },
    {
      name: 'metadata',
      optional: true,
      computed: true,
      description: 'Token metadata.',
      nested: {
        nesting: 'single',
        attributes: [
          // Sensitive as in Teleport's provider: for the token method the name is the secret.
          { name: 'name', type: 'string', optional: true, computed: true, sensitive: true, description: `${doc('metadata.name')} Changing it replaces the token. Generated when empty (token method only).` },
          { name: 'description', type: 'string', optional: true, description: doc('metadata.description') },
          { name: 'labels', type: STRING_MAP, optional: true, description: doc('metadata.labels') },
          { name: 'expires', type: 'string', optional: true, description: doc('metadata.expires') },
        ],
      },
    },
    {
      name: 'spec',
      required: true,
      description: 'Token specification.',
      nested: {
        nesting: 'single',
        attributes: [
          { name: 'roles', type: STRING_LIST, required: true, description: doc('spec.roles') },
          { name: 'join_method', type: 'string', optional: true, computed: true, description: doc('spec.join_method') },
          { name: 'bot_name', type: 'string', optional: true, description: doc('spec.bot_name') },
          { name: 'allow', optional: true, description: doc('spec.allow'), nested: { nesting: 'list', attributes: ALLOW_RULE_ATTRS('config') } },
          { name: 'aws_iid_ttl', type: 'string', optional: true, computed: true, description: doc('spec.aws_iid_ttl') },
        ],
      },
    },
  ],
};

export const DATA_SOURCE_SCHEMA: Schema = {
  version: 0,
  description: 'Reads one Joinery join token by name.',
  attributes: [
    { name: 'id', type: 'string', computed: true, description: 'The token name for ec2 and iam tokens; for token-method tokens, whose name is a secret, token-sha256-<first 16 hex digits of its SHA-256>.' },
    { name: 'kind', type: 'string', computed: true, description: doc('kind') },
    { name: 'version', type: 'string', computed: true, description: doc('version') },
    {
      name: 'metadata',
      required: true,
      description: 'Token metadata; set name to choose the token.',
      nested: {
        nesting: 'single',
        attributes: [
          { name: 'name', type: 'string', required: true, sensitive: true, description: doc('metadata.name') },
          { name: 'description', type: 'string', computed: true, description: doc('metadata.description') },
          { name: 'labels', type: STRING_MAP, computed: true, description: doc('metadata.labels') },
          { name: 'expires', type: 'string', computed: true, description: doc('metadata.expires') },
        ],
      },
    },
    {
      name: 'spec',
      computed: true,
      description: 'Token specification.',
      nested: {
        nesting: 'single',
        attributes: [
          { name: 'roles', type: STRING_LIST, computed: true, description: doc('spec.roles') },
          { name: 'join_method', type: 'string', computed: true, description: doc('spec.join_method') },
          { name: 'bot_name', type: 'string', computed: true, description: doc('spec.bot_name') },
          { name: 'allow', computed: true, description: doc('spec.allow'), nested: { nesting: 'list', attributes: ALLOW_RULE_ATTRS('computed') } },
          { name: 'aws_iid_ttl', type: 'string', computed: true, description: doc('spec.aws_iid_ttl') },
        ],
      },
    },
  ],
};

/** The value type of an attribute (nested attributes become objects or lists of objects). */
export function attrType(a: Attr): CtyType {
  if (a.type) return a.type;
  const obj: CtyType = ['object', Object.fromEntries(a.nested!.attributes.map((c) => [c.name, attrType(c)]))];
  return a.nested!.nesting === 'single' ? obj : ['list', obj];
}

export function schemaType(s: Schema): CtyType {
  return ['object', Object.fromEntries(s.attributes.map((a) => [a.name, attrType(a)]))];
}
