import { actionMatches, evaluate, parsePolicy, resourceMatches } from './policy-evaluator.service.js';

const doc = (statements: object[], version = '2012-10-17') => JSON.stringify({ Version: version, Statement: statements });
const ctx = (username: string) => new Map([['aws:username', username]]);

describe('policy evaluator', () => {
  it('matches actions case-insensitively with * and ? wildcards', () => {
    expect(actionMatches('iam:*', 'iam:CreateAccessKey')).toBe(true);
    expect(actionMatches('IAM:*accesskey*', 'iam:UpdateAccessKey')).toBe(true);
    expect(actionMatches('iam:*AccessKey*', 'iam:ChangePassword')).toBe(false);
    expect(actionMatches('iam:Get?ser', 'iam:GetUser')).toBe(true);
    expect(actionMatches('iam:GetUser', 'iam:GetUserPolicy')).toBe(false);
    expect(actionMatches('sts:*', 'iam:GetUser')).toBe(false);
  });

  it('substitutes ${aws:username} in 2012-10-17 policies and never treats the value as a wildcard', () => {
    const missing = new Set<string>();
    const pattern = 'arn:aws:iam::123456789012:user/${aws:username}';
    expect(resourceMatches(pattern, 'arn:aws:iam::123456789012:user/alice', '2012-10-17', ctx('alice'), missing)).toBe(true);
    expect(resourceMatches(pattern, 'arn:aws:iam::123456789012:user/bob', '2012-10-17', ctx('alice'), missing)).toBe(false);
    expect(resourceMatches('arn:aws:iam::*:user/${aws:username}', 'arn:aws:iam::123456789012:user/a.b', '2012-10-17', ctx('a.b'), missing)).toBe(true);
    expect(resourceMatches('arn:aws:iam::*:user/${aws:username}', 'arn:aws:iam::123456789012:user/aXb', '2012-10-17', ctx('a.b'), missing)).toBe(false);
    expect(missing.size).toBe(0);
  });

  it('keeps ${...} literal in policies without the 2012-10-17 version', () => {
    const missing = new Set<string>();
    const pattern = 'arn:aws:iam::123456789012:user/${aws:username}';
    expect(resourceMatches(pattern, 'arn:aws:iam::123456789012:user/alice', undefined, ctx('alice'), missing)).toBe(false);
    expect(resourceMatches(pattern, pattern, '2008-10-17', ctx('alice'), missing)).toBe(true);
  });

  it('reports an unresolvable variable as missing and does not match', () => {
    const missing = new Set<string>();
    expect(resourceMatches('arn:aws:iam::1:user/${aws:username}', 'arn:aws:iam::1:user/x', '2012-10-17', new Map(), missing)).toBe(false);
    expect([...missing]).toEqual(['aws:username']);
  });

  it('supports the ${*} ${?} ${$} literal escapes', () => {
    const m = new Set<string>();
    expect(resourceMatches('arn:x:${*}', 'arn:x:*', '2012-10-17', new Map(), m)).toBe(true);
    expect(resourceMatches('arn:x:${*}', 'arn:x:abc', '2012-10-17', new Map(), m)).toBe(false);
    expect(resourceMatches('arn:x:${?}', 'arn:x:?', '2012-10-17', new Map(), m)).toBe(true);
    expect(resourceMatches('arn:x:${$}', 'arn:x:$', '2012-10-17', new Map(), m)).toBe(true);
  });

  it('defaults to implicit deny, lets Allow allow, and lets Deny win', () => {
    const allow = { name: 'a', document: doc([{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }]) };
    const deny = { name: 'd', document: doc([{ Effect: 'Deny', Action: ['iam:DeleteAccessKey'], Resource: ['*'] }]) };
    expect(evaluate([], 'iam:GetUser', '*', new Map()).decision).toBe('implicitDeny');
    expect(evaluate([allow], 'iam:GetUser', '*', new Map())).toMatchObject({ decision: 'allowed', matched: [{ policyName: 'a', statementIndex: 0 }] });
    expect(evaluate([allow, deny], 'iam:DeleteAccessKey', 'arn:aws:iam::1:user/x', new Map())).toMatchObject({
      decision: 'explicitDeny',
      matched: [{ policyName: 'd', statementIndex: 0 }],
    });
  });

  it('supports NotAction and NotResource', () => {
    const p = {
      name: 'n',
      document: doc([{ Effect: 'Allow', NotAction: 'iam:Delete*', NotResource: 'arn:aws:iam::1:user/admin' }]),
    };
    expect(evaluate([p], 'iam:CreateAccessKey', 'arn:aws:iam::1:user/bob', new Map()).decision).toBe('allowed');
    expect(evaluate([p], 'iam:DeleteAccessKey', 'arn:aws:iam::1:user/bob', new Map()).decision).toBe('implicitDeny');
    expect(evaluate([p], 'iam:CreateAccessKey', 'arn:aws:iam::1:user/admin', new Map()).decision).toBe('implicitDeny');
  });

  it('fails closed on conditions: a conditional Allow never applies, a conditional Deny always does', () => {
    const condition = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    const allow = { name: 'a', document: doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: condition }]) };
    const allowAll = { name: 'b', document: doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]) };
    const deny = { name: 'c', document: doc([{ Effect: 'Deny', Action: 'iam:GetUser', Resource: '*', Condition: condition }]) };
    expect(evaluate([allow], 'iam:GetUser', '*', new Map()).decision).toBe('implicitDeny');
    expect(evaluate([allowAll, deny], 'iam:GetUser', '*', new Map()).decision).toBe('explicitDeny');
  });

  it('rejects malformed documents with MalformedPolicyDocument', () => {
    for (const bad of [
      '{',
      '[]',
      JSON.stringify({ Version: '2012-10-17' }),
      doc([{ Effect: 'Maybe', Action: '*', Resource: '*' }]),
      doc([{ Effect: 'Allow', Resource: '*' }]),
      doc([{ Effect: 'Allow', Action: '*' }]),
      doc([{ Effect: 'Allow', Action: 42, Resource: '*' }]),
      doc([{ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' }]),
      JSON.stringify({ Version: '2020-01-01', Statement: [] }),
    ]) {
      expect(() => parsePolicy(bad)).toThrow(expect.objectContaining({ code: 'MalformedPolicyDocument', status: 400 }));
    }
    expect(() => parsePolicy(doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]))).not.toThrow();
  });
});
