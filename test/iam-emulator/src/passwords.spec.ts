import {
  ChangePasswordCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  DeleteAccountPasswordPolicyCommand,
  DeleteLoginProfileCommand,
  GetAccountPasswordPolicyCommand,
  GetLoginProfileCommand,
  type IAMClient,
  UpdateAccountPasswordPolicyCommand,
  UpdateLoginProfileCommand,
} from '@aws-sdk/client-iam';
import { type IamEmulator, startIamEmulator } from './index.js';
import { basicPolicy, createUserWithKey, iamClient, rejection } from './sdk-clients.helper.js';

describe('IAM emulator: console passwords and the account password policy', () => {
  let emulator: IamEmulator;
  let root: IAMClient;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
    root = iamClient(emulator);
    await root.send(new CreateUserCommand({ UserName: 'pat' }));
  });

  afterEach(async () => {
    root.destroy();
    await emulator.close();
  });

  it('answers NoSuchEntity for GetAccountPasswordPolicy while no policy is set', async () => {
    const err = await rejection(() => root.send(new GetAccountPasswordPolicyCommand({})));
    expect(err.name).toBe('NoSuchEntityException');
    expect(err.message).toBe('The Password Policy with domain name 123456789012 cannot be found.');
    expect(err.$metadata?.httpStatusCode).toBe(404);
  });

  it('enforces AWS default policy when none is set: 8 characters, three of four character classes', async () => {
    const short = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Ab1!' })));
    expect(short.name).toBe('PasswordPolicyViolationException');
    expect(short.$metadata?.httpStatusCode).toBe(400);
    const twoClasses = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'abcdefgh1234' })));
    expect(twoClasses.name).toBe('PasswordPolicyViolationException');
    expect(twoClasses.message).not.toContain('abcdefgh1234');
    await root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh1234' }));
    expect(emulator.getPassword('pat')).toBe('Abcdefgh1234');
  });

  it('stores, reads back, replaces and enforces a custom policy on create, update and change', async () => {
    await root.send(
      new UpdateAccountPasswordPolicyCommand({
        MinimumPasswordLength: 12,
        RequireSymbols: true,
        RequireNumbers: true,
        RequireUppercaseCharacters: true,
        RequireLowercaseCharacters: true,
        AllowUsersToChangePassword: true,
        PasswordReusePrevention: 3,
        MaxPasswordAge: 90,
      }),
    );
    const { PasswordPolicy } = await root.send(new GetAccountPasswordPolicyCommand({}));
    expect(PasswordPolicy).toEqual({
      MinimumPasswordLength: 12,
      RequireSymbols: true,
      RequireNumbers: true,
      RequireUppercaseCharacters: true,
      RequireLowercaseCharacters: true,
      AllowUsersToChangePassword: true,
      ExpirePasswords: true,
      MaxPasswordAge: 90,
      PasswordReusePrevention: 3,
      HardExpiry: false,
    });

    const noSymbol = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh12345' })));
    expect(noSymbol.message).toBe('Password should have at least one symbol');
    const tooShort = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Ab1!efgh' })));
    expect(tooShort.message).toBe('Password should have a minimum length of 12');
    await root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh123!' }));

    const weakUpdate = await rejection(() => root.send(new UpdateLoginProfileCommand({ UserName: 'pat', Password: 'abcdefgh123!' })));
    expect(weakUpdate.message).toBe('Password should have at least one uppercase letter');
    const reused = await rejection(() => root.send(new UpdateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh123!' })));
    expect(reused.name).toBe('PasswordPolicyViolationException');
    await root.send(new UpdateLoginProfileCommand({ UserName: 'pat', Password: 'Zyxwvuts987#' }));
    expect(emulator.getPassword('pat')).toBe('Zyxwvuts987#');

    // Omitted parameters fall back to IAM's defaults rather than keeping the old values.
    await root.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 10 }));
    const replaced = await root.send(new GetAccountPasswordPolicyCommand({}));
    expect(replaced.PasswordPolicy).toMatchObject({ MinimumPasswordLength: 10, RequireSymbols: false, AllowUsersToChangePassword: false, ExpirePasswords: false });

    await root.send(new DeleteAccountPasswordPolicyCommand({}));
    expect((await rejection(() => root.send(new GetAccountPasswordPolicyCommand({})))).name).toBe('NoSuchEntityException');
  });

  it('validates policy ranges with ValidationError', async () => {
    const err = await rejection(() => root.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 4 })));
    expect(err.name).toBe('ValidationError');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('rejects passwords longer than 128 characters', async () => {
    const err = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: `Aa1!${'x'.repeat(125)}` })));
    expect(err.name).toBe('ValidationError');
    await root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: `Aa1!${'x'.repeat(124)}` }));
  });

  it('handles the login profile lifecycle with AWS errors', async () => {
    const missing = await rejection(() => root.send(new GetLoginProfileCommand({ UserName: 'pat' })));
    expect(missing.name).toBe('NoSuchEntityException');
    expect(missing.message).toBe('Login Profile for User pat cannot be found.');
    const update = await rejection(() => root.send(new UpdateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh123!' })));
    expect(update.name).toBe('NoSuchEntityException');

    const created = await root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh123!', PasswordResetRequired: true }));
    expect(created.LoginProfile).toMatchObject({ UserName: 'pat', PasswordResetRequired: true });
    expect(created.LoginProfile!.CreateDate).toBeInstanceOf(Date);
    const dup = await rejection(() => root.send(new CreateLoginProfileCommand({ UserName: 'pat', Password: 'Abcdefgh123!' })));
    expect(dup.name).toBe('EntityAlreadyExistsException');
    expect(dup.$metadata?.httpStatusCode).toBe(409);

    const got = await root.send(new GetLoginProfileCommand({ UserName: 'pat' }));
    expect(got.LoginProfile).toMatchObject({ UserName: 'pat', PasswordResetRequired: true });
    expect(JSON.stringify(got)).not.toContain('Abcdefgh123!');

    await root.send(new DeleteLoginProfileCommand({ UserName: 'pat' }));
    expect(emulator.getPassword('pat')).toBeUndefined();
  });

  describe('ChangePassword', () => {
    it('changes the caller password after checking the old one, and clears PasswordResetRequired', async () => {
      const quinn = await createUserWithKey(emulator, 'quinn', basicPolicy('123456789012'));
      await root.send(new CreateLoginProfileCommand({ UserName: 'quinn', Password: 'First-Passw0rd', PasswordResetRequired: true }));
      const asQuinn = iamClient(emulator, quinn);

      const wrongOld = await rejection(() => asQuinn.send(new ChangePasswordCommand({ OldPassword: 'Not-The-Passw0rd', NewPassword: 'Second-Passw0rd' })));
      expect(wrongOld.name).toBe('InvalidUserTypeException');
      expect(wrongOld.$metadata?.httpStatusCode).toBe(400);
      expect(wrongOld.message).not.toContain('Passw0rd');
      expect(emulator.getPassword('quinn')).toBe('First-Passw0rd');

      const weak = await rejection(() => asQuinn.send(new ChangePasswordCommand({ OldPassword: 'First-Passw0rd', NewPassword: 'weak' })));
      expect(weak.name).toBe('PasswordPolicyViolationException');

      await asQuinn.send(new ChangePasswordCommand({ OldPassword: 'First-Passw0rd', NewPassword: 'Second-Passw0rd' }));
      expect(emulator.getPassword('quinn')).toBe('Second-Passw0rd');
      expect((await root.send(new GetLoginProfileCommand({ UserName: 'quinn' }))).LoginProfile!.PasswordResetRequired).toBe(false);
    });

    it('answers NoSuchEntity when the caller has no login profile', async () => {
      const rita = await createUserWithKey(emulator, 'rita', basicPolicy('123456789012'));
      const err = await rejection(() => iamClient(emulator, rita).send(new ChangePasswordCommand({ OldPassword: 'a', NewPassword: 'Abcdefgh123!' })));
      expect(err.name).toBe('NoSuchEntityException');
      expect(err.message).toBe('Login Profile for User rita cannot be found.');
    });

    it('answers InvalidUserType to the root credentials', async () => {
      const err = await rejection(() => root.send(new ChangePasswordCommand({ OldPassword: 'a', NewPassword: 'Abcdefgh123!' })));
      expect(err.name).toBe('InvalidUserTypeException');
    });

    it('needs iam:ChangePassword, which AllowUsersToChangePassword grants to every user', async () => {
      const sam = await createUserWithKey(emulator, 'sam');
      await root.send(new CreateLoginProfileCommand({ UserName: 'sam', Password: 'First-Passw0rd' }));
      const asSam = iamClient(emulator, sam);
      const denied = await rejection(() => asSam.send(new ChangePasswordCommand({ OldPassword: 'First-Passw0rd', NewPassword: 'Second-Passw0rd' })));
      expect(denied.name).toBe('AccessDenied');
      expect(denied.message).toContain('iam:ChangePassword on resource: user sam');

      await root.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 8, AllowUsersToChangePassword: true }));
      await asSam.send(new ChangePasswordCommand({ OldPassword: 'First-Passw0rd', NewPassword: 'Second-Passw0rd' }));
      expect(emulator.getPassword('sam')).toBe('Second-Passw0rd');
      const policy = await asSam.send(new GetAccountPasswordPolicyCommand({}));
      expect(policy.PasswordPolicy!.MinimumPasswordLength).toBe(8);

      await root.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 8, AllowUsersToChangePassword: false }));
      const deniedAgain = await rejection(() => asSam.send(new ChangePasswordCommand({ OldPassword: 'Second-Passw0rd', NewPassword: 'Third-Passw0rd' })));
      expect(deniedAgain.name).toBe('AccessDenied');
    });
  });
});
