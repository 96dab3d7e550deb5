// Translation between Terraform values of teleport_provision_token and the token resource of
// schema/token.ts, and plan-time validation. Validation delegates to the shared schema: parseToken
// when the configuration is wholly known, its field checkers on the known parts otherwise.

import { createHash } from 'node:crypto';
import type { TokenResource } from '../client/api-client';
import {
  checkAwsAccount,
  checkAwsArn,
  checkAwsRegion,
  checkAwsRole,
  checkDuration,
  checkExpires,
  checkJoinMethod,
  checkLabelKey,
  checkLabelValue,
  checkName,
  checkRole,
  DEFAULT_ORIGIN,
  inferJoinMethod,
  ORIGIN_LABEL,
  TOKEN_VERSION,
  validateToken,
  type TokenInput,
} from '../schema/token';
import { sameInstant } from '../schema/time';
import { ALLOW_RULE_FIELDS, fieldAt, MANAGED_BY_LABEL, type TokenField } from '../schema/token-fields';
import { isUnknown, isWhollyKnown, UNKNOWN, type CtyObject, type CtyValue } from './cty';
import { error, parseFieldPath, pathString, type Diagnostic, type PathStep } from './diagnostics';

type Obj = CtyObject;

/**
 * The resource ID. A `token`-method token's name is its secret, and Terraform prints IDs in every
 * plan and apply (`Refreshing state... [id=...]`), so such a token is identified by a digest of
 * its name instead; ec2 and iam names are not secret and stay readable.
 */
export function resourceId(name: string, joinMethod: string): string {
  return joinMethod === 'token' ? `token-sha256-${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16)}` : name;
}

