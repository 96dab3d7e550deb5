// What the Tokens page knows about a token resource, apart from how it is shown.

import { isLongLivedSecret as longLived } from '../../api/server/console/overview';
import { maskTokenName } from './format';
import { MANAGED_BY_LABEL } from '../../schema/token-fields';

export interface AllowRule {
  aws_account?: string;
  aws_regions?: string[];
  aws_role?: string;
  aws_arn?: string;
  [k: string]: unknown;
}

export interface Token {
  kind?: string;
  version: string;
  metadata: { name: string; expires?: string; labels?: Record<string, string>; revision?: string; description?: string };
  spec: { roles: string[]; join_method: string; allow?: AllowRule[]; aws_iid_ttl?: string; [k: string]: unknown };
  status?: { expired: boolean };
}

export const ORIGIN_LABEL = 'teleport.dev/origin';

/** What the list shows as a token's name: a token-method name is the secret, so only its tail. */
export function displayName(t: Token): string {
  return t.spec.join_method === 'token' ? maskTokenName(t.metadata.name) : t.metadata.name;
}

/** A live token-method secret that outlives a day (the server's overview counts the same). */
export function isLongLivedSecret(t: Token): boolean {
  return !t.status?.expired && longLived(t, new Date());
}

export interface Manager {
  /** Who changes the token, as the list shows it. */
  who: string;
  /** Whether that tool will overwrite (or re-create) what is changed here. */
  drifts: boolean;
  /** What an edit here means, for the editor. */
  advice: string;
}

/** The tools that declare tokens in code: an edit here lasts until their next apply. */
const IN_CODE: Record<string, string> = { terraform: 'Terraform', cdktf: 'CDKTF' };

/**
 * Who manages the token. A system other than the API (origin kubernetes, config-file, ...) wins;
 * for API-made tokens (origin dynamic), the joinery.dev/managed-by label the CDKTF constructs
 * declare or the server records from the writing client (Terraform, the CLI, this console).
 */
export function managedBy(t: Token): Manager {
  const labels = t.metadata.labels ?? {};
  const origin = labels[ORIGIN_LABEL] ?? 'dynamic';
  if (origin !== 'dynamic') {
    const who = origin === 'kubernetes' ? 'Kubernetes operator' : origin === 'config-file' ? 'configuration file' : origin;
    return { who, drifts: true, advice: 'That system will overwrite edits made here.' };
  }
  const tool = labels[MANAGED_BY_LABEL];
  if (tool === undefined) return { who: 'API (tool not recorded)', drifts: false, advice: 'Which tool made this token is not recorded (a plain API call). If Terraform or CDKTF manage it, the next apply reverts edits made here: change the code instead.' };
  if (IN_CODE[tool]) return { who: IN_CODE[tool], drifts: true, advice: `${IN_CODE[tool]} declares this token: the next apply reverts edits made here. Change the code instead.` };
  if (tool === 'cli') return { who: 'CLI', drifts: false, advice: 'Created with the joinery CLI: edits here are not overwritten by any declaration.' };
  if (tool === 'console') return { who: 'console', drifts: false, advice: 'Created in this console: edits here are not overwritten by any declaration.' };
  return { who: tool, drifts: true, advice: `Declared as managed by ${tool}, which may overwrite edits made here.` };
}

export function ruleSummary(r: AllowRule): string {
  const parts = [r.aws_account, r.aws_regions?.join(' '), r.aws_role, r.aws_arn].filter(Boolean);
  for (const [k, v] of Object.entries(r)) {
    if (!['aws_account', 'aws_regions', 'aws_role', 'aws_arn'].includes(k) && v !== undefined && v !== '') parts.push(`${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return parts.join(' · ') || 'any';
}
