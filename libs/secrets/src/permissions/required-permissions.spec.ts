import { SecretType } from '@keyturn/contracts';
import { requiredPermissions } from './required-permissions.js';

describe('required permissions', () => {
  it('basic key rotation: the four key actions on the caller’s own user', () => {
    const r = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: '123456789012', targetUser: 'ci', executorUser: 'ci' });
    expect(r.mode).toBe('basic');
    expect(r.policy.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'],
        Resource: 'arn:aws:iam::123456789012:user/${aws:username}',
      }),
    ]);
  });

  it('privileged key rotation names the target in the account’s partition', () => {
    const r = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws-cn', accountId: '123456789012', targetUser: 'app', executorUser: 'admin' });
    expect(r.mode).toBe('privileged');
    expect(r.policy.Statement[0].Resource).toBe('arn:aws-cn:iam::123456789012:user/app');
  });

  it('console password: ChangePassword for oneself, UpdateLoginProfile for another user', () => {
    const own = requiredPermissions({ type: SecretType.AwsIamConsolePassword, partition: 'aws', accountId: '123456789012', targetUser: 'bob', executorUser: 'bob' });
    expect(own.policy.Statement[0]).toMatchObject({ Action: ['iam:ChangePassword'], Resource: 'arn:aws:iam::123456789012:user/${aws:username}' });
    const other = requiredPermissions({ type: SecretType.AwsIamConsolePassword, partition: 'aws-us-gov', accountId: '123456789012', targetUser: 'bob', executorUser: 'admin' });
    expect(other.policy.Statement[0]).toMatchObject({ Action: ['iam:UpdateLoginProfile'], Resource: 'arn:aws-us-gov:iam::123456789012:user/bob' });
    expect(other.recommended.Statement.flatMap((s) => s.Action)).toContain('iam:GetAccountPasswordPolicy');
  });

  it('treats user names that differ only in case as one user (IAM does)', () => {
    const r = requiredPermissions({ type: SecretType.AwsIamKey, partition: 'aws', accountId: '123456789012', targetUser: 'alice', executorUser: 'Alice' });
    expect(r.mode).toBe('basic');
  });
});
