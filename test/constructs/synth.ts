// Helpers for the construct tests: synthesize a scope and pick resources out of the JSON.
import { Testing } from 'cdktf';
import { IConstruct } from 'constructs';

export interface Synthesized {
  text: string;
  json: { resource?: Record<string, Record<string, Record<string, unknown>>>; data?: Record<string, Record<string, Record<string, unknown>>> };
}

export function synth(fn: (scope: IConstruct) => void): Synthesized {
  const text = Testing.synthScope(fn as never);
  return { text, json: JSON.parse(text) };
}

/** All resources of one type, without cdktf's "//" metadata. */
export function resources(s: Synthesized, type: string): Array<Record<string, any>> {
  return Object.values(s.json.resource?.[type] ?? {}).map(({ '//': _meta, ...rest }) => rest);
}

/** The only resource of `type`; fails when there is not exactly one. */
export function only(s: Synthesized, type: string): Record<string, any> {
  const all = resources(s, type);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** Names (friendly unique IDs) of the resources of `type`. */
export function resourceIds(s: Synthesized, type: string): string[] {
  return Object.keys(s.json.resource?.[type] ?? {});
}

/** The Terraform expression for an attribute of a resource, as it appears in synthesized JSON. */
export function ref(resource: { terraformResourceType: string; friendlyUniqueId: string }, attribute: string): string {
  return `\${${resource.terraformResourceType}.${resource.friendlyUniqueId}.${attribute}}`;
}
/** The same expression without the `${}`, for use inside a larger expression. */
export function expr(resource: { terraformResourceType: string; friendlyUniqueId: string }, attribute: string): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}.${attribute}`;
}
