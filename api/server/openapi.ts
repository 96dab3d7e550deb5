// The OpenAPI 3.1 description of the HTTP API. A test checks it lists exactly the served routes.

import { ALLOW_RULE_FIELDS, MANAGED_BY_LABEL, ORIGINS, RECORDED_CLIENTS, TOKEN_FIELDS, type TokenField } from '../../schema/token-fields';
import type { JoinMethodModule } from '../join/method';
import { joinMethodModules } from '../join/methods';
import { refusalsFor } from '../join/refusals';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination';
import { AUDIT_FILTERS } from './routes/audit';

const RENEW_REFUSAL_CODES = refusalsFor('renew');

const str = { type: 'string' } as const;
const error = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
const tokenBody = {
  required: true,
  content: {
    'application/json': { schema: { $ref: '#/components/schemas/Token' } },
    'application/yaml': { schema: { $ref: '#/components/schemas/Token' } },
  },
};
const tokenResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Token' } } } });
const admin = [{ admin: [] }];
const nameParam = { name: 'name', in: 'path', required: true, schema: str };
const hostParam = { name: 'hostId', in: 'path', required: true, schema: str };
const pageParams = [
  { name: 'limit', in: 'query', description: `Items per page, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}); a page may hold fewer when its items are large.`, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } },
  { name: 'page_token', in: 'query', description: 'The next_page_token of the previous page (opaque). Without it the first page is returned.', schema: str },
];
const pageErrors = { '400': errorResponse('limit out of range or not an integer (invalid_query, field limit), or a page_token this server did not issue for this list (invalid_page_token)') };
/** A list answer: one page and, while more remain, next_page_token; clients follow it until it is absent. */
const listResponse = (key: string, items: Record<string, unknown>, description: string) => ({
  description,
  content: {
    'application/json': {
      schema: { type: 'object', required: [key], properties: { [key]: { type: 'array', items }, next_page_token: { ...str, description: 'Present when more items follow: pass it as page_token to get them' } } },
    },
  },
});
const joinResponse = { description: 'Joined; or, with dry_run, the evaluation ({dry_run: true, would_join, code?, checks, rules})', content: { 'application/json': { schema: { $ref: '#/components/schemas/JoinResponse' } } } };
const joinRefusals = {
  '400': errorResponse('Malformed join request'),
  '403': errorResponse('Join refused; error.code says why (see x-refusal-codes)'),
  '409': errorResponse('Host already joined'),
  '429': errorResponse('AWS throttled the verification (aws_throttled), or too many join requests from this address (rate_limited); retry later'),
  '503': errorResponse("The cluster CA's key service (AWS KMS, an HSM) could not sign (ca_unavailable); nothing was issued or used up: retry later"),
};

const dryRun = { type: 'boolean', description: 'Evaluate the join without admitting: the answer is the evaluation (would_join, code, checks, rules: which checks failed on which of the host\'s own values, never what the token asks for); nothing is written but the audit event' };

/** Every check of a dry run with its outcome. */
const evaluation = {
  type: 'object',
  required: ['would_join', 'checks', 'rules'],
  properties: {
    would_join: { type: 'boolean' },
    code: { ...str, description: 'The refusal code (x-refusal-codes) when would_join is false' },
    message: str,
    host_id: str,
    identity: { type: 'object', additionalProperties: str, description: 'The verified facts: aws_account, aws_region, instance_id, arn, organization_id, ...' },
    checks: { type: 'array', items: { type: 'object', properties: { check: str, ok: { type: 'boolean' }, detail: str } } },
    rules: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, matched: { type: 'boolean' }, checks: { type: 'array', items: { type: 'object', properties: { check: str, ok: { type: 'boolean' }, detail: str } } } } } },
  },
};

function tokenTestOperation(summary: string) {
  return {
    summary,
    description: 'Changes nothing: no token is consumed, no node written, no join audited. The IID signature is checked; an ARN is taken as stated. check_aws adds ec2:DescribeInstances (as the admitting rule\'s aws_role) and the AWS Organizations lookup.',
    security: admin,
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: {
              iid: { ...str, description: 'The instance identity document as IMDS gives it (/latest/dynamic/instance-identity/rsa2048: base64 of the PKCS#7, or PEM)' },
              arn: { ...str, description: 'An IAM or STS ARN, as sts:GetCallerIdentity would answer' },
              account: { ...str, description: 'The ARN\'s account (optional)' },
              role: { ...str, description: 'Also check the token grants this role' },
              check_aws: { type: 'boolean', default: false },
            },
          },
        },
      },
    },
    responses: {
      '200': { description: 'Each token tested, with every check', content: { 'application/json': { schema: { type: 'object', required: ['would_join', 'results'], properties: { would_join: { type: 'boolean' }, results: { type: 'array', items: { ...evaluation, properties: { ...evaluation.properties, token: str, method: str } } } } } } } },
      '400': errorResponse('No proof, an unknown field, or a malformed document (iid_malformed)'),
      '401': errorResponse('Unauthenticated'),
      '403': errorResponse('The document\'s signature does not verify (iid_signature_invalid, iid_region_unsupported)'),
      '404': errorResponse('No such token'),
    },
  };
}

