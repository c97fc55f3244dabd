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
