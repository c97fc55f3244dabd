import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, ListAccessKeysCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { createUserWithKey, iamClient, rejection, stsClient } from './sdk-clients.helper.js';

const INVALID_TOKEN = 'The security token included in the request is invalid.';

describe('IAM emulator: SigV4 authentication', () => {
  let emulator: IamEmulator;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('rejects an unknown access key with InvalidClientTokenId (403) on IAM and STS', async () => {
    const creds = { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) };
    const sts = await rejection(() => stsClient(emulator, creds).send(new GetCallerIdentityCommand({})));
    expect(sts.name).toBe('InvalidClientTokenId');
    expect(sts.message).toBe(INVALID_TOKEN);
    expect(sts.$metadata?.httpStatusCode).toBe(403);
    const iam = await rejection(() => iamClient(emulator, creds).send(new ListAccessKeysCommand({})));
    expect(iam.name).toBe('InvalidClientTokenId');
  });

  it('rejects a wrong secret with SignatureDoesNotMatch (403) and does not run the action', async () => {
    const creds = { accessKeyId: emulator.rootCredentials.accessKeyId, secretAccessKey: 'y'.repeat(40) };
    const err = await rejection(() => iamClient(emulator, creds).send(new CreateUserCommand({ UserName: 'never' })));
    expect(err.name).toBe('SignatureDoesNotMatch');
    expect(err.message).toMatch(/^The request signature we calculated does not match the signature you provided\./);
    expect(err.$metadata?.httpStatusCode).toBe(403);
    expect(emulator.getUser('never')).toBeUndefined();
  });

  it('rejects an inactive key, and accepts it again once reactivated', async () => {
    const alice = await createUserWithKey(emulator, 'alice');
    const root = iamClient(emulator);
    await root.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: alice.accessKeyId, Status: 'Inactive' }));
    const err = await rejection(() => stsClient(emulator, alice).send(new GetCallerIdentityCommand({})));
    expect(err.name).toBe('InvalidClientTokenId');
    expect(err.message).toBe(INVALID_TOKEN);

    await root.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: alice.accessKeyId, Status: 'Active' }));
    const id = await stsClient(emulator, alice).send(new GetCallerIdentityCommand({}));
    expect(id.Arn).toBe('arn:aws:iam::123456789012:user/alice');
  });

  it('rejects a deleted key', async () => {
    const bob = await createUserWithKey(emulator, 'bob');
    await iamClient(emulator).send(new DeleteAccessKeyCommand({ UserName: 'bob', AccessKeyId: bob.accessKeyId }));
    const err = await rejection(() => stsClient(emulator, bob).send(new GetCallerIdentityCommand({})));
    expect(err.name).toBe('InvalidClientTokenId');
  });

  it('answers MissingAuthenticationToken (403) to an unsigned request, in the service namespace', async () => {
    const iam = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=ListUsers&Version=2010-05-08',
    });
    expect(iam.status).toBe(403);
    const iamXml = await iam.text();
    expect(iamXml).toContain('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">');
    expect(iamXml).toContain('<Type>Sender</Type><Code>MissingAuthenticationToken</Code>');
    expect(iamXml).toMatch(/<RequestId>[0-9a-f-]{36}<\/RequestId>/);

    const sts = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(sts.status).toBe(403);
    expect(await sts.text()).toContain('xmlns="https://sts.amazonaws.com/doc/2011-06-15/"');
  });

  it('answers IncompleteSignature (400) to a malformed Authorization header', async () => {
    const res = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=AKIAX/20250101/us-east-1/iam/aws4_request' },
      body: 'Action=ListUsers&Version=2010-05-08',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>IncompleteSignature</Code>');
  });

  describe('propagation delay', () => {
    it('makes a new key answer InvalidClientTokenId until the delay has passed, on STS and IAM', async () => {
      const root = iamClient(emulator);
      await root.send(new CreateUserCommand({ UserName: 'carol' }));
      const newKey = async () => {
        const { AccessKey } = await root.send(new CreateAccessKeyCommand({ UserName: 'carol' }));
        return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey!, createdAt: AccessKey!.CreateDate! };
      };
      // A delay no test run outlasts: the new key is refused, whatever the machine's speed.
      emulator.setPropagationDelayMs(600_000);
      const slow = await newKey();
      const early = await rejection(() => stsClient(emulator, slow).send(new GetCallerIdentityCommand({})));
      expect(early.name).toBe('InvalidClientTokenId');
      const earlyIam = await rejection(() => iamClient(emulator, slow).send(new ListAccessKeysCommand({})));
      expect(earlyIam.name).toBe('InvalidClientTokenId');

      // A short delay: refused until it has passed, then accepted (waiting on the outcome, not on a timer).
      emulator.setPropagationDelayMs(300);
      const soon = await newKey();
      const refusals: string[] = [];
      let arn: string | undefined;
      while (arn === undefined) {
        try {
          arn = (await stsClient(emulator, soon).send(new GetCallerIdentityCommand({}))).Arn;
        } catch (e) {
          refusals.push((e as Error).name);
        }
      }
      expect(arn).toBe('arn:aws:iam::123456789012:user/carol');
      expect(new Set(refusals)).toEqual(new Set(refusals.length ? ['InvalidClientTokenId'] : []));
      // Accepted no sooner than the delay after creation (CreateDate is whole seconds, so allow for the cut).
      expect(Date.now()).toBeGreaterThanOrEqual(soon.createdAt.getTime() + 300);
    });

    it('does not affect keys that existed before the delay was set', async () => {
      const dave = await createUserWithKey(emulator, 'dave');
      emulator.setPropagationDelayMs(60_000);
      const id = await stsClient(emulator, dave).send(new GetCallerIdentityCommand({}));
      expect(id.Arn).toBe('arn:aws:iam::123456789012:user/dave');
      expect((await stsClient(emulator).send(new GetCallerIdentityCommand({}))).Arn).toBe('arn:aws:iam::123456789012:root');
    });
  });

  it('uses configured root credentials and account id', async () => {
    const custom = await startIamEmulator({
      port: 0,
      accountId: '210987654321',
      rootAccessKeyId: 'AKIACUSTOMROOT000001',
      rootSecretAccessKey: 'c'.repeat(40),
    });
    try {
      const id = await stsClient(custom).send(new GetCallerIdentityCommand({}));
      expect(id).toMatchObject({ Account: '210987654321', Arn: 'arn:aws:iam::210987654321:root' });
      const wrong = await rejection(() => stsClient(custom, emulator.rootCredentials).send(new GetCallerIdentityCommand({})));
      expect(wrong.name).toBe('InvalidClientTokenId');
    } finally {
      await custom.close();
    }
  });
});
