// The one declaration of the token's fields: name (as YAML writes it), type, documentation, which
// join methods allow it, bounds, and how the server treats it. parseToken (schema/token.ts) takes
// the accepted keys, join-method restrictions and list bounds from here; the OpenAPI document,
// the Terraform provider's schema (and through it the generated CDKTF L1) are derived from here;
// a test holds the constructs' props to it. Adding a field is one entry here plus its tests; a
// field needing more than a type check names a rule in schema/token.ts.

import { MAX_OU_ENTRIES } from './aws-organizations';
import { SYSTEM_ROLES } from './roles';

export const JOIN_METHODS = ['token', 'ec2', 'iam'] as const;
export type JoinMethod = (typeof JOIN_METHODS)[number];

export const TOKEN_KIND = 'token';
export const TOKEN_VERSION = 'v2';
export const DEFAULT_AWS_IID_TTL = '5m';
export const ORIGIN_LABEL = 'teleport.dev/origin';
export const DEFAULT_ORIGIN = 'dynamic';
/**
 * Which tool manages a token (Terraform, CDKTF, the CLI, the console), recorded as a label of its
 * own so that `teleport.dev/origin` keeps Teleport's meaning ("dynamic" for every API-made token).
 * The CDKTF constructs declare it; otherwise the server sets it, when a write leaves it out, from
 * the client's CLIENT_HEADER. A label a write declares is kept: another tool's edit is drift.
 */
export const MANAGED_BY_LABEL = 'joinery.dev/managed-by';
/** The request header a client names itself in (terraform-provider-teleport, the CLI, the console). */
export const CLIENT_HEADER = 'joinery-client';
/** The client names the server records from CLIENT_HEADER; any other value records nothing. */
export const RECORDED_CLIENTS = ['terraform', 'cli', 'console'] as const;
export type RecordedClient = (typeof RECORDED_CLIENTS)[number];
/** Teleport's OriginValues (api/types/constants.go): the values the origin label may take. */
export const ORIGINS = ['defaults', 'config-file', 'dynamic', 'cloud', 'kubernetes', 'okta', 'scim', 'discovery-kubernetes', 'entra-id', 'aws-identity-center'] as const;

export const MAX_NAME_LENGTH = 253;
export const LABEL_KEY_RE = /^[a-zA-Z/.0-9_:*-]+$/;
// List bounds. Far above any real token (there are fewer than 20 system roles; AWS has about 35
// regions) and low enough that a hostile body is refused in one message, not one per element.
export const MAX_ROLES = 32;
export const MAX_LABELS = 128;
export const MAX_ALLOW_RULES = 256;
export const MAX_REGIONS = 64;
/**
 * A `token`-method token's name is the secret a host presents. Teleport generates 32 hex
 * characters; 16 is the shortest it shows in part when masking, so it is the shortest accepted.
 */
export const MIN_TOKEN_SECRET_LENGTH = 16;
export const MAX_AWS_IID_TTL_TEXT = '2562047h47m16.854775807s';

export type FieldType =
  | { kind: 'string'; enum?: readonly string[]; format?: 'date-time'; pattern?: RegExp }
  | { kind: 'list'; of: 'string'; enum?: readonly string[]; maxItems: number }
  /** A map of strings; `or-list` also allows a list of strings per key (Teleport's Labels type). */
  | { kind: 'map'; values: 'string' | 'string-or-list'; maxEntries: number }
  | { kind: 'object'; fields: readonly TokenField[] }
  | { kind: 'objects'; fields: readonly TokenField[]; maxItems: number };

export interface TokenField {
  /** The key as a token's YAML writes it. */
  name: string;
  type: FieldType;
  doc: string;
  required?: boolean;
  /** Only these join methods accept the field ("is only valid for join_method ..."). */
  methods?: readonly JoinMethod[];
  /**
   * What the server does with the field: `default` fills it when empty, `generated` makes one
   * (the token-method secret), `assigned` is set by the server only, `inferred` is derived from
   * other fields when empty. Clients (Terraform) treat all of them as possibly computed.
   */
  server?: 'default' | 'generated' | 'assigned' | 'inferred';
  /** Kept and returned, with no effect on joins (yet): Teleport exports carry them. */
  storedOnly?: boolean;
  /** A secret for the `token` method: providers mark it sensitive. */
  sensitive?: boolean;
  /** Accepted for Teleport compatibility with one fixed value; any other value is refused. */
  fixed?: string;
}

