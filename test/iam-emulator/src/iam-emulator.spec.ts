import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  CreateLoginProfileCommand,
  GetAccessKeyLastUsedCommand,
  GetAccountSummaryCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { basicPolicy, createUserWithKey, iamClient, rejection, stsClient } from './sdk-clients.helper.js';

describe('IAM emulator: protocol and user/key lifecycle with the real SDK', () => {
  let emulator: IamEmulator;
  let root: IAMClient;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
    root = iamClient(emulator);
  });

  afterEach(async () => {
    root.destroy();
    await emulator.close();
  });

  it('answers GetCallerIdentity for the root credentials and for a user key', async () => {
    const sts = stsClient(emulator);
    const me = await sts.send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:root', UserId: '123456789012' });

    const alice = await createUserWithKey(emulator, 'alice');
    const asAlice = stsClient(emulator, alice);
    const id = await asAlice.send(new GetCallerIdentityCommand({}));
    expect(id.Arn).toBe('arn:aws:iam::123456789012:user/alice');
    expect(id.UserId).toBe(alice.userId);
    expect(id.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    sts.destroy();
    asAlice.destroy();
  });

  it('creates users with AWS-shaped ids and ISO dates, and a re-created user gets a new UserId', async () => {
    const before = Date.now();
    const created = await root.send(new CreateUserCommand({ UserName: 'bob' }));
    const after = Date.now();
    expect(created.User).toMatchObject({ UserName: 'bob', Path: '/', Arn: 'arn:aws:iam::123456789012:user/bob' });
    expect(created.User!.UserId).toMatch(/^AIDA[A-Z0-9]{16}$/);
    expect(created.User!.CreateDate).toBeInstanceOf(Date);
    // The time of the call, to the second (IAM's dates have no fraction).
    expect(created.User!.CreateDate!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(created.User!.CreateDate!.getTime()).toBeLessThanOrEqual(after);

    const fetched = await root.send(new GetUserCommand({ UserName: 'bob' }));
    expect(fetched.User!.UserId).toBe(created.User!.UserId);

    await root.send(new DeleteUserCommand({ UserName: 'bob' }));
    const again = await root.send(new CreateUserCommand({ UserName: 'bob' }));
    expect(again.User!.UserId).not.toBe(created.User!.UserId);
  });

  it('GetUser without UserName describes the caller', async () => {
    const carol = await createUserWithKey(emulator, 'carol', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iam:GetUser', Resource: 'arn:aws:iam::123456789012:user/${aws:username}' }],
    });
    const asCarol = iamClient(emulator, carol);
    const { User } = await asCarol.send(new GetUserCommand({}));
    expect(User).toMatchObject({ UserName: 'carol', UserId: carol.userId });
    asCarol.destroy();

    const rootUser = await root.send(new GetUserCommand({}));
    expect(rootUser.User!.Arn).toBe('arn:aws:iam::123456789012:root');
  });

  it('answers NoSuchEntity (404) with AWS messages for missing users and keys', async () => {
    const missing = await rejection(() => root.send(new GetUserCommand({ UserName: 'nobody' })));
    expect(missing.name).toBe('NoSuchEntityException');
    expect(missing.message).toBe('The user with name nobody cannot be found.');
    expect(missing.$metadata?.httpStatusCode).toBe(404);

    await root.send(new CreateUserCommand({ UserName: 'dave' }));
    const noKey = await rejection(() =>
      root.send(new DeleteAccessKeyCommand({ UserName: 'dave', AccessKeyId: 'AKIAAAAAAAAAAAAAAAAA' })),
    );
    expect(noKey.name).toBe('NoSuchEntityException');
    expect(noKey.message).toBe('The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.');
  });

  it('refuses a duplicate user name regardless of case (EntityAlreadyExists, 409)', async () => {
    await root.send(new CreateUserCommand({ UserName: 'erin' }));
    const dup = await rejection(() => root.send(new CreateUserCommand({ UserName: 'ERIN' })));
    expect(dup.name).toBe('EntityAlreadyExistsException');
    expect(dup.$metadata?.httpStatusCode).toBe(409);
  });

  it('manages access keys: create, list, inactivate, delete, and the two-key limit', async () => {
    await root.send(new CreateUserCommand({ UserName: 'frank' }));
    const first = await root.send(new CreateAccessKeyCommand({ UserName: 'frank' }));
    expect(first.AccessKey!.AccessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(first.AccessKey!.SecretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(first.AccessKey!.Status).toBe('Active');
    await root.send(new CreateAccessKeyCommand({ UserName: 'frank' }));

    const third = await rejection(() => root.send(new CreateAccessKeyCommand({ UserName: 'frank' })));
    expect(third.name).toBe('LimitExceededException');
    expect(third.message).toBe('Cannot exceed quota for AccessKeysPerUser: 2');
    expect(third.$metadata?.httpStatusCode).toBe(409);

    const listed = await root.send(new ListAccessKeysCommand({ UserName: 'frank' }));
    expect(listed.IsTruncated).toBe(false);
    expect(listed.AccessKeyMetadata).toHaveLength(2);
    expect(listed.AccessKeyMetadata![0]).toMatchObject({ UserName: 'frank', Status: 'Active' });
    expect(listed.AccessKeyMetadata![0]!.CreateDate).toBeInstanceOf(Date);
    expect(JSON.stringify(listed)).not.toContain(first.AccessKey!.SecretAccessKey!);

    await root.send(new UpdateAccessKeyCommand({ UserName: 'frank', AccessKeyId: first.AccessKey!.AccessKeyId!, Status: 'Inactive' }));
    expect(emulator.listKeys('frank').find((k) => k.accessKeyId === first.AccessKey!.AccessKeyId)?.status).toBe('Inactive');

    await root.send(new DeleteAccessKeyCommand({ UserName: 'frank', AccessKeyId: first.AccessKey!.AccessKeyId! }));
    expect(emulator.listKeys('frank')).toHaveLength(1);
  });

  it('answers NoSuchEntity when a key is addressed through another user', async () => {
    const gina = await createUserWithKey(emulator, 'gina');
    await root.send(new CreateUserCommand({ UserName: 'hank' }));
    const err = await rejection(() =>
      root.send(new UpdateAccessKeyCommand({ UserName: 'hank', AccessKeyId: gina.accessKeyId, Status: 'Inactive' })),
    );
    expect(err.name).toBe('NoSuchEntityException');
    expect(emulator.listKeys('gina')[0]!.status).toBe('Active');
  });

  it('CreateAccessKey and ListAccessKeys without UserName act on the calling user', async () => {
    const ivan = await createUserWithKey(emulator, 'ivan', basicPolicy('123456789012'));
    const asIvan = iamClient(emulator, ivan);
    const created = await asIvan.send(new CreateAccessKeyCommand({}));
    expect(created.AccessKey!.UserName).toBe('ivan');
    const listed = await asIvan.send(new ListAccessKeysCommand({}));
    expect(listed.AccessKeyMetadata!.map((k) => k.AccessKeyId).sort()).toEqual([ivan.accessKeyId, created.AccessKey!.AccessKeyId].sort());
    asIvan.destroy();
  });

  it('refuses DeleteUser while keys, a login profile or policies remain (DeleteConflict, 409)', async () => {
    const jane = await createUserWithKey(emulator, 'jane', basicPolicy('123456789012'));
    await root.send(new CreateLoginProfileCommand({ UserName: 'jane', Password: 'Str0ng-Passw0rd!' }));

    const withProfile = await rejection(() => root.send(new DeleteUserCommand({ UserName: 'jane' })));
    expect(withProfile.name).toBe('DeleteConflictException');
    expect(withProfile.message).toBe('Cannot delete entity, must delete login profile first.');
    expect(withProfile.$metadata?.httpStatusCode).toBe(409);
    await root.send(new DeleteLoginProfileCommand({ UserName: 'jane' }));

    const withKeys = await rejection(() => root.send(new DeleteUserCommand({ UserName: 'jane' })));
    expect(withKeys.message).toBe('Cannot delete entity, must delete access keys first.');
    await root.send(new DeleteAccessKeyCommand({ UserName: 'jane', AccessKeyId: jane.accessKeyId }));

    const withPolicies = await rejection(() => root.send(new DeleteUserCommand({ UserName: 'jane' })));
    expect(withPolicies.message).toBe('Cannot delete entity, must delete policies first.');
    await root.send(new DeleteUserPolicyCommand({ UserName: 'jane', PolicyName: 'main' }));

    await root.send(new DeleteUserCommand({ UserName: 'jane' }));
    expect(emulator.getUser('jane')).toBeUndefined();
  });

  it('stores inline policies and returns them URL-encoded, as IAM does', async () => {
    await root.send(new CreateUserCommand({ UserName: 'kim' }));
    const doc = JSON.stringify(basicPolicy('123456789012'));
    await root.send(new PutUserPolicyCommand({ UserName: 'kim', PolicyName: 'rotate-self', PolicyDocument: doc }));
    const got = await root.send(new GetUserPolicyCommand({ UserName: 'kim', PolicyName: 'rotate-self' }));
    expect(decodeURIComponent(got.PolicyDocument!)).toBe(doc);
    const names = await root.send(new ListUserPoliciesCommand({ UserName: 'kim' }));
    expect(names.PolicyNames).toEqual(['rotate-self']);

    const bad = await rejection(() => root.send(new PutUserPolicyCommand({ UserName: 'kim', PolicyName: 'bad', PolicyDocument: '{not json' })));
    expect(bad.name).toBe('MalformedPolicyDocumentException');
    expect(bad.$metadata?.httpStatusCode).toBe(400);
  });

  it('reports key last use and the account summary', async () => {
    const lena = await createUserWithKey(emulator, 'lena');
    const before = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: lena.accessKeyId }));
    expect(before).toMatchObject({ UserName: 'lena', AccessKeyLastUsed: { ServiceName: 'N/A', Region: 'N/A' } });

    const sts = stsClient(emulator, lena);
    await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    const after = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: lena.accessKeyId }));
    expect(after.AccessKeyLastUsed).toMatchObject({ ServiceName: 'sts', Region: 'us-east-1' });
    expect(after.AccessKeyLastUsed!.LastUsedDate).toBeInstanceOf(Date);

    const summary = await root.send(new GetAccountSummaryCommand({}));
    expect(summary.SummaryMap).toMatchObject({ Users: 1, AccessKeysPerUserQuota: 2, AccountAccessKeysPresent: 1 });
  });

  it('is reachable through AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL_STS without an explicit endpoint', async () => {
    const saved = { iam: process.env.AWS_ENDPOINT_URL_IAM, sts: process.env.AWS_ENDPOINT_URL_STS };
    process.env.AWS_ENDPOINT_URL_IAM = emulator.url;
    process.env.AWS_ENDPOINT_URL_STS = emulator.url;
    try {
      const iam = new IAMClient({ region: 'us-east-1', credentials: emulator.rootCredentials, maxAttempts: 1 });
      const sts = new STSClient({ region: 'us-east-1', credentials: emulator.rootCredentials, maxAttempts: 1 });
      await iam.send(new CreateUserCommand({ UserName: 'env-user' }));
      const id = await sts.send(new GetCallerIdentityCommand({}));
      expect(id.Account).toBe('123456789012');
      expect(emulator.getUser('env-user')).toBeDefined();
      iam.destroy();
      sts.destroy();
    } finally {
      if (saved.iam === undefined) delete process.env.AWS_ENDPOINT_URL_IAM;
      else process.env.AWS_ENDPOINT_URL_IAM = saved.iam;
      if (saved.sts === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
      else process.env.AWS_ENDPOINT_URL_STS = saved.sts;
    }
  });

  it('seedUser creates a working user and refuses a malformed policy', async () => {
    const seeded = emulator.seedUser('seeded', { policies: { self: basicPolicy('123456789012') }, withAccessKey: true });
    const asSeeded = iamClient(emulator, { accessKeyId: seeded.accessKeyId!, secretAccessKey: seeded.secretAccessKey! });
    const listed = await asSeeded.send(new ListAccessKeysCommand({}));
    expect(listed.AccessKeyMetadata!.map((k) => k.AccessKeyId)).toEqual([seeded.accessKeyId]);
    asSeeded.destroy();
    expect(() => emulator.seedUser('broken', { policies: { bad: '{' } })).toThrow(expect.objectContaining({ code: 'MalformedPolicyDocument' }));
    expect(emulator.getUser('broken')).toBeUndefined();
  });

  it('records calls in the call log with caller, target and error code', async () => {
    await rejection(() => root.send(new GetUserCommand({ UserName: 'ghost' })));
    const last = emulator.callLog().at(-1)!;
    expect(last).toMatchObject({
      service: 'iam',
      action: 'GetUser',
      callerArn: 'arn:aws:iam::123456789012:root',
      userName: 'ghost',
      errorCode: 'NoSuchEntity',
      status: 404,
    });
  });
});
