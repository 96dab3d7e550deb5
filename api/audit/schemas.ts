// JSON Schemas (draft 2020-12) of the audit events, one per event type, built from the catalogue
// so a new type cannot be added without one. docs/audit-schemas/ holds them as files (written by
// `npm run gen:audit-schemas`, with docs/audit.md's table of types and codes; a test keeps them
// equal to these), and GET /v1/audit/schema serves the bundle. They describe the event as exported and as GET /v1/audit answers it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventTypes, UNKNOWN_EVENT_CODES, type EventTypeInfo } from './catalog';

type Schema = Record<string, unknown>;

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';
export const SCHEMA_ID_PREFIX = 'urn:joinery:audit-event:';
export const BUNDLE_ID = `${SCHEMA_ID_PREFIX}any`;

const str = { type: 'string' };
/** A value the store's bounds may have cut to a marker string ("…[truncated]", "[3 more]"). */
const scalar = { type: ['string', 'number', 'boolean'] };

/** What an allow rule's evaluation looks like: its index, whether it matched, each failed check. */
const ruleResult: Schema = {
  type: 'object',
  required: ['index', 'matched'],
  properties: {
    index: { type: 'integer', minimum: 0 },
    matched: { type: 'boolean' },
    failures: { type: 'array', items: str, description: 'each check of the rule that failed, e.g. "aws_regions [us-west-1] does not include eu-west-1"' },
  },
  additionalProperties: false,
};

/**
 * `details` of a join attempt. Today's fields are listed; the verified identity and the per-rule
 * results are optional, and further flat facts are allowed (a new method's own), never blobs.
 */
const joinDetails: Schema = {
  type: 'object',
  properties: {
    method: { ...str, description: 'the join method: the suffix of the event type (join.<method>)' },
    role: { ...str, description: 'the role the host asked for' },
    dry_run: { const: true, description: 'the host asked for an evaluation only (`joinery join --dry-run`): nothing was admitted' },
    identity: {
      type: 'object',
      description: 'what the host proved, as verified: AWS account, region, instance ID, caller ARN, organization ...',
      properties: {
        aws_account: str,
        aws_region: str,
        instance_id: str,
        arn: str,
        user_id: str,
        organization_id: str,
      },
      additionalProperties: scalar,
    },
    rules: {
      type: 'array',
      description: "each allow rule's result, for a refused rule match (the store keeps the first 16 and counts the rest in a string)",
      items: { anyOf: [ruleResult, str] },
    },
    // EC2 facts as written before the identity object existed.
    account: str,
    region: str,
    instance_id: str,
    pending_time: str,
    rule: { type: 'integer', minimum: 0, description: 'the index of the allow rule that matched' },
    aws_role: str,
    instance_state: str,
    // IAM facts as written before the identity object existed.
    sts_host: str,
    access_key_id: { ...str, description: 'the access key ID of the signed request (an identifier, not a secret)' },
    sts_status: { type: 'integer' },
    aws_account: str,
    aws_arn: str,
  },
  additionalProperties: scalar,
};

const renewDetails: Schema = {
  type: 'object',
  properties: {
    serial: { ...str, description: 'the serial of the certificate presented' },
    new_serial: { ...str, description: 'the serial of the certificate issued' },
    key_rotated: { type: 'boolean', description: 'the host sent a new public key' },
    issuer: { ...str, description: 'the issuer of the certificate presented, when it is not this cluster CA' },
  },
  additionalProperties: scalar,
};

const lockDetails: Schema = {
  type: 'object',
  properties: {
    lock: {
      type: 'object',
      description: 'the lock as GET /v1/locks shows it (a token lock\'s target masked)',
      properties: { id: str, kind: { enum: ['host_id', 'instance_id', 'account', 'arn', 'token'] }, target: str, target_sha256: { ...str, description: 'a token lock\'s: the first 16 hex digits of the SHA-256 of the token name' }, message: { type: ['string', 'null'] }, created_at: str, expires_at: { type: ['string', 'null'] } },
    },
    lock_id: { ...str, description: 'the lock removed' },
    revoked_certificates: { type: 'integer', minimum: 0, description: 'how many unexpired certificates of matched hosts the lock revoked' },
  },
  additionalProperties: scalar,
};

function outcomes(t: Pick<EventTypeInfo, 'accepted' | 'refused'>): Schema[] {
  const list: Schema[] = [];
  if (t.accepted) list.push({ properties: { success: { const: true }, eventCode: { const: t.accepted }, code: false } });
  if (t.refused) list.push({ properties: { success: { const: false }, eventCode: { const: t.refused }, code: str }, required: ['code'] });
  return list;
}