const str = { kind: 'string' } as const;
const strings = (maxItems: number) => ({ kind: 'list', of: 'string', maxItems }) as const;

const OU_MATCHER: readonly TokenField[] = [
  { name: 'include', type: strings(MAX_OU_ENTRIES), doc: 'Root or OU IDs whose accounts (at any depth) may join; ["*"] for the whole organization.' },
  { name: 'exclude', type: strings(MAX_OU_ENTRIES), doc: 'Root or OU IDs whose accounts (at any depth) may not join; wins over include.' },
];

export const ALLOW_RULE_FIELDS: readonly TokenField[] = [
  { name: 'aws_account', type: { kind: 'string', pattern: /^[0-9]{12}$/ }, doc: 'AWS account ID (12 digits).' },
  { name: 'aws_regions', type: strings(MAX_REGIONS), methods: ['ec2'], doc: `EC2 only: allowed regions (at most ${MAX_REGIONS}); any when empty.` },
  { name: 'aws_role', type: str, methods: ['ec2'], doc: 'EC2 only: IAM role ARN assumed to call ec2:DescribeInstances in the account.' },
  { name: 'aws_arn', type: str, methods: ['iam'], doc: 'IAM only: caller ARN pattern; * matches any run of characters, ? one character.' },
  {
    name: 'aws_organization_id',
    type: str,
    methods: ['iam'],
    doc: 'IAM only: the AWS Organizations ID (o-...) the caller\'s account must belong to; the server looks the account up with organizations:DescribeAccount.',
  },
  {
    name: 'aws_organizational_units',
    type: { kind: 'object', fields: OU_MATCHER },
    methods: ['iam'],
    doc: 'IAM only: which organizational units of aws_organization_id may join (include, exclude; exclude wins).',
  },
];

