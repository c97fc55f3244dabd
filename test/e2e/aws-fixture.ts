/**
 * Sets up IAM users, policies and keys in the emulator with the real AWS SDK
 * and the account's root credentials, the way an administrator would.
 */
import {
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteAccountPasswordPolicyCommand,
  DeleteLoginProfileCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  PutUserPolicyCommand,
  UpdateAccountPasswordPolicyCommand,
  type UpdateAccountPasswordPolicyCommandInput,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { randomBytes } from 'node:crypto';
import { startIamEmulator, type IamEmulator } from '../iam-emulator/src/index.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

export class AwsFixture {
  readonly iam: IAMClient;
  readonly accountId: string;
  /** Set for a fixture of another account (see `addAccount`): it shares the emulator and does not close it. */
  private readonly shared: boolean;

  private constructor(
    readonly emu: IamEmulator,
    account?: { accountId: string; root: Creds },
  ) {
    this.accountId = account?.accountId ?? emu.accountId;
    this.shared = account !== undefined;
    this.iam = new IAMClient({ endpoint: emu.url, region: 'us-east-1', credentials: account?.root ?? emu.rootCredentials, maxAttempts: 1 });
  }

  static async start(): Promise<AwsFixture> {
    return new AwsFixture(await startIamEmulator({ port: 0 }));
  }

  /** Another AWS account behind the same emulator (same endpoint), administered with its own root key. */
  addAccount(accountId: string): AwsFixture {
    return new AwsFixture(this.emu, { accountId, root: this.emu.addAccount(accountId) });
  }

  /** The environment that points Keyturn's AWS SDK at the emulator. */
  get env(): Record<string, string> {
    return { AWS_ENDPOINT_URL_IAM: this.emu.url, AWS_ENDPOINT_URL_STS: this.emu.url, AWS_REGION: 'us-east-1' };
  }

  uniqueName(prefix: string): string {
    return `${prefix}-${randomBytes(3).toString('hex')}`;
  }

  /** A user with an access key and, optionally, one inline policy. */
  async user(name: string, policy?: object): Promise<Creds & { userName: string }> {
    await this.iam.send(new CreateUserCommand({ UserName: name }));
    if (policy) await this.putPolicy(name, policy);
    const key = await this.createKey(name);
    return { userName: name, ...key };
  }

  async putPolicy(userName: string, policy: object, policyName = 'keyturn'): Promise<void> {
    await this.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: JSON.stringify(policy) }));
  }

  async createKey(userName: string): Promise<Creds> {
    const { AccessKey } = await this.iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
  }

  async deleteKey(userName: string, accessKeyId: string): Promise<void> {
    await this.iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId }));
  }

  async loginProfile(userName: string, password: string): Promise<void> {
    await this.iam.send(new CreateLoginProfileCommand({ UserName: userName, Password: password }));
  }

  async passwordPolicy(p: { MinimumPasswordLength?: number; RequireSymbols?: boolean; RequireNumbers?: boolean; RequireUppercaseCharacters?: boolean; RequireLowercaseCharacters?: boolean; AllowUsersToChangePassword?: boolean }): Promise<void> {
    await this.iam.send(new UpdateAccountPasswordPolicyCommand(p));
  }

  async keys(userName: string): Promise<{ id: string; status: string }[]> {
    const r = await this.iam.send(new ListAccessKeysCommand({ UserName: userName }));
    return (r.AccessKeyMetadata ?? []).map((k) => ({ id: k.AccessKeyId!, status: k.Status! }));
  }

  /**
   * The ARN a key answers as. Throws when AWS rejects the key (naming AWS's error code) and
   * when AWS cannot be reached: neither is an identity.
   */
  async whoAmI(creds: Creds): Promise<string> {
    const r = await this.callerIdentity(creds);
    if ('error' in r) throw new Error(`AWS rejected the key: ${r.error}`);
    return r.arn;
  }

  /**
   * The error code AWS answers a key with (`InvalidClientTokenId` for a deleted or inactive
   * key). Throws when the key works, and when AWS cannot be reached: a network error must
   * never pass for a dead key.
   */
  async stsError(creds: Creds): Promise<string> {
    const r = await this.callerIdentity(creds);
    if ('arn' in r) throw new Error(`the key works: it answers as ${r.arn}`);
    return r.error;
  }

  private async callerIdentity(creds: Creds): Promise<{ arn: string } | { error: string }> {
    const sts = new STSClient({ endpoint: this.emu.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    let arn: string | undefined;
    try {
      arn = (await sts.send(new GetCallerIdentityCommand({}))).Arn;
    } catch (e) {
      const err = e as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
      // Only an HTTP answer from AWS is AWS's verdict on the key.
      if (typeof err.$metadata?.httpStatusCode === 'number') return { error: err.name };
      throw new Error(`could not reach the IAM emulator: ${[err.name, err.code, err.message].filter(Boolean).join(' ')}`, { cause: e });
    } finally {
      sts.destroy();
    }
    if (!arn) throw new Error('GetCallerIdentity answered without an Arn');
    return { arn };
  }

  /** Any account password policy, including the fields `passwordPolicy` leaves out (reuse prevention, expiry). */
  async fullPasswordPolicy(p: UpdateAccountPasswordPolicyCommandInput): Promise<void> {
    await this.iam.send(new UpdateAccountPasswordPolicyCommand(p));
  }

  /** A user with no access key: a console-only user, or a target changed by someone else. */
  async bareUser(name: string): Promise<void> {
    await this.iam.send(new CreateUserCommand({ UserName: name }));
  }

  async deletePolicy(userName: string, policyName = 'keyturn'): Promise<void> {
    await this.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName }));
  }

  /**
   * Deletes a user the way an administrator must (login profile, keys and inline policies
   * first). Creating a user of the same name afterwards gives it a new UserId.
   */
  async deleteUser(userName: string): Promise<void> {
    try {
      await this.iam.send(new DeleteLoginProfileCommand({ UserName: userName }));
    } catch (e) {
      if ((e as { name?: string }).name !== 'NoSuchEntityException') throw e;
    }
    for (const k of await this.keys(userName)) await this.deleteKey(userName, k.id);
    const { PolicyNames = [] } = await this.iam.send(new ListUserPoliciesCommand({ UserName: userName }));
    for (const policyName of PolicyNames) await this.deletePolicy(userName, policyName);
    await this.iam.send(new DeleteUserCommand({ UserName: userName }));
  }

  /** Back to no account password policy (AWS's default applies); a no-op when none is set. */
  async clearPasswordPolicy(): Promise<void> {
    try {
      await this.iam.send(new DeleteAccountPasswordPolicyCommand({}));
    } catch (e) {
      if ((e as { name?: string }).name !== 'NoSuchEntityException') throw e;
    }
  }

  async close(): Promise<void> {
    this.iam.destroy();
    if (!this.shared) await this.emu.close();
  }
}
