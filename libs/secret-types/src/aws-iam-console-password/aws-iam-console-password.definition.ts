import { CONSOLE_PASSWORD, SecretType } from '@keyturn/contracts';
import type { SecretTypeDefinition } from '../secret-type-definition.js';

/** An IAM user's console (sign-in) password. Keyturn generates the new one; only a privileged account changes it. */
export const awsIamConsolePassword: SecretTypeDefinition = {
  type: SecretType.AwsIamConsolePassword,
  title: 'AwsIamConsolePassword',
  summary: 'An IAM user’s console password',
  fields: [
    {
      name: 'password',
      pattern: CONSOLE_PASSWORD,
      message: 'password must be 1-128 characters from U+0020 to U+00FF (tab, CR and LF allowed)',
      description: 'The console password; 1-128 characters',
    },
  ],
  canHeartbeat: false,
  executor: { selfExecuting: false, canExecuteOthers: false },
  permissions: {
    basic: { Sid: 'KeyturnChangeOwnPassword', Action: ['iam:ChangePassword'] },
    privileged: { Sid: 'KeyturnSetUserPassword', Action: ['iam:UpdateLoginProfile'] },
    recommended: [{ Sid: 'KeyturnReadPasswordPolicy', Effect: 'Allow', Action: ['iam:GetAccountPasswordPolicy'], Resource: '*' }],
  },
};
