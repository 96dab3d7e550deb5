// What a join method is: a module that reads its own request fields, turns the proof into a
// verified identity (its AWS calls are its only effects) and evaluates a token's allow rules
// against that identity without any effect at all. The pipeline (pipeline.ts) does the rest:
// the token, admission and the audit. A module also declares what the rest of the server derives
// from it: its request fields (the route and the OpenAPI operation), its audit event codes (the
// audit catalog and its JSON Schemas) and, by its name, its refusal scope (api/join/refusals.ts).
// Adding a method is one module and one entry in methods.ts; docs/join-methods.md lists the rest.

import type { JoinMethod, ProvisionToken } from '../../schema/token';
import type { JoinServices } from './admit';
import type { JoinError } from './errors';

/** One condition of one allow rule (or of the token), and whether the identity meets it. */
export interface Check {
  /** The rule field or token property checked: aws_account, aws_regions, aws_arn, aws_iid_ttl, ... */
  check: string;
  ok: boolean;
  /** The identity's value that was checked (the host knows it already). */
  value?: string;
  /** What the rule or token asks for: for the operator, never for the host. */
  wanted?: string;
  /** Operator's sentence: "aws_regions [us-west-1] does not include eu-west-1". */
  detail: string;
}

export interface RuleResult {
  index: number;
  matched: boolean;
  checks: Check[];
}

/** The outcome of the pure rule evaluation: which rule admits, or the refusal and every rule's result. */
export interface Evaluation {
  /** Token-wide conditions the method adds (aws_iid_ttl, ...). */
  checks: Check[];
  rules: RuleResult[];
  /** Index into `rules` of the admitting rule; undefined when refused or when the method has no rules. */
  admittedBy?: number;
  refusal?: JoinError;
}

/** The facts a verifier established, as strings, for the audit and the answer (aws_account, instance_id, arn, ...). */
export type IdentityFacts = Record<string, string>;

export interface VerifiedIdentity {
  facts: IdentityFacts;
  /** The host ID the identity implies (ec2: account-instance); undefined = the server assigns one. */
  hostId?: string;
  /** Stored on the node row. */
  attributes: Record<string, string>;
  /** Inventory labels from a verified source (ec2: the instance's tags as `aws/<Key>`), set by confirm. */
  labels?: Record<string, string>;
}

/** A body field a method reads besides token_name, role, public_key and dry_run, as OpenAPI shows it. */
export interface RequestField {
  type: 'string' | 'object';
  required: boolean;
  description?: string;
}

/** The audit event of a join of this method: `join.<method>`, with its stable codes (api/audit/catalog.ts). */
export interface JoinEventCodes {
  /** The code of an admitted join, e.g. JJ002I: never reused, never changes meaning. */
  accepted: string;
  /** The code of a refused one, e.g. JJ002W. */
  refused: string;
  /** What the event means, for docs/audit.md and the event's JSON Schema. */
  meaning: string;
}

export interface JoinMethodModule<Proof = unknown, Identity extends VerifiedIdentity = VerifiedIdentity> {
  /** The name: the route POST /v1/join/<method>, the token's join_method, the refusal scope. */
  method: JoinMethod;
  /** The OpenAPI summary of POST /v1/join/<method>. */
  summary: string;
  /** The body fields this method reads besides token_name, role, public_key and dry_run. */
  fields: Readonly<Record<string, RequestField>>;
  eventCodes: JoinEventCodes;
  /** Reads (and bounds) the method's fields: 400 refusals only, no effects. */
  readProof(body: Record<string, unknown>): Proof;
  /** A method-specific refusal once the token is known (ec2: no bots). */
  checkToken?(token: ProvisionToken, role: string): void;
  /** Turns the proof into a verified identity. Effects: AWS calls, and the IAM challenge being used up. */
  verify(svc: JoinServices, token: ProvisionToken, proof: Proof): Promise<Identity>;
  /** Pure: the token's rules against the identity, at `now`. */
  evaluate(token: ProvisionToken, identity: Identity, now: Date): Evaluation;
  /** Lookups that need the admitting rule (ec2: DescribeInstances as the rule's aws_role). Adds facts. */
  confirm?(svc: JoinServices, token: ProvisionToken, identity: Identity, ruleIndex: number | undefined): Promise<void>;
  /**
   * A single-use challenge the host fetches first and binds into its proof (iam), served at
   * POST /v1/join/<method>/challenge. `summary` and `exhausted` (the 429's meaning) are for OpenAPI.
   */
  challenge?: {
    summary: string;
    exhausted: string;
    issue(svc: JoinServices): Promise<unknown>;
  };
  /**
   * The admin dry run (POST /v1/tokens/test): which body fields carry a captured proof, and the
   * identity they prove for `token` (without one: the proof is only checked). `checkAws` allows
   * the lookups a real join makes.
   */
  dryRun?: {
    fields: readonly string[];
    identity(svc: JoinServices, token: ProvisionToken | undefined, body: Record<string, unknown>, checkAws: boolean): Promise<Identity>;
  };
}

/** The operator's line for a rule: "allow[1]: aws_regions [us-west-1] does not include eu-west-1". */
export function ruleFailures(rule: RuleResult): string[] {
  return rule.checks.filter((c) => !c.ok).map((c) => c.detail);
}

/**
 * What an unauthenticated host is told about a rule: which checks failed and on which of its own
 * values, never what the rule asks for (accounts, regions, ARN patterns, organizations of the
 * token stay with the operator).
 */
export function publicRuleFailures(rule: RuleResult): string[] {
  return rule.checks.filter((c) => !c.ok).map(publicDetail);
}

/** A failed check as the host may hear it: the field and the host's own value. */
export function publicDetail(c: Check): string {
  return c.value === undefined ? `${c.check} does not hold` : `${c.check} does not admit ${c.value}`;
}
