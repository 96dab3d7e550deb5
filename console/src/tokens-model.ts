// What the Tokens page knows about a token resource, apart from how it is shown.

import { isLongLivedSecret as longLived } from '../../api/server/console/overview';
import { maskTokenName } from './format';

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

/** Who changes the token, read from its origin label, and whether edits here will be overwritten. */
export function managedBy(t: Token): { who: string; drifts: boolean } {
  const origin = t.metadata.labels?.[ORIGIN_LABEL] ?? 'dynamic';
  switch (origin) {
    case 'dynamic':
      return { who: 'API (CLI, Terraform or CDKTF)', drifts: false };
    case 'kubernetes':
      return { who: 'Kubernetes operator', drifts: true };
    case 'config-file':
      return { who: 'configuration file', drifts: true };
    default:
      return { who: origin, drifts: true };
  }
}

export function ruleSummary(r: AllowRule): string {
  const parts = [r.aws_account, r.aws_regions?.join(' '), r.aws_role, r.aws_arn].filter(Boolean);
  for (const [k, v] of Object.entries(r)) {
    if (!['aws_account', 'aws_regions', 'aws_role', 'aws_arn'].includes(k) && v !== undefined && v !== '') parts.push(`${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return parts.join(' · ') || 'any';
}
