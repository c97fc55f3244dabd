import {
  ChangePasswordCommand,
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  GetAccountPasswordPolicyCommand,
  GetUserCommand,
  type IAMClient,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
  UpdateAccessKeyCommand,
  UpdateLoginProfileCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { basicPolicy, createUserWithKey, iamClient, privilegedPolicy, rejection, stsClient } from './sdk-clients.helper.js';

const ACCOUNT = '123456789012';

describe('IAM emulator: identity-policy authorization', () => {
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

  describe('the "basic" policy (own user only)', () => {
    it('lets a user rotate its own key: create, list, inactivate, delete', async () => {
      const alice = await createUserWithKey(emulator, 'alice', basicPolicy(ACCOUNT));
      const asAlice = iamClient(emulator, alice);
      const created = await asAlice.send(new CreateAccessKeyCommand({ UserName: 'alice' }));
      const newCreds = { accessKeyId: created.AccessKey!.AccessKeyId!, secretAccessKey: created.AccessKey!.SecretAccessKey! };
      const listed = await asAlice.send(new ListAccessKeysCommand({ UserName: 'alice' }));
      expect(listed.AccessKeyMetadata).toHaveLength(2);

      // Retire the old key with the new one, as Keyturn does in basic mode.
      const asAliceNew = iamClient(emulator, newCreds);
      await asAliceNew.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: alice.accessKeyId, Status: 'Inactive' }));
      await asAliceNew.send(new DeleteAccessKeyCommand({ UserName: 'alice', AccessKeyId: alice.accessKeyId }));
      expect(emulator.listKeys('alice').map((k) => k.accessKeyId)).toEqual([newCreds.accessKeyId]);
    });

    it('lets a user change its own password', async () => {
      const alice = await createUserWithKey(emulator, 'alice', basicPolicy(ACCOUNT));
      await root.send(new CreateLoginProfileCommand({ UserName: 'alice', Password: 'Old-Passw0rd!' }));
      await iamClient(emulator, alice).send(new ChangePasswordCommand({ OldPassword: 'Old-Passw0rd!', NewPassword: 'New-Passw0rd!' }));
      expect(emulator.getPassword('alice')).toBe('New-Passw0rd!');
    });

    it('denies every key action on another user with AWS AccessDenied wording, even for a missing user', async () => {
      const alice = await createUserWithKey(emulator, 'alice', basicPolicy(ACCOUNT));
      await createUserWithKey(emulator, 'bob');
      const asAlice = iamClient(emulator, alice);
      const bobKey = emulator.listKeys('bob')[0]!.accessKeyId;

      const create = await rejection(() => asAlice.send(new CreateAccessKeyCommand({ UserName: 'bob' })));
      expect(create.name).toBe('AccessDenied');
      expect(create.$metadata?.httpStatusCode).toBe(403);
      expect(create.message).toBe(
        'User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:CreateAccessKey on resource: user bob because no identity-based policy allows the iam:CreateAccessKey action',
      );
      for (const call of [
        () => asAlice.send(new ListAccessKeysCommand({ UserName: 'bob' })),
        () => asAlice.send(new UpdateAccessKeyCommand({ UserName: 'bob', AccessKeyId: bobKey, Status: 'Inactive' })),
        () => asAlice.send(new DeleteAccessKeyCommand({ UserName: 'bob', AccessKeyId: bobKey })),
        () => asAlice.send(new UpdateLoginProfileCommand({ UserName: 'bob', Password: 'Whatever-1234!' })),
        () => asAlice.send(new GetUserCommand({ UserName: 'bob' })),
      ]) {
        expect((await rejection(call)).name).toBe('AccessDenied');
      }
      // Policy is checked before existence: a user without permission learns nothing.
      const ghost = await rejection(() => asAlice.send(new CreateAccessKeyCommand({ UserName: 'ghost' })));
      expect(ghost.name).toBe('AccessDenied');
      expect(emulator.listKeys('bob')).toHaveLength(1);
      expect(emulator.listKeys('bob')[0]!.status).toBe('Active');
    });

    it('does not grant account-level actions', async () => {
      const alice = await createUserWithKey(emulator, 'alice', basicPolicy(ACCOUNT));
      const err = await rejection(() => iamClient(emulator, alice).send(new GetAccountPasswordPolicyCommand({})));
      expect(err.name).toBe('AccessDenied');
      expect(err.message).toContain('iam:GetAccountPasswordPolicy on resource: *');
    });

    it('GetCallerIdentity needs no permission at all', async () => {
      const nobody = await createUserWithKey(emulator, 'nobody');
      const id = await stsClient(emulator, nobody).send(new GetCallerIdentityCommand({}));
      expect(id.Arn).toBe('arn:aws:iam::123456789012:user/nobody');
    });
  });

  describe('the "privileged" policy (user X only)', () => {
    it('manages X keys and X password, and nothing of anyone else', async () => {
      const admin = await createUserWithKey(emulator, 'rotator', privilegedPolicy(ACCOUNT, 'x-user'));
      await createUserWithKey(emulator, 'x-user');
      await createUserWithKey(emulator, 'y-user');
      await root.send(new CreateLoginProfileCommand({ UserName: 'x-user', Password: 'Initial-Passw0rd!' }));
      await root.send(new CreateLoginProfileCommand({ UserName: 'y-user', Password: 'Initial-Passw0rd!' }));
      const asAdmin = iamClient(emulator, admin);

      const created = await asAdmin.send(new CreateAccessKeyCommand({ UserName: 'x-user' }));
      expect(created.AccessKey!.UserName).toBe('x-user');
      await asAdmin.send(new ListAccessKeysCommand({ UserName: 'x-user' }));
      await asAdmin.send(new UpdateLoginProfileCommand({ UserName: 'x-user', Password: 'Rotated-Passw0rd!' }));
      expect(emulator.getPassword('x-user')).toBe('Rotated-Passw0rd!');

      for (const call of [
        () => asAdmin.send(new CreateAccessKeyCommand({ UserName: 'y-user' })),
        () => asAdmin.send(new UpdateLoginProfileCommand({ UserName: 'y-user', Password: 'Rotated-Passw0rd!' })),
        () => asAdmin.send(new CreateAccessKeyCommand({})), // its own user is not X either
      ]) {
        expect((await rejection(call)).name).toBe('AccessDenied');
      }
      expect(emulator.getPassword('y-user')).toBe('Initial-Passw0rd!');
    });
  });

  it('lets an explicit Deny win over an Allow', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iam:*', Resource: '*' },
        { Effect: 'Deny', Action: 'iam:*AccessKey*', Resource: 'arn:aws:iam::123456789012:user/protected' },
      ],
    };
    const eve = await createUserWithKey(emulator, 'eve', policy);
    await root.send(new CreateUserCommand({ UserName: 'protected' }));
    await root.send(new CreateUserCommand({ UserName: 'open' }));
    const asEve = iamClient(emulator, eve);
    const denied = await rejection(() => asEve.send(new CreateAccessKeyCommand({ UserName: 'protected' })));
    expect(denied.name).toBe('AccessDenied');
    expect(denied.message).toBe(
      'User: arn:aws:iam::123456789012:user/eve is not authorized to perform: iam:CreateAccessKey on resource: user protected with an explicit deny in an identity-based policy',
    );
    await asEve.send(new CreateAccessKeyCommand({ UserName: 'open' }));
    await asEve.send(new GetUserCommand({ UserName: 'protected' }));
  });

  it('matches actions case-insensitively and resources with ? wildcards', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['IAM:createaccesskey'], Resource: ['arn:aws:iam::123456789012:user/app-??'] }],
    };
    const ops = await createUserWithKey(emulator, 'ops', policy);
    await root.send(new CreateUserCommand({ UserName: 'app-01' }));
    await root.send(new CreateUserCommand({ UserName: 'app-001' }));
    const asOps = iamClient(emulator, ops);
    await asOps.send(new CreateAccessKeyCommand({ UserName: 'app-01' }));
    expect((await rejection(() => asOps.send(new CreateAccessKeyCommand({ UserName: 'app-001' })))).name).toBe('AccessDenied');
  });

  it('root may do anything', async () => {
    await root.send(new CreateUserCommand({ UserName: 'anyone' }));
    await root.send(new PutUserPolicyCommand({ UserName: 'anyone', PolicyName: 'p', PolicyDocument: JSON.stringify(basicPolicy(ACCOUNT)) }));
    expect(emulator.getUser('anyone')!.policyNames).toEqual(['p']);
  });

  describe('SimulatePrincipalPolicy', () => {
    it('reports allowed, implicitDeny and explicitDeny per action and resource', async () => {
      const policy = {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iam:*AccessKey*', Resource: 'arn:aws:iam::123456789012:user/${aws:username}' },
          { Effect: 'Deny', Action: 'iam:DeleteAccessKey', Resource: '*' },
        ],
      };
      await createUserWithKey(emulator, 'sim', policy);
      const out = await root.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: 'arn:aws:iam::123456789012:user/sim',
          ActionNames: ['iam:CreateAccessKey', 'iam:DeleteAccessKey', 'iam:UpdateLoginProfile'],
          ResourceArns: ['arn:aws:iam::123456789012:user/sim'],
          ContextEntries: [{ ContextKeyName: 'aws:username', ContextKeyValues: ['sim'], ContextKeyType: 'string' }],
        }),
      );
      expect(out.IsTruncated).toBe(false);
      expect(out.EvaluationResults!.map((r) => [r.EvalActionName, r.EvalResourceName, r.EvalDecision])).toEqual([
        ['iam:CreateAccessKey', 'arn:aws:iam::123456789012:user/sim', 'allowed'],
        ['iam:DeleteAccessKey', 'arn:aws:iam::123456789012:user/sim', 'explicitDeny'],
        ['iam:UpdateLoginProfile', 'arn:aws:iam::123456789012:user/sim', 'implicitDeny'],
      ]);
      expect(out.EvaluationResults![0]!.MatchedStatements).toEqual([{ SourcePolicyId: 'main', SourcePolicyType: 'user' }]);
    });

    it('lists aws:username as missing context when the caller does not supply it', async () => {
      await createUserWithKey(emulator, 'sim2', basicPolicy(ACCOUNT));
      const out = await root.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: 'arn:aws:iam::123456789012:user/sim2',
          ActionNames: ['iam:CreateAccessKey'],
          ResourceArns: ['arn:aws:iam::123456789012:user/sim2'],
        }),
      );
      expect(out.EvaluationResults![0]).toMatchObject({ EvalDecision: 'implicitDeny', MissingContextValues: ['aws:username'] });
    });

    it('needs iam:SimulatePrincipalPolicy on the source user and answers NoSuchEntity for an unknown user', async () => {
      const carl = await createUserWithKey(emulator, 'carl', basicPolicy(ACCOUNT));
      const denied = await rejection(() =>
        iamClient(emulator, carl).send(
          new SimulatePrincipalPolicyCommand({ PolicySourceArn: 'arn:aws:iam::123456789012:user/carl', ActionNames: ['iam:CreateAccessKey'] }),
        ),
      );
      expect(denied.name).toBe('AccessDenied');
      const missing = await rejection(() =>
        root.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: 'arn:aws:iam::123456789012:user/nope', ActionNames: ['iam:GetUser'] })),
      );
      expect(missing.name).toBe('NoSuchEntityException');
    });
  });
});
