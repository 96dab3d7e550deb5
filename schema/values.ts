// The value tests every reader of token documents shares.

export type Obj = Record<string, unknown>;

/** A mapping (not null, not a list). */
export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Absent, null and "" all mean "not set": YAML and Terraform both produce them for unset fields,
 * and Teleport reads an empty string as the unset zero value.
 */
export function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}
