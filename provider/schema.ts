// The provider's schemas: provider configuration, the teleport_provision_token resource and data
// source. Field descriptions come from FIELD_DOCS in schema/token.ts, the one token schema.

import { FIELD_DOCS } from '../schema/token';
import { TOKEN_FIELDS, type FieldType, type TokenField } from '../schema/token-fields';
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

/** The Terraform type of a declared field's value (objects are nested attributes instead). */
function ctyOf(t: FieldType): CtyType {
  switch (t.kind) {
    case 'string':
      return 'string';
    case 'list':
      return STRING_LIST;
    case 'map':
      // Teleport's Labels type (a value or a list per key) is a map of lists in Terraform.
      return t.values === 'string' ? STRING_MAP : (['map', STRING_LIST] as const);
    default:
      throw new Error(`${t.kind} has no primitive type`);
  }
}

/**
 * A token field as a provider attribute, following the declaration in schema/token-fields.ts:
 * `config` for the resource (required unless the server can fill it, computed where it does),
 * `read` for the data source (everything computed).
 */
function attributeOf(field: TokenField, path: string, mode: 'config' | 'read'): Attr {
  const description = field.name === 'name' && path === 'metadata.name' && mode === 'config' ? `${field.doc} Changing it replaces the token.` : field.doc;
  const flags: Partial<Attr> =
    mode === 'read'
      ? { computed: true }
      : field.required && !field.server && !(field.type.kind === 'object' && hasServerFilledRequiredField(field.type.fields))
        ? { required: true }
        : { optional: true, ...(field.server || (field.type.kind === 'object' && field.type.fields.some((f) => f.server)) ? { computed: true } : {}) };
  const base = { name: field.name, description, ...flags, ...(field.sensitive ? { sensitive: true } : {}) };
  if (field.type.kind === 'object' || field.type.kind === 'objects') {
    const children = field.type.fields.filter((f) => f.server !== 'assigned').map((f) => attributeOf(f, `${path}.${f.name}`, mode));
    return { ...base, nested: { nesting: field.type.kind === 'object' ? 'single' : 'list', attributes: children } };
  }
  return { ...base, type: ctyOf(field.type) };
}

function hasServerFilledRequiredField(fields: readonly TokenField[]): boolean {
  return fields.some((f) => f.required && f.server);
}

/** The resource's (or data source's) attributes for the declared token fields. */
function tokenAttributes(mode: 'config' | 'read'): Attr[] {
  // The server assigns the revision; the provider keeps it in private state, not in an attribute.
  return TOKEN_FIELDS.filter((f) => f.server !== 'assigned').map((f) => attributeOf(f, f.name, mode));
}

/** Provider-only attributes: the ID, and Teleport's top-level labels alias. */
const ID_ATTR: Attr = { name: 'id', type: 'string', computed: true, description: 'The token name for ec2 and iam tokens; for token-method tokens, whose name is a secret, token-sha256-<first 16 hex digits of its SHA-256>.' };
const LABELS_ALIAS: Attr = {
  name: 'labels',
  type: STRING_MAP,
  optional: true,
  description: `Alias of metadata.labels, accepted at the top level as Teleport's documentation writes it. ${doc('metadata.labels')}`,
};

export const RESOURCE_SCHEMA: Schema = {
  version: 0,
  description: 'A join token (kind token, version v2) in Joinery: which hosts may join, and as which roles.',
  attributes: [ID_ATTR, LABELS_ALIAS, ...tokenAttributes('config')],
};

export const DATA_SOURCE_SCHEMA: Schema = {
  version: 0,
  description: 'Reads one Joinery join token by name.',
  attributes: [
    ID_ATTR,
    ...tokenAttributes('read').map((a) =>
      // The token to read is chosen by metadata.name, the one argument of the data source.
      a.name === 'metadata' ? { ...a, computed: undefined, required: true, nested: { ...a.nested!, attributes: a.nested!.attributes.map((c) => (c.name === 'name' ? { ...c, computed: undefined, required: true } : c)) } } : a,
    ),
  ],
};

export const LOCK_RESOURCE_TYPE = 'teleport_lock';

const lockTarget = (name: string, what: string, extra: Partial<Attr> = {}): Attr => ({
  name,
  type: 'string',
  optional: true,
  description: `${what} Exactly one target is set; changing it replaces the lock.`,
  ...extra,
});

/**
 * teleport_lock: one target (flat, as `joinery locks add` takes it), a message and an absolute
 * end. `expires` and not a TTL: a TTL would name a new end at every apply, and the plan never be
 * clean.
 */
export const LOCK_SCHEMA: Schema = {
  version: 0,
  description: 'A lock: joins and renewals that match its target are refused `locked` (with its message) on every replica, and the matched hosts\' unexpired certificates are revoked, until it is removed or expires.',
  attributes: [
    { name: 'id', type: 'string', computed: true, description: 'The lock ID the server assigns (as joinery locks ls lists it); import takes it.' },
    lockTarget('host_id', 'Locks the host with this host ID.'),
    lockTarget('instance_id', 'Locks the EC2 instance with this ID, in any account.'),
    lockTarget('account', 'Locks every ec2 and iam host of this AWS account ID.'),
    lockTarget('arn', 'Locks IAM hosts whose ARN matches this glob (`*` any run, `?` one character).'),
    lockTarget('token', 'Locks every host that joined, or joins, with this token (its name; a token-method name is a secret, and is masked where the server shows it).', { sensitive: true }),
    { name: 'message', type: 'string', optional: true, description: 'What a refused host is told, at most 256 characters. Changes in place.' },
    {
      name: 'expires',
      type: 'string',
      optional: true,
      description: 'When the lock ends, an RFC 3339 time at most a year ahead; leave it out for a lock until removed. Changes in place (no moment unlocked). A lock past its end stays in the state with a warning and is not created again.',
    },
    { name: 'created_at', type: 'string', computed: true, description: 'When the lock was created (RFC 3339, UTC).' },
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

/** An attribute of a resource identity: always required or optional for import, never computed. */
export interface IdentityAttr {
  name: string;
  type: CtyType;
  description: string;
  requiredForImport: boolean;
}

/**
 * The resource identity of teleport_provision_token (Terraform 1.12+): the token's name, which an
 * import block may give as `identity = { name = "..." }`. Versioned apart from the resource schema.
 */
export const RESOURCE_IDENTITY: { version: number; attributes: IdentityAttr[] } = {
  version: 0,
  attributes: [{ name: 'name', type: 'string', requiredForImport: true, description: 'The token name (metadata.name).' }],
};

export const IDENTITY_TYPE: CtyType = ['object', Object.fromEntries(RESOURCE_IDENTITY.attributes.map((a) => [a.name, a.type]))];
