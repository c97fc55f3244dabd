import { ACCESS_KEY_ID, SECRET_ACCESS_KEY, SecretType } from '@keyturn/contracts';
import type { SecretTypeDefinition } from '../secret-type-definition.js';

export const KEY_ACTIONS = ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'] as const;

/** An IAM user's long-term access key. AWS generates the new key; nobody types it. */
export const awsIamKey: SecretTypeDefinition = {
  type: SecretType.AwsIamKey,
  title: 'AwsIamKey',
  summary: 'An IAM user’s access key (id and secret)',
  fields: [
    {
      name: 'accessKeyId',
      pattern: ACCESS_KEY_ID,
      message: 'accessKeyId must be AKIA followed by 16 upper-case letters or digits',
      description: 'The access key id',
      example: 'AKIAIOSFODNN7EXAMPLE',
    },
    {
      name: 'secretAccessKey',
      pattern: SECRET_ACCESS_KEY,
      message: 'secretAccessKey must be 40 characters of A-Z a-z 0-9 / +',
      description: 'The secret access key; 40 characters',
    },
  ],
  canHeartbeat: true,
  executor: { selfExecuting: true, canExecuteOthers: true },
  permissions: {
    basic: { Sid: 'KeyturnRotateOwnAccessKeys', Action: [...KEY_ACTIONS] },
    privileged: { Sid: 'KeyturnRotateUserAccessKeys', Action: [...KEY_ACTIONS] },
    recommended: [],
  },
};