export function asObj(v: CtyValue | undefined): Obj | undefined {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function asStr(v: CtyValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function asList(v: CtyValue | undefined): CtyValue[] | undefined {
  return Array.isArray(v) ? v : undefined;
}
function asStringMap(v: CtyValue | undefined): Record<string, string> | undefined {
  const o = asObj(v);
  if (!o) return undefined;
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
/** "" is "not set" in the token schema, as in Terraform providers generally. */
function isSet(v: CtyValue | undefined): boolean {
  return v !== null && v !== undefined && v !== '';
}

/**
 * The join method a token without an explicit one gets: the token schema infers ec2 when allow
 * rules exist and token otherwise (see parseSpec in schema/token.ts). UNKNOWN while the rules are.
 */
export function inferredJoinMethod(allow: CtyValue | undefined): CtyValue {
  if (isUnknown(allow)) return UNKNOWN;
  return inferJoinMethod(allow);
}

/** The labels of a resource value: the top-level alias merged with metadata.labels. */
function mergedLabels(value: Obj): Record<string, string> | undefined {
  const top = asStringMap(value.labels);
  const md = asStringMap(asObj(value.metadata)?.labels);
  if (!top && !md) return undefined;
  return { ...(md ?? {}), ...(top ?? {}) };
}

/** The token a (known) resource value describes, in the shape the API and parseToken take. */
export function tokenFromValue(value: Obj): TokenInput {
  const md = asObj(value.metadata) ?? {};
  const spec = asObj(value.spec) ?? {};
  const metadata: Record<string, unknown> = {};
  if (isSet(md.name)) metadata.name = md.name;
  if (isSet(md.description)) metadata.description = md.description;
  const labels = mergedLabels(value);
  if (labels) metadata.labels = labels;
  if (isSet(md.expires)) metadata.expires = md.expires;
  if (isSet(md.namespace)) metadata.namespace = md.namespace;

  const out: Record<string, unknown> = {};
  if (isSet(spec.roles)) out.roles = asList(spec.roles)?.filter((r) => !isUnknown(r));
  if (isSet(spec.join_method) && !isUnknown(spec.join_method)) out.join_method = spec.join_method;
  if (isSet(spec.bot_name)) out.bot_name = spec.bot_name;
  const allow = asList(spec.allow);
  if (allow && allow.length) out.allow = allow.map((r) => setFields(asObj(r) ?? {}, ALLOW_RULE_FIELDS));
  if (isSet(spec.aws_iid_ttl) && !isUnknown(spec.aws_iid_ttl)) out.aws_iid_ttl = spec.aws_iid_ttl;
  for (const name of ['suggested_labels', 'suggested_agent_matcher_labels'] as const) {
    const labels = asObj(spec[name]);
    if (labels && Object.keys(labels).length) out[name] = labels;
  }
  const top: Record<string, unknown> = { kind: isSet(value.kind) ? value.kind : 'token', version: asStr(value.version), metadata, spec: out };
  if (isSet(value.sub_kind)) top.sub_kind = value.sub_kind;
  return top as TokenInput;
}

/** The set fields of a nested value as the token schema takes them: unset and empty ones left out. */
function setFields(value: Obj, fields: readonly TokenField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = value[f.name];
    if (!isSet(v) || isUnknown(v)) continue;
    if (f.type.kind === 'object') {
      const nested = setFields(asObj(v) ?? {}, f.type.fields);
      if (Object.keys(nested).length) out[f.name] = nested;
    } else if (f.type.kind === 'list') {
      const list = asList(v);
      if (list && list.length) out[f.name] = list;
    } else out[f.name] = v;
  }
  return out;
}

/** A stored value of a declared field as a Terraform value: absent is null, nested objects follow their fields. */
function fieldValue(v: unknown, f: TokenField): CtyValue {
  if (v === undefined || v === null) return null;
  if (f.type.kind === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(f.type.fields.map((c) => [c.name, fieldValue(o[c.name], c)]));
  }
  if (f.type.kind === 'list') return Array.isArray(v) && v.length ? [...(v as string[])] : null;
  if (f.type.kind === 'map' && f.type.values === 'string-or-list') {
    // Teleport's Labels (a value or a list per key) are lists in Terraform.
    const entries = Object.entries(v as Record<string, string | string[]>);
    return entries.length ? Object.fromEntries(entries.map(([k, x]) => [k, Array.isArray(x) ? [...x] : [x]])) : null;
  }
  return v as CtyValue;
}

/** Whether two tokens mean the same once the schema's normalization and defaults are applied. */
export function sameToken(a: TokenInput, b: TokenInput): boolean {
  const strip = (t: TokenInput) => ({ ...t, metadata: { ...t.metadata, revision: undefined } });
  const ra = validateToken(strip(a));
  const rb = validateToken(strip(b));
  return ra.ok && rb.ok && JSON.stringify(ra.token) === JSON.stringify(rb.token);
}

/** A label path of the token schema, pointed at the attribute the user actually wrote it in. */
function labelPath(steps: PathStep[], config: Obj): PathStep[] {
  if (steps[0] !== 'metadata' || steps[1] !== 'labels' || typeof steps[2] !== 'object') return steps;
  const key = steps[2].key;
  const top = asObj(config.labels);
  const md = asObj(asObj(config.metadata)?.labels);
  return top && key in top && !(md && key in md) ? ['labels', steps[2], ...steps.slice(3)] : steps;
}

/** Plan-time validation of a resource configuration, with each problem on its attribute path. */
export function validateResourceConfig(config: Obj): Diagnostic[] {
  const diags: Diagnostic[] = [];
  const invalid = (path: PathStep[], message: string | undefined) => {
    if (message) diags.push(error('Invalid token', `${pathString(path)}: ${message}`, path));
  };

  // The top-level labels alias and metadata.labels must not disagree.
  const top = asObj(config.labels);
  const mdLabels = asObj(asObj(config.metadata)?.labels);
  if (top && mdLabels) {
    for (const [k, v] of Object.entries(top)) {
      if (k in mdLabels && !isUnknown(v) && !isUnknown(mdLabels[k]) && v !== mdLabels[k]) {
        invalid(['labels', { key: k }], `conflicts with metadata.labels[${JSON.stringify(k)}]; set the label in one place`);
      }
    }
  }

  if (!isWhollyKnown(config)) {
    checkKnownParts(config, invalid);
    return diags;
  }

  const input = tokenFromValue(config);
  if (!input.metadata?.name) {
    // A name left out is judged by the plan (missingNameDiagnostics), which knows whether the
    // token exists: the server generates a token-method name, and an existing token keeps its
    // name from the state (configuration written by -generate-config-out leaves the sensitive
    // name out). Validate the rest.
    input.metadata = { ...input.metadata, name: 'generated-by-the-server' };
  }
  const result = validateToken(input);
  if (!result.ok) {
    for (const e of result.errors) {
      const steps = labelPath(parseFieldPath(e.field), config);
      diags.push(error('Invalid token', `${e.field || 'token'}: ${e.message}`, steps));
    }
  }
  return diags;
}

/** With unknowns in the configuration only the known values can be checked, one by one. */
function checkKnownParts(config: Obj, invalid: (path: PathStep[], message: string | undefined) => void): void {
  const known = (v: CtyValue | undefined): v is string => typeof v === 'string' && v !== '';
  if (known(config.version) && config.version !== TOKEN_VERSION) invalid(['version'], `must be "${TOKEN_VERSION}" (got ${JSON.stringify(config.version)})`);
  const md = asObj(config.metadata);
  if (md && known(md.name)) invalid(['metadata', 'name'], checkName(md.name));
  if (md && known(md.expires)) invalid(['metadata', 'expires'], checkExpires(md.expires));
  for (const [base, labels] of [[['labels'], asObj(config.labels)], [['metadata', 'labels'], asObj(md?.labels)]] as const) {
    for (const [k, v] of Object.entries(labels ?? {})) {
      if (!isUnknown(v)) invalid([...base, { key: k }], checkLabelKey(k) ?? checkLabelValue(k, v));
    }
  }
  const spec = asObj(config.spec);
  if (!spec) return;
  asList(spec.roles)?.forEach((r, i) => known(r) && invalid(['spec', 'roles', i], checkRole(r)));
  if (known(spec.join_method)) invalid(['spec', 'join_method'], checkJoinMethod(spec.join_method));
  if (known(spec.bot_name)) invalid(['spec', 'bot_name'], checkName(spec.bot_name));
  if (known(spec.aws_iid_ttl)) invalid(['spec', 'aws_iid_ttl'], checkDuration(spec.aws_iid_ttl));
  asList(spec.allow)?.forEach((raw, i) => {
    const rule = asObj(raw);
    if (!rule) return;
    const at = (k: string): PathStep[] => ['spec', 'allow', i, k];
    if (known(rule.aws_account)) invalid(at('aws_account'), checkAwsAccount(rule.aws_account));
    if (known(rule.aws_role)) invalid(at('aws_role'), checkAwsRole(rule.aws_role));
    if (known(rule.aws_arn)) invalid(at('aws_arn'), checkAwsArn(rule.aws_arn));
    asList(rule.aws_regions)?.forEach((r, j) => known(r) && invalid([...at('aws_regions'), j], checkAwsRegion(r)));
  });
}

/**
 * The resource value for a token read from the API. `prior` (the state or plan it refreshes) decides
 * presentation only: where labels go (top-level alias or metadata.labels), whether the default
 * origin label is shown, and the spelling of case-insensitive roles.
 */
export function valueFromToken(token: TokenResource, prior: Obj | null, opts: { showDefaultOrigin?: boolean } = {}): Obj {
  const priorTop = asObj(prior?.labels);
  const priorMd = asObj(asObj(prior?.metadata)?.labels);
  const labels: Record<string, string> = { ...(token.metadata.labels ?? {}) };
  const priorHasOrigin = (priorTop && ORIGIN_LABEL in priorTop) || (priorMd && ORIGIN_LABEL in priorMd);
  // The server adds origin=dynamic to every token; show it only when the configuration has it.
  if (labels[ORIGIN_LABEL] === DEFAULT_ORIGIN && !priorHasOrigin && !opts.showDefaultOrigin) delete labels[ORIGIN_LABEL];
  // The server records the managing tool (this provider: terraform) unless the configuration
  // declares it (the CDKTF constructs do): shown only when declared, so it never makes a diff.
  const priorHasManager = (priorTop && MANAGED_BY_LABEL in priorTop) || (priorMd && MANAGED_BY_LABEL in priorMd);
  if (MANAGED_BY_LABEL in labels && !priorHasManager && !opts.showDefaultOrigin) delete labels[MANAGED_BY_LABEL];
  const top: Obj = {};
  const md: Obj = {};
  for (const [k, v] of Object.entries(labels)) {
    if (priorTop && (k in priorTop || !priorMd)) top[k] = v;
    else md[k] = v;
  }
  const mapOrNull = (m: Obj, priorMap: Obj | undefined): CtyValue => (Object.keys(m).length ? m : priorMap && Object.keys(priorMap).length === 0 ? {} : null);

  const priorExpires = asObj(prior?.metadata)?.expires;
  const priorSpec = asObj(prior?.spec);
  const priorRoles = asList(priorSpec?.roles);
  const roles = token.spec.roles.map((r, i) => {
    const p = priorRoles?.[i];
    return typeof p === 'string' && p.toLowerCase() === r.toLowerCase() ? p : r;
  });
  const allow = token.spec.allow?.length
    ? token.spec.allow.map((r): Obj => Object.fromEntries(ALLOW_RULE_FIELDS.map((f) => [f.name, fieldValue((r as Record<string, unknown>)[f.name], f)])))
    : Array.isArray(priorSpec?.allow) && priorSpec!.allow.length === 0
      ? []
      : null;

  return {
    id: resourceId(token.metadata.name, token.spec.join_method),
    kind: 'token',
    sub_kind: token.sub_kind ?? (isSet(prior?.sub_kind) ? null : (prior?.sub_kind ?? null)),
    version: token.version,
    labels: mapOrNull(top, priorTop),
    metadata: {
      name: token.metadata.name,
      description: token.metadata.description ?? null,
      labels: mapOrNull(md, priorMd),
      // The server stores expiry normalised to UTC; the configuration's spelling of the same
      // instant (an offset, a zero fraction) is kept so the plan shows no change.
      expires: token.metadata.expires === undefined ? null : typeof priorExpires === 'string' && sameInstant(priorExpires, token.metadata.expires) ? priorExpires : token.metadata.expires,
      namespace: token.metadata.namespace ?? null,
    },
    spec: {
      roles,
      join_method: token.spec.join_method,
      bot_name: token.spec.bot_name ?? null,
      allow,
      aws_iid_ttl: token.spec.aws_iid_ttl ?? null,
      suggested_labels: fieldValue(token.spec.suggested_labels, fieldAt('spec.suggested_labels')),
      suggested_agent_matcher_labels: fieldValue(token.spec.suggested_agent_matcher_labels, fieldAt('spec.suggested_agent_matcher_labels')),
    },
  };
}

/** The data source's value: the token exactly as the API holds it. */
export function dataValueFromToken(token: TokenResource): Obj {
  const { labels: _alias, ...rest } = valueFromToken(token, null, { showDefaultOrigin: true });
  return rest;
}

/** Fills the unknowns of a planned value from the applied result; known planned values stay. */
export function fillUnknowns(planned: CtyValue, actual: CtyValue): CtyValue {
  if (isUnknown(planned)) return actual;
  if (Array.isArray(planned)) {
    const a = Array.isArray(actual) ? actual : [];
    return planned.map((e, i) => fillUnknowns(e, a[i] ?? null));
  }
  if (planned !== null && typeof planned === 'object') {
    const a = asObj(actual) ?? {};
    return Object.fromEntries(Object.entries(planned).map(([k, e]) => [k, fillUnknowns(e, a[k] ?? null)]));
  }
  return planned;
}
