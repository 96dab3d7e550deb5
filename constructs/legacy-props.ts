// The 0.1 props were the token schema's snake_case field names (`aws_iid_ttl`, `bot_name`, and
// `aws_account` in allow rules). They still work from JavaScript (and `as` casts) as deprecated
// aliases: each is renamed to its camelCase prop here and the construct records a warning. The
// declared (jsii) types only have the camelCase names, because jsii requires them.

import { Annotations } from 'cdktf';
import { IConstruct } from 'constructs';

/** 0.1 prop name -> current prop name, for token props and allow rules. */
export const LEGACY_TOKEN_PROPS: Readonly<Record<string, string>> = { bot_name: 'botName', aws_iid_ttl: 'awsIidTtl' };
export const LEGACY_RULE_PROPS: Readonly<Record<string, string>> = {
  aws_account: 'awsAccount',
  aws_regions: 'awsRegions',
  aws_role: 'awsRole',
  aws_arn: 'awsArn',
};

const used = new WeakMap<object, string[]>();

function renameKeys<T extends object>(obj: T, aliases: Readonly<Record<string, string>>, where: string, found: string[]): T {
  if (obj === null || typeof obj !== 'object') return obj;
  const keys = Object.keys(obj).filter((k) => k in aliases);
  if (keys.length === 0) return obj;
  const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  for (const k of keys) {
    const to = aliases[k];
    // The camelCase prop wins when both are given.
    if (out[to] === undefined) out[to] = out[k];
    delete out[k];
    found.push(`${where}${k} -> ${where}${to}`);
  }
  return out as T;
}

/**
 * Returns the props with 0.1 names renamed (the props themselves when there were none), and
 * remembers which were used, for {@link warnLegacyProps}.
 */
export function upgradeLegacyTokenProps<T extends object>(props: T, ruleKey: string | undefined): T {
  if (props === null || typeof props !== 'object') return props;
  const found: string[] = [];
  let out = renameKeys(props, LEGACY_TOKEN_PROPS, '', found);
  const rules = ruleKey ? (out as Record<string, unknown>)[ruleKey] : undefined;
  if (Array.isArray(rules)) {
    const renamed = rules.map((r, i) => renameKeys(r, LEGACY_RULE_PROPS, `${ruleKey}[${i}].`, found));
    if (renamed.some((r, i) => r !== rules[i])) out = { ...out, [ruleKey as string]: renamed };
  }
  if (found.length === 0) return props;
  used.set(out, found);
  return out;
}

/** Adds a deprecation warning to the construct for each 0.1 prop name the props were given with. */
export function warnLegacyProps(scope: IConstruct, props: object): void {
  for (const rename of used.get(props) ?? []) {
    Annotations.of(scope).addWarning(`deprecated 0.1 prop name: ${rename} (the 0.1 names are removed in 1.0)`);
  }
}
