// Diagnostics as Terraform shows them: every failure (bad config, API errors, bugs) becomes one
// of these, attached to the attribute it concerns, never a gRPC error or a stack trace.

import { ApiError } from '../client/api-client';
import { maskTokenName } from '../schema/token';

export type PathStep = string | number | { key: string };
export interface Diagnostic {
  severity: 'ERROR' | 'WARNING';
  summary: string;
  detail: string;
  path?: PathStep[];
}

export function error(summary: string, detail = '', path?: PathStep[]): Diagnostic {
  return { severity: 'ERROR', summary, detail, path };
}

export function warning(summary: string, detail = '', path?: PathStep[]): Diagnostic {
  return { severity: 'WARNING', summary, detail, path };
}

/** The protobuf form of a diagnostic. */
export function toProto(d: Diagnostic): Record<string, unknown> {
  const out: Record<string, unknown> = { severity: d.severity, summary: d.summary, detail: d.detail };
  if (d.path && d.path.length) {
    out.attribute = {
      steps: d.path.map((s) =>
        typeof s === 'string' ? { attribute_name: s } : typeof s === 'number' ? { element_key_int: s } : { element_key_string: s.key },
      ),
    };
  }
  return out;
}

/**
 * Turns a field path of the token schema (`spec.allow[1].aws_account`, `metadata.labels["a"]`)
 * into attribute path steps.
 */
export function parseFieldPath(field: string): PathStep[] {
  const steps: PathStep[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\./gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < field.length && (m = re.exec(field))) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else if (m[3] !== undefined) steps.push({ key: JSON.parse(m[3]) as string });
  }
  return steps;
}

export function pathString(path: PathStep[] | undefined): string {
  return (path ?? []).map((s, i) => (typeof s === 'string' ? (i ? `.${s}` : s) : typeof s === 'number' ? `[${s}]` : `[${JSON.stringify(s.key)}]`)).join('');
}

/** One clear diagnostic for a failed API call. */
/**
 * The diagnostic for a failed API call. `secret`, when given, is a token-method name (a secret):
 * the server quotes names in its messages, so every occurrence is masked before Terraform prints it.
 */
export function apiDiagnostic(e: unknown, action: string, secret?: string): Diagnostic {
  const d = apiDiagnosticOf(e, action);
  if (!secret) return d;
  const hide = (text: string) => text.split(secret).join(maskTokenName(secret));
  return { ...d, summary: hide(d.summary), detail: hide(d.detail) };
}

function apiDiagnosticOf(e: unknown, action: string): Diagnostic {
  if (!(e instanceof ApiError)) {
    return error(`Unexpected error while ${action}`, e instanceof Error ? e.message : String(e));
  }
  if (e.status === 0 && e.code === 'untrusted') {
    return error('Cannot verify the Joinery API server', `${e.message}\n\nCheck ca_pin or ca_file (JOINERY_CA_PIN, JOINERY_CA_FILE) in the provider configuration.`);
  }
  if (e.status === 0) {
    return error('Cannot reach the Joinery API', `${e.message}\n\nCheck addr (or JOINERY_ADDR) and that the Joinery server is running.`);
  }
  if (e.status === 401) {
    return error('The Joinery API rejected the admin token', `${e.message}\n\nSet admin_token in the provider block or JOINERY_ADMIN_TOKEN to the server's admin token.`);
  }
  if (e.status === 403) return error('The admin token is not allowed to do this', e.message);
  const path = e.field ? parseFieldPath(e.field) : undefined;
  if (e.status === 400 || e.status === 422) return error('Invalid token', e.message, path);
  return error(`Joinery API error while ${action} (${e.status} ${e.code})`, e.message, path);
}
