import type { PolicyStatement, SecretTypeDefinition } from './secret-type-definition.js';

export type ChangeMode = 'basic' | 'privileged';

/**
 * The policy statements a change of a `def` secret needs, given the mode and
 * the ARNs (built by the caller, which knows the partition). The common
 * recommended ones come first, then the type's own.
 */
export function changeStatements(
  def: SecretTypeDefinition,
  mode: ChangeMode,
  arns: { target: string; executorSelf: string },
): { statement: PolicyStatement; recommended: PolicyStatement[] } {
  const p = def.permissions[mode];
  return {
    statement: { Sid: p.Sid, Effect: 'Allow', Action: [...p.Action], Resource: arns.target },
    recommended: [
      { Sid: 'KeyturnCheckUserId', Effect: 'Allow', Action: ['iam:GetUser'], Resource: arns.target },
      { Sid: 'KeyturnPreflight', Effect: 'Allow', Action: ['iam:SimulatePrincipalPolicy'], Resource: arns.executorSelf },
      ...def.permissions.recommended.map((s) => ({ ...s, Action: [...s.Action] })),
    ],
  };
}

/**
 * The IAM calls a discovery run makes with its executor key. A denied
 * `required` call fails the run, naming the action; a denied `optional` one
 * leaves that datum out (last use, console password) with a warning on the run.
 */
export const DISCOVERY_ACTIONS = {
  required: ['iam:ListUsers', 'iam:ListAccessKeys'],
  optional: ['iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'],
} as const;

export type DiscoveryAction = (typeof DISCOVERY_ACTIONS)['required' | 'optional'][number];

/**
 * The statements a discovery executor needs: every discovery call on the users
 * under the path prefix (`users`, e.g. `arn:aws:iam::123456789012:user/eng/*`,
 * which also matches the prefix's own ARN that iam:ListUsers is checked
 * against), and, recommended, SimulatePrincipalPolicy on itself for `?check=true`.
 */
export function discoveryStatements(arns: { users: string; executorSelf: string }): { statement: PolicyStatement; recommended: PolicyStatement[] } {
  return {
    statement: {
      Sid: 'KeyturnDiscovery',
      Effect: 'Allow',
      Action: [...DISCOVERY_ACTIONS.required, ...DISCOVERY_ACTIONS.optional],
      Resource: arns.users,
    },
    recommended: [{ Sid: 'KeyturnPreflight', Effect: 'Allow', Action: ['iam:SimulatePrincipalPolicy'], Resource: arns.executorSelf }],
  };
}