export const TOKEN_FIELDS: readonly TokenField[] = [
  { name: 'kind', type: { kind: 'string', enum: [TOKEN_KIND] }, doc: 'Resource kind, always "token".', server: 'default' },
  { name: 'sub_kind', type: str, fixed: '', storedOnly: true, doc: 'Resource sub-kind; empty for tokens (accepted because Teleport exports carry it).' },
  { name: 'version', type: { kind: 'string', enum: [TOKEN_VERSION] }, required: true, doc: 'Resource version, always "v2".' },
  {
    name: 'metadata',
    required: true,
    doc: 'Token metadata.',
    type: {
      kind: 'object',
      fields: [
        {
          name: 'name',
          type: str,
          required: true,
          server: 'generated',
          sensitive: true,
          doc: `Token name. For the ec2 and iam methods it is not a secret; for the token method it is, and must be at least ${MIN_TOKEN_SECRET_LENGTH} characters (generated when empty).`,
        },
        { name: 'description', type: str, doc: 'Free-form description.' },
        { name: 'labels', type: { kind: 'map', values: 'string', maxEntries: MAX_LABELS }, doc: `Labels (at most ${MAX_LABELS}); keys match ${LABEL_KEY_RE}. "${ORIGIN_LABEL}" defaults to "${DEFAULT_ORIGIN}" and is one of ${ORIGINS.join(', ')}.` },
        { name: 'expires', type: { kind: 'string', format: 'date-time' }, doc: 'RFC 3339 time after which the token cannot be used; stored in UTC (YYYY-MM-DDTHH:MM:SSZ). Leap seconds are refused.' },
        { name: 'revision', type: str, server: 'assigned', doc: 'Server-assigned revision; changes on every write.' },
        { name: 'namespace', type: str, fixed: 'default', storedOnly: true, doc: 'Teleport\'s resource namespace; only "default" (accepted because Teleport exports carry it).' },
      ],
    },
  },
  {
    name: 'spec',
    required: true,
    doc: 'Token specification.',
    type: {
      kind: 'object',
      fields: [
        { name: 'roles', type: { kind: 'list', of: 'string', enum: SYSTEM_ROLES, maxItems: MAX_ROLES }, required: true, doc: `System roles granted to joining hosts (${SYSTEM_ROLES.join(', ')}), case-insensitive; at most ${MAX_ROLES}.` },
        { name: 'join_method', type: { kind: 'string', enum: JOIN_METHODS }, server: 'inferred', doc: 'token, ec2 or iam. Inferred when empty: ec2 if allow rules exist, else token.' },
        { name: 'bot_name', type: str, doc: 'Bot the token is for; required with the Bot role.' },
        { name: 'allow', type: { kind: 'objects', fields: ALLOW_RULE_FIELDS, maxItems: MAX_ALLOW_RULES }, methods: ['ec2', 'iam'], doc: `Allow rules (at most ${MAX_ALLOW_RULES}); a join succeeds when any one rule matches.` },
        {
          name: 'aws_iid_ttl',
          type: str,
          methods: ['ec2'],
          server: 'default',
          doc: `EC2 only: how long after launch an instance may join, as a Go duration from 1s to ${MAX_AWS_IID_TTL_TEXT} (the largest Go duration, as Teleport). Default ${DEFAULT_AWS_IID_TTL}.`,
        },
        {
          name: 'suggested_labels',
          type: { kind: 'map', values: 'string-or-list', maxEntries: MAX_LABELS },
          storedOnly: true,
          doc: 'Labels Teleport suggests to the services that join with this token (a value or a list per key). Stored and returned; no effect in Joinery yet.',
        },
        {
          name: 'suggested_agent_matcher_labels',
          type: { kind: 'map', values: 'string-or-list', maxEntries: MAX_LABELS },
          storedOnly: true,
          doc: 'Labels Teleport suggests for agents\' resource matchers (a value or a list per key). Stored and returned; no effect in Joinery yet.',
        },
      ],
    },
  },
];

/** The fields of a nested object field, by path (`metadata`, `spec`, `spec.allow`, ...). */
export function fieldsAt(path: string): readonly TokenField[] {
  let fields: readonly TokenField[] = TOKEN_FIELDS;
  if (path === '') return fields;
  for (const part of path.split('.')) {
    const f = fields.find((x) => x.name === part);
    if (!f || (f.type.kind !== 'object' && f.type.kind !== 'objects')) throw new Error(`no object field ${path}`);
    fields = f.type.fields;
  }
  return fields;
}

/** The declaration of one field by path (`spec.allow.aws_role`). */
export function fieldAt(path: string): TokenField {
  const parts = path.split('.');
  const name = parts.pop()!;
  const f = fieldsAt(parts.join('.')).find((x) => x.name === name);
  if (!f) throw new Error(`no field ${path}`);
  return f;
}

/** Every field with its dotted path, depth first. */
export function allFields(fields: readonly TokenField[] = TOKEN_FIELDS, prefix = ''): { path: string; field: TokenField }[] {
  return fields.flatMap((field) => {
    const path = prefix ? `${prefix}.${field.name}` : field.name;
    const nested = field.type.kind === 'object' || field.type.kind === 'objects' ? allFields(field.type.fields, path) : [];
    return [{ path, field }, ...nested];
  });
}

/**
 * Human documentation of every field, keyed by path. The provider uses it for attribute
 * descriptions; the README and the constructs' docs point here.
 */
export const FIELD_DOCS: Record<string, string> = Object.fromEntries(allFields().map(({ path, field }) => [path, field.doc]));

/** The refusal for a field the token's join method does not take, or undefined when it does. */
export function methodRestriction(field: TokenField, method: JoinMethod | undefined): string | undefined {
  if (!field.methods || !method || field.methods.includes(method)) return undefined;
  return `is only valid for join_method ${field.methods.join(' or ')} (this token uses ${method})`;
}