/** What the agent may say of itself at join and renewal (the inventory shows it; nothing decides on it). */
const AGENT_REPORT = {
  agent_version: { type: 'string', maxLength: 64, description: "the agent's version, for the inventory only" },
  hostname: { type: 'string', maxLength: 253, description: "the machine's hostname, for the inventory only" },
};

const LOCK_EXPIRES = { type: 'string', format: 'date-time', description: 'when the lock ends, RFC 3339, ahead of now and at most a year ahead (what Terraform declares; give ttl or expires, not both)' };
const LOCK_MESSAGE = { type: 'string', maxLength: 256, description: 'what a refused host is told' };
const CLIENT_PARAM = {
  name: 'Joinery-Client',
  in: 'header',
  description: `The writing tool; recorded as the token's ${MANAGED_BY_LABEL} label when the body declares none (teleport.dev/origin is left alone). Other values record nothing.`,
  schema: { type: 'string', enum: [...RECORDED_CLIENTS] },
};
const NODE_FILTERS = [
  { name: 'status', in: 'query', schema: { type: 'string', enum: ['active', 'expired', 'removed'] } },
  { name: 'method', in: 'query', schema: { type: 'string' }, description: 'join method' },
  { name: 'token', in: 'query', schema: { type: 'string' }, description: 'the token the host joined with' },
  { name: 'label', in: 'query', schema: { type: 'string' }, description: 'KEY=VALUE; repeat for several (all must match)' },
  { name: 'stale', in: 'query', schema: { type: 'string' }, description: 'a duration (1h): hosts last seen longer ago' },
];

/** POST /v1/join/<method>, from what the method's module declares: its fields and its refusal scope. */
function joinOperation(mod: JoinMethodModule) {
  const own = Object.entries(mod.fields);
  const properties = {
    token_name: str,
    role: str,
    ...Object.fromEntries(own.map(([name, f]) => [name, f.description ? { type: f.type, description: f.description } : { type: f.type }])),
    public_key: str,
    ...AGENT_REPORT,
    dry_run: dryRun,
  };
  const required = ['token_name', 'role', ...own.filter(([, f]) => f.required).map(([name]) => name), 'public_key'];
  return {
    post: {
      summary: mod.summary,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required, properties } } } },
      responses: { '200': joinResponse, ...joinRefusals },
      'x-refusal-codes': refusalsFor(mod.method),
    },
  };
}

/** A method's challenge endpoint (iam), for the methods that have one. */
function challengeOperation(mod: JoinMethodModule) {
  return { post: { summary: mod.challenge!.summary, responses: { '200': { description: '{challenge, expires}' }, '429': errorResponse(mod.challenge!.exhausted) } } };
}

/** Every registered method's operations (api/join/methods.ts). */
function joinPaths(mods: readonly JoinMethodModule[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const mod of mods) {
    if (mod.challenge) paths[`/v1/join/${mod.method}/challenge`] = challengeOperation(mod);
    paths[`/v1/join/${mod.method}`] = joinOperation(mod);
  }
  return paths;
}

/** A declared field (schema/token-fields.ts) as a JSON Schema: the one declaration, again. */
function fieldSchema(field: TokenField): Record<string, unknown> {
  const t = field.type;
  const common = { description: field.doc, ...(field.server === 'assigned' ? { readOnly: true } : {}) };
  switch (t.kind) {
    case 'string':
      if (t.enum?.length === 1) return { ...common, const: t.enum[0] };
      return { ...common, type: 'string', ...(t.enum ? { enum: [...t.enum] } : {}), ...(t.format ? { format: t.format } : {}), ...(t.pattern ? { pattern: t.pattern.source } : {}) };
    case 'list':
      return { ...common, type: 'array', maxItems: t.maxItems, items: { type: 'string', ...(t.enum ? { enum: [...t.enum] } : {}) } };
    case 'map':
      return { ...common, type: 'object', maxProperties: t.maxEntries, additionalProperties: t.values === 'string' ? str : { oneOf: [str, { type: 'array', items: str }] } };
    case 'object':
      return { ...common, ...objectSchema(t.fields) };
    case 'objects':
      // The allow rules are a named component, as clients generated from this document expect.
      return { ...common, type: 'array', maxItems: t.maxItems, items: { $ref: '#/components/schemas/AllowRule' } };
  }
}