function envelope(typeSchema: Schema, details: Schema | undefined): Schema {
  return {
    type: 'object',
    required: ['id', 'time', 'type', 'eventCode', 'success'],
    properties: {
      id: { type: 'integer', minimum: 1, description: 'the event id: increasing in the order events were stored, the export cursor' },
      time: { ...str, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', description: 'when it happened (RFC 3339, UTC)' },
      type: typeSchema,
      eventCode: { ...str, pattern: '^J[A-Z]\\d{3}[IW]$', description: 'the stable code of the type and outcome (docs/audit.md)' },
      success: { type: 'boolean' },
      code: { ...str, description: 'the refusal code (present exactly when success is false)' },
      message: { ...str, description: 'what went wrong, for an operator' },
      tokenName: { ...str, description: 'the token, masked (all but its last quarter) where its name is the secret' },
      hostId: str,
      remoteAddr: { ...str, description: 'the client address (X-Forwarded-For only from JOINERY_TRUST_PROXY proxies)' },
      ...(details ? { details } : {}),
    },
    additionalProperties: false,
  };
}

/** The schema of one event type. */
export function eventSchema(t: EventTypeInfo): Schema {
  const details = t.details === 'join' ? joinDetails : t.details === 'renew' ? renewDetails : t.details === 'lock' ? lockDetails : undefined;
  const required = t.type.startsWith('token.') ? ['tokenName'] : t.type === 'node.delete' ? ['hostId'] : [];
  return {
    $schema: DRAFT,
    $id: `${SCHEMA_ID_PREFIX}${t.type}`,
    title: `Joinery audit event ${t.type}`,
    description: t.meaning,
    ...envelope({ const: t.type }, details),
    ...(required.length ? { required: ['id', 'time', 'type', 'eventCode', 'success', ...required] } : {}),
    oneOf: outcomes(t),
  };
}

function unknownTypeSchema(known: string[]): Schema {
  const schema = envelope({ type: 'string', not: { enum: known } }, { type: 'object' });
  (schema.properties as Schema).eventCode = { enum: [UNKNOWN_EVENT_CODES.accepted, UNKNOWN_EVENT_CODES.refused] };
  return { description: `an event type this release does not describe (event code ${UNKNOWN_EVENT_CODES.accepted} or ${UNKNOWN_EVENT_CODES.refused})`, ...schema };
}

/** Any event: a known type is held to its own schema, an unknown one to the envelope. */
export function bundleSchema(types: readonly EventTypeInfo[] = eventTypes()): Schema {
  const known = types.map((t) => t.type);
  return {
    $schema: DRAFT,
    $id: BUNDLE_ID,
    title: 'Joinery audit event',
    description: 'One line of the audit export, one item of GET /v1/audit. Each event type has its own schema under $defs; eventCode names the type and outcome.',
    $defs: Object.fromEntries(types.map((t) => [t.type, eventSchema(t)])),
    oneOf: [
      ...types.map((t) => ({ $ref: `${SCHEMA_ID_PREFIX}${t.type}` })),
      unknownTypeSchema(known),
    ],
  };
}

/** The files of docs/audit-schemas: one per type and the bundle, as `name -> text`. */
export function schemaFiles(types: readonly EventTypeInfo[] = eventTypes()): Map<string, string> {
  const files = new Map<string, string>();
  for (const t of types) files.set(`${t.type}.schema.json`, JSON.stringify(eventSchema(t), null, 2) + '\n');
  files.set('audit-event.schema.json', JSON.stringify(bundleSchema(types), null, 2) + '\n');
  return files;
}

/** `npm run gen:audit-schemas`: writes docs/audit-schemas/. */
export function writeSchemaFiles(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of schemaFiles()) fs.writeFileSync(path.join(dir, name), text);
}

/** docs/audit.md's table of event types and codes, one row per type (a new join method's included). */
export function eventTypeTable(types: readonly EventTypeInfo[] = eventTypes()): string {
  const code = (c: string | undefined) => (c ? `\`${c}\`` : '');
  return [
    '| type | accepted | refused | what happened |',
    '| --- | --- | --- | --- |',
    ...types.map((t) => `| \`${t.type}\` | ${code(t.accepted)} | ${code(t.refused)} | ${t.meaning} |`),
    `| any other | ${code(UNKNOWN_EVENT_CODES.accepted)} | ${code(UNKNOWN_EVENT_CODES.refused)} | a type this release does not know (written by a newer replica) |`,
  ].join('\n');
}

const TABLE_MARKERS = /(<!-- audit-event-types -->\n)[\s\S]*?(\n<!-- \/audit-event-types -->)/;

/** Replaces the table between the markers of docs/audit.md; the text unchanged when it has none. */
export function withEventTypeTable(markdown: string): string {
  return markdown.replace(TABLE_MARKERS, (_m, open: string, close: string) => `${open}${eventTypeTable()}${close}`);
}

if (require.main === module) {
  writeSchemaFiles(process.argv[2] ?? 'docs/audit-schemas');
  const doc = path.join(path.dirname(process.argv[2] ?? 'docs/audit-schemas'), 'audit.md');
  fs.writeFileSync(doc, withEventTypeTable(fs.readFileSync(doc, 'utf8')));
}
