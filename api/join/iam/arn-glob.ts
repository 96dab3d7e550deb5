// aws_arn patterns: `*` matches any run of characters (including none, and across `/` and `:`),
// `?` exactly one character, everything else itself; anchored at both ends, case-sensitive.
// Matched without regular expressions so no pattern can make matching slow.

import type { AwsAllowRule } from '../../../schema/token';
import type { CallerIdentity } from './sts-response';

export function arnGlobMatch(pattern: string, arn: string): boolean {
  const p = Array.from(pattern);
  const s = Array.from(arn);
  let pi = 0;
  let si = 0;
  // Where the last `*` was and how much of `s` it has swallowed so far: on a mismatch, let that
  // star take one more character. Greedy-with-backtrack over the last star only is enough for
  // `*`-only globs and runs in O(|p|·|s|) at worst.
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      starP = pi++;
      starS = si;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** A rule matches when every condition it sets holds (aws_account exact, aws_arn as a glob). */
export function iamRuleMatches(rule: AwsAllowRule, id: CallerIdentity): boolean {
  if (rule.aws_account === undefined && rule.aws_arn === undefined) return false;
  if (rule.aws_account !== undefined && rule.aws_account !== id.account) return false;
  if (rule.aws_arn !== undefined && !arnGlobMatch(rule.aws_arn, id.arn)) return false;
  return true;
}

/**
 * The first matching rule, or why none matched: `account` when no rule admits the caller's
 * account at all, `arn` when one does but its pattern rejects the caller ARN.
 */
export function matchIamRules(rules: AwsAllowRule[], id: CallerIdentity): { ok: true; rule: AwsAllowRule } | { ok: false; reason: 'account' | 'arn' } {
  const rule = rules.find((r) => iamRuleMatches(r, id));
  if (rule) return { ok: true, rule };
  const accountAdmitted = rules.some((r) => r.aws_account === id.account || (r.aws_account === undefined && r.aws_arn !== undefined));
  return { ok: false, reason: accountAdmitted ? 'arn' : 'account' };
}