function objectSchema(fields: readonly TokenField[]): { type: 'object'; additionalProperties: false; required?: string[]; properties: Record<string, unknown> } {
  const required = fields.filter((f) => f.required).map((f) => f.name);
  return { type: 'object', additionalProperties: false, ...(required.length ? { required } : {}), properties: Object.fromEntries(fields.map((f) => [f.name, fieldSchema(f)])) };
}

export function openApiDocument(version: string, mods: readonly JoinMethodModule[] = joinMethodModules()) {
  return {
    openapi: '3.1.0',
    info: { title: 'Joinery API', version, description: 'Join tokens and join verification for hosts on AWS.' },
    components: {
      securitySchemes: { admin: { type: 'http', scheme: 'bearer', description: 'The admin credential (<data-dir>/admin-token or JOINERY_ADMIN_TOKEN).' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str, field: str, details: {} } } },
        },
        AllowRule: objectSchema(ALLOW_RULE_FIELDS),
        Token: {
          ...objectSchema(TOKEN_FIELDS),
          // The API also answers with the token's status, which is not part of the resource.
          additionalProperties: undefined,
          properties: {
            ...objectSchema(TOKEN_FIELDS).properties,
            status: { type: 'object', readOnly: true, properties: { expired: { type: 'boolean' } } },
          },
          'x-origins': [...ORIGINS],
        },
        Node: {
          type: 'object',
          properties: {
            host_id: str,
            join_method: str,
            token_name: { type: 'string', description: 'The token the host joined with; masked for the token join method (the name is its secret).' },
            role: str,
            joined_at: { type: 'string', format: 'date-time' },
            last_renewed_at: { type: ['string', 'null'], format: 'date-time' },
            cert_serial: { type: 'string', description: 'Serial (hex) of the newest certificate issued to the host' },
            cert_expires_at: { type: 'string', format: 'date-time' },
            status: { type: 'string', enum: ['active', 'expired', 'removed'], description: 'active: certificate valid; expired: lapsed without renewal (the host may join again); removed: revoked by an operator.' },
            removed_at: { type: ['string', 'null'], format: 'date-time' },
            attributes: { type: 'object', additionalProperties: str },
          },
        },
        JoinResponse: {
          type: 'object',
          required: ['host_id', 'certificate', 'ca_certificates', 'expires_at'],
          properties: {
            host_id: str,
            certificate: { type: 'string', description: 'PEM certificate signed by the cluster CA' },
            ca_certificates: { type: 'array', items: str },
            expires_at: { type: 'string', format: 'date-time', description: "The certificate's notAfter; agents renew at two thirds of the lifetime" },
          },
        },
      },
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'The process is up' } } } },
      '/readyz': { get: { summary: 'Readiness (storage answers)', responses: { '200': { description: 'Ready' }, '503': errorResponse('Not ready') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text exposition format' } } } },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
      '/v1/status': { get: { summary: 'Cluster name, version and CA pin', responses: { '200': { description: 'Status' } } } },
      '/v1/tokens': {
        get: {
          summary: 'List tokens, ordered by name, one page at a time (follow next_page_token)',
          security: admin,
          parameters: pageParams,
          responses: { '200': listResponse('tokens', { $ref: '#/components/schemas/Token' }, 'One page of tokens'), ...pageErrors, '401': errorResponse('No or wrong admin credential') },
        },
        post: {
          summary: 'Create a token',
          security: admin,
          parameters: [CLIENT_PARAM],
          requestBody: tokenBody,
          responses: {
            '201': tokenResponse('Created'),
            '400': errorResponse('Invalid token; error.field names the offending field'),
            '401': errorResponse('No or wrong admin credential'),
            '409': errorResponse('A token of that name exists'),
            '413': errorResponse('Body too large'),
            '415': errorResponse('Unsupported media type'),
          },
        },
      },
      '/v1/tokens/test': { post: tokenTestOperation('Dry run: a captured proof against every token of its method (an EC2 document against every ec2 token, an ARN against every iam token)') },
      '/v1/tokens/{name}/test': { parameters: [nameParam], post: tokenTestOperation('Dry run: a captured proof against this token') },
      '/v1/tokens/{name}': {
        parameters: [nameParam],
        get: { summary: 'Read a token', security: admin, responses: { '200': tokenResponse('The token'), '401': errorResponse('Unauthenticated'), '404': errorResponse('No such token') } },
        put: {
          summary: 'Create or replace a token (metadata.revision, when sent, must match)',
          security: admin,
          parameters: [CLIENT_PARAM],
          requestBody: tokenBody,
          responses: {
            '200': tokenResponse('Replaced'),
            '201': tokenResponse('Created'),
            '400': errorResponse('Invalid token'),
            '401': errorResponse('Unauthenticated'),
            '409': errorResponse('Revision conflict'),
            '413': errorResponse('Body too large'),
            '415': errorResponse('Unsupported media type'),
          },
        },
        delete: { summary: 'Delete a token', security: admin, responses: { '204': { description: 'Deleted' }, '401': errorResponse('Unauthenticated'), '404': errorResponse('No such token') } },
      },
      '/v1/nodes': {
        get: {
          summary: 'List joined hosts, ordered by host ID, one page at a time (follow next_page_token)',
          security: admin,
          parameters: [...pageParams, ...NODE_FILTERS],
          responses: { '200': listResponse('nodes', { type: 'object' }, 'One page of hosts'), ...pageErrors, '401': errorResponse('Unauthenticated') },
        },
      },
      '/v1/locks': {
        get: {
          summary: 'The active locks, one page at a time (follow next_page_token)',
          security: admin,
          parameters: pageParams,
          responses: { '200': listResponse('locks', { type: 'object' }, 'One page of locks'), ...pageErrors, '401': errorResponse('Unauthenticated') },
        },
        post: {
          summary: "Lock a host, instance, account, ARN glob or token: matching joins and renewals are refused `locked`, the matched hosts' unexpired certificates revoked",
          security: admin,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['kind', 'target'],
                  additionalProperties: false,
                  properties: {
                    kind: { type: 'string', enum: ['host_id', 'instance_id', 'account', 'arn', 'token'] },
                    target: { type: 'string', maxLength: 512 },
                    ttl: { type: 'string', description: 'a duration (24h) from now, at most 8784h; omit (with expires) for a lock until removed' },
                    expires: LOCK_EXPIRES,
                    message: LOCK_MESSAGE,
                  },
                },
              },
            },
          },
          responses: { '201': { description: 'Created, with revoked_certificates' }, '400': errorResponse('invalid_lock (the field says which)'), '401': errorResponse('Unauthenticated'), '409': errorResponse('too_many_locks') },
        },
      },
      '/v1/locks/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Read an active lock (a token lock\'s target masked when the token is a secret)', security: admin, responses: { '200': { description: 'Lock' }, '401': errorResponse('Unauthenticated'), '404': errorResponse('No such lock: removed, or expired') } },
        patch: {
          summary: 'Change an active lock\'s end or message, without a moment unlocked (its kind and target are fixed: another target is another lock). Audited as lock.update.',
          security: admin,
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { expires: { ...LOCK_EXPIRES, type: ['string', 'null'], description: `${LOCK_EXPIRES.description}; null for a lock until removed` }, message: { ...LOCK_MESSAGE, type: ['string', 'null'] } } } } },
          },
          responses: { '200': { description: 'The changed lock' }, '400': errorResponse('invalid_lock (the field says which)'), '401': errorResponse('Unauthenticated'), '404': errorResponse('No such lock: removed, or expired') },
        },
        delete: { summary: 'Remove a lock', security: admin, responses: { '204': { description: 'Removed' }, '401': errorResponse('Unauthenticated'), '404': errorResponse('No such lock') } },
      },
      '/v1/nodes/{hostId}': {
        parameters: [hostParam],
        get: { summary: 'Read a joined host', security: admin, responses: { '200': { description: 'Node' }, '401': errorResponse('Unauthenticated'), '404': errorResponse('No such node') } },
        delete: {
          summary: 'Remove (revoke) a joined host: renewal is refused at once, its unexpired certificates go on /v1/crl, and it may join again. Idempotent.',
          security: admin,
          responses: { '204': { description: 'Removed (or already removed)' }, '401': errorResponse('Unauthenticated'), '404': errorResponse('No such node') },
        },
      },
      '/v1/audit': {
        get: {
          summary: 'Audit events, newest first, one page at a time (follow next_page_token); filters combine with AND',
          security: admin,
          parameters: [...pageParams, ...Object.entries(AUDIT_FILTERS).map(([name, description]) => ({ name, in: 'query', description, schema: name === 'refused' ? { type: 'string', enum: ['true', 'false'] } : str }))],
          responses: { '200': listResponse('events', { type: 'object', description: 'An audit event; its JSON Schema is served at GET /v1/audit/schema' }, 'One page of events, newest first'), ...pageErrors, '401': errorResponse('Unauthenticated') },
        },
      },
      '/v1/audit/schema': {
        get: {
          summary: 'JSON Schemas (draft 2020-12) of the audit events: the bundle, or with ?type= one event type. Public.',
          parameters: [{ name: 'type', in: 'query', schema: str }],
          responses: { '200': { description: 'A JSON Schema', content: { 'application/schema+json': { schema: { type: 'object' } } } }, '404': errorResponse('No such event type') },
        },
      },
      ...joinPaths(mods),
      '/v1/renew': {
        post: {
          summary: 'Renew a host certificate; authenticated by the current host certificate as the TLS client certificate',
          description: 'Same host ID and role, a new serial, a new validity from now. The join token is not checked again: deleting it does not stop renewals; removing the node does.',
          requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { public_key: { type: 'string', description: 'A new SPKI PEM public key (key rotation); omit to keep the key' }, ...AGENT_REPORT } } } } },
          responses: {
            '200': { description: 'Renewed', content: { 'application/json': { schema: { $ref: '#/components/schemas/JoinResponse' } } } },
            '400': errorResponse('Malformed body or public_key'),
            '401': errorResponse('No client certificate (client_certificate_required)'),
            '403': errorResponse('Renewal refused; error.code says why (see x-refusal-codes)'),
            '429': errorResponse('Too many requests from this address (rate_limited)'),
            '503': errorResponse("The cluster CA's key service could not sign (ca_unavailable); retry later with the same certificate"),
          },
          'x-refusal-codes': RENEW_REFUSAL_CODES,
        },
      },
      '/v1/crl': {
        get: {
          summary: 'Certificate revocation list of the cluster CA: serials of unexpired certificates of removed hosts. Public. During a CA rotation each trusted CA signs its own: ca=<pin> picks one (GET /v1/ca lists them); without it, the CA that signs host certificates now.',
          parameters: [
            { name: 'format', in: 'query', schema: { type: 'string', enum: ['der', 'pem'], default: 'der' } },
            { name: 'ca', in: 'query', required: false, schema: str, description: 'The pin (sha256:<hex>) of a trusted CA whose CRL to serve' },
            { name: 'If-None-Match', in: 'header', required: false, schema: str, description: 'The ETag of the copy held; 304 while the CRL is unchanged' },
          ],
          responses: {
            '200': {
              description: 'The CRL (served from a cache rebuilt on each removal and every half validity)',
              headers: { ETag: { schema: str, description: 'Weak, W/"<CRL number in hex>-<first 16 hex digits of the CA pin>-<format>"; the same on every replica for the same list and CA' }, 'Cache-Control': { schema: str, description: 'public, max-age=60' } },
              content: { 'application/pkix-crl': { schema: { type: 'string', format: 'binary' } }, 'application/x-pem-file': { schema: str } },
            },
            '304': { description: 'Not modified: the ETag in If-None-Match is current' },
            '400': errorResponse('Unknown format'),
            '404': errorResponse('ca names no CA the cluster trusts (ca_not_trusted)'),
          },
        },
      },
      '/v1/ca': {
        get: {
          summary: 'Every CA the cluster trusts now, with its pin, its state (current, or next during a rotation), what it signs, and the rotation phase. Public.',
          responses: { '200': { description: '{phase, recorded_phase? (the phase the database records, when this server cannot follow it), mode, phase_started_at, next_phase?, next_phase_at?, cas: [{pin, state, signs, not_after, certificate}]}' } },
        },
      },
      '/v1/ca/rotate': {
        post: {
          summary: 'Start a CA rotation (no phase: init with a new CA; manual, grace, new_key), move it to a phase, or roll it back (admin; docs/ca.md)',
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { phase: { type: 'string', enum: ['update_clients', 'update_servers', 'standby', 'rollback'] }, rollback: { type: 'boolean' }, manual: { type: 'boolean' }, grace: str, new_key: str },
                },
              },
            },
          },
          responses: {
            '200': { description: 'The rotation after the change (as GET /v1/ca)' },
            '400': errorResponse('A malformed request, or a new key that cannot be used (invalid_new_key, new_key_required)'),
            '409': errorResponse('A phase the rotation cannot move to from where it is (invalid_phase_transition), or a rotation already in progress (rotation_in_progress)'),
          },
        },
      },
    },
    'x-refusal-codes': { ...Object.fromEntries(mods.map((m) => [m.method, refusalsFor(m.method)])), renew: RENEW_REFUSAL_CODES },
  };
}
