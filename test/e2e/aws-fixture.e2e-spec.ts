/**
 * The fixture's own contract: "this key is dead" must mean AWS said so, with
 * the code it said, never that AWS could not be reached.
 */
import { UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { AwsFixture } from './aws-fixture.js';

describe('AwsFixture: whoAmI and stsError', () => {
  let aws: AwsFixture;
  beforeAll(async () => {
    aws = await AwsFixture.start();
  });
  afterAll(async () => {
    await aws?.close();
  });

  it('a working key answers with its ARN; a deleted, inactive or mis-signed key with the exact AWS error code', async () => {
    const name = aws.uniqueName('fx');
    const u = await aws.user(name);
    expect(await aws.whoAmI(u)).toBe(`arn:aws:iam::${aws.accountId}:user/${name}`);
    await expect(aws.stsError(u)).rejects.toThrow(`the key works: it answers as arn:aws:iam::${aws.accountId}:user/${name}`);

    expect(await aws.stsError({ ...u, secretAccessKey: u.secretAccessKey.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).toBe('SignatureDoesNotMatch');
    const second = await aws.createKey(name);
    await aws.iam.send(new UpdateAccessKeyCommand({ UserName: name, AccessKeyId: second.accessKeyId, Status: 'Inactive' }));
    expect(await aws.stsError(second)).toBe('InvalidClientTokenId');
    await aws.deleteKey(name, u.accessKeyId);
    expect(await aws.stsError(u)).toBe('InvalidClientTokenId');
    await expect(aws.whoAmI(u)).rejects.toThrow('AWS rejected the key: InvalidClientTokenId');
  });

  it('AWS out of reach is neither an ARN nor a dead key: both calls fail with the network error', async () => {
    const gone = await AwsFixture.start();
    const name = gone.uniqueName('fx');
    const u = await gone.user(name);
    await gone.close();
    await expect(gone.whoAmI(u)).rejects.toThrow(/could not reach the IAM emulator: .*ECONNREFUSED/);
    await expect(gone.stsError(u)).rejects.toThrow(/could not reach the IAM emulator: .*ECONNREFUSED/);
  });
});
