import { SecretType } from '@keyturn/contracts';
import { sameIamUser, userArn, type Partition } from '@keyturn/iam';

export const KEY_ACTIONS = ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'] as const;

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface RequiredPermissions {
  mode: 'basic' | 'privileged';
  /** The IAM user whose keys execute the change. */
  executorUser: string;
  /** Attach to the executor: exactly what Keyturn needs, nothing more. */
  policy: PolicyDocument;
  /** Optional extras Keyturn uses when allowed and skips with a warning when denied. */
  recommended: PolicyDocument;
}

/**
 * The least-privilege table of docs/architecture.md as a ready IAM policy. Basic mode (the user changes itself)
 * names `${aws:username}`, so one policy fits every such user; privileged mode
 * names the target user's ARN in the account's partition.
 */
export function requiredPermissions(opts: {
  type: SecretType;
  partition: Partition;
  accountId: string;
  targetUser: string;
  executorUser: string;
}): RequiredPermissions {
  const mode = sameIamUser(opts.executorUser, opts.targetUser) ? 'basic' : 'privileged';
  const resource = userArn(opts.partition, opts.accountId, mode === 'basic' ? '${aws:username}' : opts.targetUser);
  const statement: PolicyStatement =
    opts.type === SecretType.AwsIamKey
      ? { Sid: mode === 'basic' ? 'KeyturnRotateOwnAccessKeys' : 'KeyturnRotateUserAccessKeys', Effect: 'Allow', Action: [...KEY_ACTIONS], Resource: resource }
      : mode === 'basic'
        ? { Sid: 'KeyturnChangeOwnPassword', Effect: 'Allow', Action: ['iam:ChangePassword'], Resource: resource }
        : { Sid: 'KeyturnSetUserPassword', Effect: 'Allow', Action: ['iam:UpdateLoginProfile'], Resource: resource };

  const recommended: PolicyStatement[] = [
    {
      Sid: 'KeyturnCheckUserId',
      Effect: 'Allow',
      Action: ['iam:GetUser'],
      Resource: resource,
    },
    {
      Sid: 'KeyturnPreflight',
      Effect: 'Allow',
      Action: ['iam:SimulatePrincipalPolicy'],
      Resource: userArn(opts.partition, opts.accountId, '${aws:username}'),
    },
  ];
  if (opts.type === SecretType.AwsIamConsolePassword) {
    recommended.push({ Sid: 'KeyturnReadPasswordPolicy', Effect: 'Allow', Action: ['iam:GetAccountPasswordPolicy'], Resource: '*' });
  }
  return {
    mode,
    executorUser: opts.executorUser,
    policy: { Version: '2012-10-17', Statement: [statement] },
    recommended: { Version: '2012-10-17', Statement: recommended },
  };
}
