import { CreateUserCommand, GetUserCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { iamClient, rejection, stsClient } from './sdk-clients.helper.js';

describe('IAM emulator: several accounts behind one endpoint', () => {
  let emulator: IamEmulator;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('gives an added account its own root key, and each key answers as its own account', async () => {
    const second = emulator.addAccount('210987654321');
    expect(second.accessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(second.secretAccessKey).toHaveLength(40);
    const me = await stsClient(emulator, second).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:root' });
    const first = await stsClient(emulator).send(new GetCallerIdentityCommand({}));
    expect(first).toMatchObject({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:root' });
  });

  it('keeps the accounts apart: same user name in both, and no caller sees the other account’s users', async () => {
    const secondRoot = emulator.addAccount('210987654321');
    const a = iamClient(emulator);
    const b = iamClient(emulator, secondRoot);
    const inA = await a.send(new CreateUserCommand({ UserName: 'alice' }));
    const inB = await b.send(new CreateUserCommand({ UserName: 'alice' }));
    expect(inA.User!.Arn).toBe('arn:aws:iam::123456789012:user/alice');
    expect(inB.User!.Arn).toBe('arn:aws:iam::210987654321:user/alice');
    await b.send(new CreateUserCommand({ UserName: 'bob' }));
    const err = await rejection(() => a.send(new GetUserCommand({ UserName: 'bob' })));
    expect(err.name).toBe('NoSuchEntityException');
    // Inspection helpers take the account; without one they mean the first account.
    expect(emulator.getUser('bob')).toBeUndefined();
    expect(emulator.getUser('bob', '210987654321')).toMatchObject({ arn: 'arn:aws:iam::210987654321:user/bob' });
    const keysInB = await b.send(new ListAccessKeysCommand({ UserName: 'alice' }));
    expect(keysInB.AccessKeyMetadata).toEqual([]);
    expect(emulator.listKeys('alice', '210987654321')).toEqual([]);
  });

  it('seeds a user in the account it is told', () => {
    emulator.addAccount('210987654321');
    const seeded = emulator.seedUser('dave', { withAccessKey: true, accountId: '210987654321' });
    expect(seeded.arn).toBe('arn:aws:iam::210987654321:user/dave');
    expect(emulator.listKeys('dave', '210987654321').map((k) => k.accessKeyId)).toEqual([seeded.accessKeyId]);
    expect(emulator.getUser('dave')).toBeUndefined();
  });

  it('refuses a malformed or duplicate account id', () => {
    expect(() => emulator.addAccount('12345')).toThrow('accountId must be 12 digits');
    expect(() => emulator.addAccount('123456789012')).toThrow('account 123456789012 already exists');
  });

  it('resetState forgets every account’s users but keeps the accounts and their root keys', async () => {
    const secondRoot = emulator.addAccount('210987654321');
    const b = iamClient(emulator, secondRoot);
    await b.send(new CreateUserCommand({ UserName: 'carol' }));
    emulator.resetState();
    expect(emulator.getUser('carol', '210987654321')).toBeUndefined();
    const me = await stsClient(emulator, secondRoot).send(new GetCallerIdentityCommand({}));
    expect(me.Account).toBe('210987654321');
  });
});
