import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
  paginateListUsers,
} from '@aws-sdk/client-iam';
import { type IamEmulator, startIamEmulator } from './index.js';
import { iamClient, rejection } from './sdk-clients.helper.js';

// IAM's list actions page with MaxItems (1–1000, default 100) and an opaque
// Marker: a truncated page says IsTruncated=true and carries the Marker that
// asks for the rest. Keyturn's adapter follows them, so the emulator must page too.
describe('IAM emulator: list pagination (MaxItems, Marker, IsTruncated)', () => {
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

  it('ListAccessKeys: MaxItems=1 answers one key, IsTruncated and a Marker; the Marker gives the other one', async () => {
    await root.send(new CreateUserCommand({ UserName: 'pager' }));
    const a = await root.send(new CreateAccessKeyCommand({ UserName: 'pager' }));
    const b = await root.send(new CreateAccessKeyCommand({ UserName: 'pager' }));

    const first = await root.send(new ListAccessKeysCommand({ UserName: 'pager', MaxItems: 1 }));
    expect(first.AccessKeyMetadata).toHaveLength(1);
    expect(first.IsTruncated).toBe(true);
    expect(first.Marker).toEqual(expect.any(String));

    const second = await root.send(new ListAccessKeysCommand({ UserName: 'pager', MaxItems: 1, Marker: first.Marker }));
    expect(second.AccessKeyMetadata).toHaveLength(1);
    expect(second.IsTruncated).toBe(false);
    expect(second.Marker).toBeUndefined();

    const ids = [...first.AccessKeyMetadata!, ...second.AccessKeyMetadata!].map((k) => k.AccessKeyId);
    expect(ids.sort()).toEqual([a.AccessKey!.AccessKeyId, b.AccessKey!.AccessKeyId].sort());

    const whole = await root.send(new ListAccessKeysCommand({ UserName: 'pager', MaxItems: 2 }));
    expect(whole.AccessKeyMetadata).toHaveLength(2);
    expect(whole.IsTruncated).toBe(false);
    expect(whole.Marker).toBeUndefined();
  });

  it('ListUsers, ListUserPolicies and SimulatePrincipalPolicy page the same way (the SDK paginator walks them)', async () => {
    for (const name of ['u1', 'u2', 'u3']) await root.send(new CreateUserCommand({ UserName: name }));
    const pages: string[][] = [];
    for await (const page of paginateListUsers({ client: root, pageSize: 2 }, {})) pages.push(page.Users!.map((u) => u.UserName!));
    expect(pages).toEqual([['u1', 'u2'], ['u3']]);

    const policy = (n: number) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: `iam:Get${n}`, Resource: '*' }] });
    for (const n of [1, 2, 3]) await root.send(new PutUserPolicyCommand({ UserName: 'u1', PolicyName: `p${n}`, PolicyDocument: policy(n) }));
    const policies = await root.send(new ListUserPoliciesCommand({ UserName: 'u1', MaxItems: 2 }));
    expect(policies).toMatchObject({ PolicyNames: ['p1', 'p2'], IsTruncated: true });
    const rest = await root.send(new ListUserPoliciesCommand({ UserName: 'u1', MaxItems: 2, Marker: policies.Marker }));
    expect(rest).toMatchObject({ PolicyNames: ['p3'], IsTruncated: false });

    const sim = (Marker?: string) =>
      root.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: 'arn:aws:iam::123456789012:user/u1',
          ActionNames: ['iam:Get1', 'iam:Get2', 'iam:Get4'],
          MaxItems: 2,
          Marker,
        }),
      );
    const simFirst = await sim();
    expect(simFirst.EvaluationResults!.map((r) => r.EvalActionName)).toEqual(['iam:Get1', 'iam:Get2']);
    expect(simFirst.IsTruncated).toBe(true);
    const simRest = await sim(simFirst.Marker);
    expect(simRest.EvaluationResults!.map((r) => [r.EvalActionName, r.EvalDecision])).toEqual([['iam:Get4', 'implicitDeny']]);
    expect(simRest.IsTruncated).toBe(false);
  });

  // The 101 users are seeded in process: 101 CreateUser calls over HTTP overran jest's 5 s on a loaded
  // machine, and creation is not what this test is about (the two above create theirs over HTTP).
  it('without MaxItems a page holds up to 100 items, as IAM defaults', async () => {
    for (let n = 0; n < 101; n++) emulator.seedUser(`bulk-${String(n).padStart(3, '0')}`);
    const first = await root.send(new ListUsersCommand({}));
    expect(first.Users).toHaveLength(100);
    expect(first.IsTruncated).toBe(true);
    const second = await root.send(new ListUsersCommand({ Marker: first.Marker }));
    expect(second.Users!.map((u) => u.UserName)).toEqual(['bulk-100']);
    expect(second.IsTruncated).toBe(false);
  });

  it.each([
    ['MaxItems=0', { MaxItems: 0 }],
    ['MaxItems=1001', { MaxItems: 1001 }],
    ['a Marker it never issued', { Marker: 'not-a-marker' }],
  ])('refuses %s with ValidationError (400)', async (_name, input) => {
    const e = await rejection(() => root.send(new ListUsersCommand(input)));
    expect(e.name).toBe('ValidationError');
    expect(e.$metadata?.httpStatusCode).toBe(400);
  });
});
