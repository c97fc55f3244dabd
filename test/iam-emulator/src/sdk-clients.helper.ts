import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import type { IamEmulator } from './iam-emulator.service.js';

/** Shared by the emulator's specs: real SDK clients pointed at an emulator. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

// One attempt by default: SDK retries would hide throttling, injected failures and lost answers.
export function iamClient(emulator: IamEmulator, credentials: Credentials = emulator.rootCredentials, maxAttempts = 1): IAMClient {
  return new IAMClient({ endpoint: emulator.url, region: 'us-east-1', credentials, maxAttempts });
}

export function stsClient(emulator: IamEmulator, credentials: Credentials = emulator.rootCredentials, maxAttempts = 1): STSClient {
  return new STSClient({ endpoint: emulator.url, region: 'us-east-1', credentials, maxAttempts });
}

export const basicPolicy = (accountId: string): object => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'],
      Resource: `arn:aws:iam::${accountId}:user/\${aws:username}`,
    },
    { Effect: 'Allow', Action: 'iam:ChangePassword', Resource: `arn:aws:iam::${accountId}:user/\${aws:username}` },
  ],
});

export const privilegedPolicy = (accountId: string, target: string): object => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys', 'iam:UpdateLoginProfile'],
      Resource: `arn:aws:iam::${accountId}:user/${target}`,
    },
  ],
});

/** Creates a user with one access key (and optional inline policy) over the API, as root. */
export async function createUserWithKey(
  emulator: IamEmulator,
  userName: string,
  policy?: object,
): Promise<Credentials & { userId: string; arn: string }> {
  const root = iamClient(emulator);
  const { User } = await root.send(new CreateUserCommand({ UserName: userName }));
  if (policy) {
    await root.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: 'main', PolicyDocument: JSON.stringify(policy) }));
  }
  const { AccessKey } = await root.send(new CreateAccessKeyCommand({ UserName: userName }));
  root.destroy();
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey!, userId: User!.UserId!, arn: User!.Arn! };
}

/** Runs `fn` and returns the error it rejects with; fails when it resolves. */
export async function rejection(fn: () => Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number }; Code?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { name: string; $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
