import { arnGlobMatch, iamRuleMatches, matchIamRules } from '../../api/join/iam/arn-glob';

const ROLE_ARN = 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0123456789abcdef0';

describe('aws_arn glob', () => {
  it.each([
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/*', ROLE_ARN],
    ['arn:aws:sts::333333333333:*', ROLE_ARN],
    ['*', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0123456789abcdef?', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/*/i-*', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*0', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0123456789abcdef0*', ROLE_ARN], // * matches the empty run
    [ROLE_ARN, ROLE_ARN],
    ['arn:aws:iam::111111111111:user/*', 'arn:aws:iam::111111111111:user/alice'],
    ['a*b*c', 'abc'],
    ['a*b*c', 'aXXbYYbZZc'],
    ['*a', 'aaaa'],
  ])('%s matches %s', (pattern, arn) => {
    expect(arnGlobMatch(pattern, arn)).toBe(true);
  });

  it.each([
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*', 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/session'],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*', 'arn:aws:sts::444444444444:assumed-role/teleport-node-role/i-1'],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*', 'arn:aws:sts::333333333333:assumed-role/teleport-node-role-2/i-1'],
    // anchored at the start and the end
    ['sts::333333333333:assumed-role/*', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0123456789abcdef', ROLE_ARN],
    // ? is exactly one character
    ['arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-0123456789abcdef0?', ROLE_ARN],
    ['arn:aws:sts::33333333333?:assumed-role/*', 'arn:aws:sts::3333333333333:assumed-role/x'],
    // case-sensitive, no regex meaning for other characters
    ['ARN:aws:sts::333333333333:*', ROLE_ARN],
    ['arn:aws:sts::333333333333:assumed-role/teleport.node.role/*', 'arn:aws:sts::333333333333:assumed-role/teleportXnodeXrole/i-1'],
    ['arn:aws:sts::333333333333:assumed-role/[t]eleport-node-role/*', ROLE_ARN],
    ['', ROLE_ARN],
  ])('%s does not match %s', (pattern, arn) => {
    expect(arnGlobMatch(pattern, arn)).toBe(false);
  });

  it('stays fast on patterns built to backtrack', () => {
    const pattern = '*a'.repeat(200) + 'b';
    const arn = 'a'.repeat(2000);
    expect(arnGlobMatch(pattern, arn)).toBe(false);
  });
});

describe('iam allow rules', () => {
  const id = { account: '333333333333', arn: ROLE_ARN };
  const other = { account: '444444444444', arn: 'arn:aws:sts::444444444444:assumed-role/teleport-node-role/i-0123456789abcdef0' };

  it('a rule for one account never matches another account', () => {
    const rules = [
      { aws_account: '333333333333' },
      { aws_account: '333333333333', aws_arn: 'arn:aws:sts::*:assumed-role/teleport-node-role/*' },
      { aws_account: '333333333333', aws_arn: '*' },
    ];
    for (const rule of rules) {
      expect(iamRuleMatches(rule, id)).toBe(true);
      expect(iamRuleMatches(rule, other)).toBe(false);
    }
    expect(iamRuleMatches({ aws_arn: 'arn:aws:sts::333333333333:assumed-role/*' }, other)).toBe(false);
  });

  it('needs every condition a rule sets', () => {
    expect(iamRuleMatches({ aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/other/*' }, id)).toBe(false);
    expect(iamRuleMatches({ aws_arn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/*' }, id)).toBe(true);
    expect(iamRuleMatches({}, id)).toBe(false);
  });

  it('matches the seed token rules and says why nothing matched', () => {
    const seed = [
      { aws_account: '111111111111' },
      { aws_account: '222222222222' },
      { aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*' },
    ];
    expect(matchIamRules(seed, { account: '111111111111', arn: 'arn:aws:iam::111111111111:user/anyone' }).ok).toBe(true);
    expect(matchIamRules(seed, id)).toEqual({ ok: true, rule: seed[2] });
    expect(matchIamRules(seed, { account: '333333333333', arn: 'arn:aws:sts::333333333333:assumed-role/other-role/i-1' })).toEqual({ ok: false, reason: 'arn' });
    expect(matchIamRules(seed, other)).toEqual({ ok: false, reason: 'account' });
  });
});
