import type { SecretType } from '@keyturn/contracts';
import { sameIamUser, userArn, type Partition } from '@keyturn/iam';
import { changeStatements, secretTypeDefinition, type ChangeMode, type PolicyStatement } from '@keyturn/secret-types';

export { KEY_ACTIONS, type PolicyStatement } from '@keyturn/secret-types';

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface RequiredPermissions {
  mode: ChangeMode;
  /** The IAM user whose keys execute the change. */
  executorUser: string;
  /** Attach to the executor: exactly what Keyturn needs, nothing more. */
  policy: PolicyDocument;
  /** Optional extras Keyturn uses when allowed and skips with a warning when denied. */
  recommended: PolicyDocument;
}

/**
 * The least-privilege table of docs/architecture.md as a ready IAM policy; the
 * actions per type and mode come from the type's definition (libs/secret-types).
 * Basic mode (the user changes itself) names `${aws:username}`, so one policy
 * fits every such user; privileged mode names the target user's ARN in the
 * account's partition.
 */
export function requiredPermissions(opts: {
  type: SecretType;
  partition: Partition;
  accountId: string;
  targetUser: string;
  executorUser: string;
}): RequiredPermissions {
  const mode: ChangeMode = sameIamUser(opts.executorUser, opts.targetUser) ? 'basic' : 'privileged';
  const { statement, recommended } = changeStatements(secretTypeDefinition(opts.type), mode, {
    target: userArn(opts.partition, opts.accountId, mode === 'basic' ? '${aws:username}' : opts.targetUser),
    executorSelf: userArn(opts.partition, opts.accountId, '${aws:username}'),
  });
  return {
    mode,
    executorUser: opts.executorUser,
    policy: { Version: '2012-10-17', Statement: [statement] },
    recommended: { Version: '2012-10-17', Statement: recommended },
  };
}
