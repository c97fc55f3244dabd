import {
  GetAccessKeyLastUsedCommand,
  GetLoginProfileCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUsersCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type IamEmulator, startIamEmulator } from './index.js';
import { iamClient, rejection, stsClient } from './sdk-clients.helper.js';

const ACCOUNT = '123456789012';

// What a discovery run asks of IAM: ListUsers (paged, filtered by path prefix),
// GetAccessKeyLastUsed and GetLoginProfile per user, answered as AWS documents
// them, and the control API's bulk seeding that lets tests build a large account.
describe('IAM emulator: the discovery calls', () => {
  let emulator: IamEmulator;
  let root: IAMClient;
  const clients: { destroy(): void }[] = [];
  const as = (creds: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1') => {
    const c = new IAMClient({ endpoint: emulator.url, region, credentials: creds, maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
    root = iamClient(emulator);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    root.destroy();
    await emulator.close();
  });

  async function listAll(client: IAMClient, input: { PathPrefix?: string; MaxItems?: number } = {}): Promise<{ pages: number; names: string[] }> {
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListUsersCommand({ ...input, Marker: marker }));
      pages += 1;
      names.push(...page.Users!.map((u) => u.UserName!));
      expect(page.Marker === undefined).toBe(!page.IsTruncated);
      marker = page.Marker;
    } while (marker);
    return { pages, names };
  }

  describe('ListUsers', () => {
    it('pages 250 users by 100 in a stable order, each exactly once; a path prefix filters by path', async () => {
      const specs = Array.from({ length: 250 }, (_, i) => ({
        userName: `user-${String(i).padStart(3, '0')}`,
        path: i % 5 === 0 ? '/eng/' : i % 5 === 1 ? '/eng/team/' : '/',
      }));
      emulator.seedUsers(specs);
      const all = await listAll(root);
      expect(all.pages).toBe(3);
      expect(all.names).toEqual(specs.map((s) => s.userName));
      expect(await listAll(root)).toEqual(all);

      const eng = await listAll(root, { PathPrefix: '/eng/', MaxItems: 40 });
      expect(eng.names).toEqual(specs.filter((s) => s.path.startsWith('/eng/')).map((s) => s.userName));
      expect(eng.pages).toBe(3);
      const team = await listAll(root, { PathPrefix: '/eng/team/' });
      expect(team.names).toHaveLength(50);
      expect(await listAll(root, { PathPrefix: '/nobody/' })).toEqual({ pages: 1, names: [] });
    });

    it('answers each user with its path, id, ARN (path included) and creation date', async () => {
      const [seeded] = emulator.seedUsers([{ userName: 'alice', path: '/eng/', createDate: '2020-01-02T03:04:05Z' }]);
      const page = await root.send(new ListUsersCommand({}));
      expect(page.Users).toEqual([
        expect.objectContaining({
          UserName: 'alice',
          Path: '/eng/',
          UserId: seeded!.userId,
          Arn: `arn:aws:iam::${ACCOUNT}:user/eng/alice`,
          CreateDate: new Date('2020-01-02T03:04:05Z'),
        }),
      ]);
      expect(page.IsTruncated).toBe(false);
    });

    it.each([
      ['no leading slash', 'eng/'],
      ['a control character', '/eng\u0001/'],
      ['longer than 512 characters', `/${'a'.repeat(512)}/`],
    ])('refuses a PathPrefix with %s: ValidationError (400)', async (_what, PathPrefix) => {
      const e = await rejection(() => root.send(new ListUsersCommand({ PathPrefix })));
      expect(e.name).toBe('ValidationError');
      expect(e.$metadata?.httpStatusCode).toBe(400);
      expect(e.message).toContain("at 'pathPrefix' failed to satisfy constraint");
    });

    it('is authorized against the path prefix ARN: user/* allows any prefix, user/eng/* only /eng/ and below', async () => {
      const [scoped] = emulator.seedUsers([
        {
          userName: 'scoped',
          keys: 1,
          policies: { list: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListUsers', Resource: `arn:aws:iam::${ACCOUNT}:user/eng/*` }] } },
        },
        { userName: 'worker', path: '/eng/' },
      ]);
      const client = as(scoped!.keys[0]!);
      expect((await client.send(new ListUsersCommand({ PathPrefix: '/eng/' }))).Users!.map((u) => u.UserName)).toEqual(['worker']);
      const denied = await rejection(() => client.send(new ListUsersCommand({})));
      expect(denied.name).toBe('AccessDenied');
      expect(denied.$metadata?.httpStatusCode).toBe(403);
      expect(denied.message).toBe(
        `User: arn:aws:iam::${ACCOUNT}:user/scoped is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::${ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action`,
      );

      const [wide] = emulator.seedUsers([
        { userName: 'wide', keys: 1, policies: { list: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListUsers', Resource: `arn:aws:iam::${ACCOUNT}:user/*` }] } } },
      ]);
      const wideClient = as(wide!.keys[0]!);
      expect((await wideClient.send(new ListUsersCommand({}))).Users).toHaveLength(3);
      expect((await wideClient.send(new ListUsersCommand({ PathPrefix: '/eng/' }))).Users).toHaveLength(1);
    });
  });

  describe('GetAccessKeyLastUsed', () => {
    it('never used: no LastUsedDate, ServiceName and Region "N/A"', async () => {
      const [u] = emulator.seedUsers([{ userName: 'idle', keys: 1 }]);
      const out = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: u!.keys[0]!.accessKeyId }));
      expect(out.UserName).toBe('idle');
      expect(out.AccessKeyLastUsed).toEqual({ ServiceName: 'N/A', Region: 'N/A' });
    });

    it('records every authenticated call: the service ("iam" or "sts") and the signing region', async () => {
      const [u] = emulator.seedUsers([{ userName: 'busy', keys: 1 }]);
      const key = u!.keys[0]!;
      const sts = stsClient(emulator, key);
      clients.push(sts);
      await sts.send(new GetCallerIdentityCommand({}));
      const afterSts = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.accessKeyId }));
      expect(afterSts.AccessKeyLastUsed).toMatchObject({ ServiceName: 'sts', Region: 'us-east-1', LastUsedDate: expect.any(Date) });

      // A call the key is not allowed to make still counts as a use (it was authenticated).
      const denied = await rejection(() => as(key, 'eu-west-1').send(new ListUsersCommand({})));
      expect(denied.name).toBe('AccessDenied');
      const afterIam = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.accessKeyId }));
      expect(afterIam.AccessKeyLastUsed).toMatchObject({ ServiceName: 'iam', Region: 'eu-west-1' });
      expect(afterIam.AccessKeyLastUsed!.LastUsedDate!.getTime()).toBeGreaterThanOrEqual(afterSts.AccessKeyLastUsed!.LastUsedDate!.getTime());
      expect(emulator.getKeyLastUsed(key.accessKeyId)).toMatchObject({ serviceName: 'iam', region: 'eu-west-1' });
    });

    it('a seeded last use is answered as is', async () => {
      const [u] = emulator.seedUsers([
        { userName: 'old', keys: [{ createDate: '2019-01-01T00:00:00Z', lastUsed: { date: '2021-06-01T10:00:00Z', serviceName: 's3', region: 'eu-central-1' } }] },
      ]);
      const out = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: u!.keys[0]!.accessKeyId }));
      expect(out.AccessKeyLastUsed).toEqual({ LastUsedDate: new Date('2021-06-01T10:00:00Z'), ServiceName: 's3', Region: 'eu-central-1' });
    });

    it('a key IAM does not know (or of another account) is AccessDenied naming the key, even for root; never NoSuchEntity', async () => {
      const other = emulator.addAccount('210987654321');
      const [foreign] = emulator.seedUsers([{ userName: 'far', keys: 1 }], '210987654321');
      for (const id of ['AKIAUNKNOWNKEY000000', foreign!.keys[0]!.accessKeyId]) {
        const e = await rejection(() => root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id })));
        expect(e.name).toBe('AccessDenied');
        expect(e.$metadata?.httpStatusCode).toBe(403);
        expect(e.message).toBe(`User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key ${id}`);
      }
      expect(other.accessKeyId).toMatch(/^AKIA/);
      const bad = await rejection(() => root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: 'short' })));
      expect(bad.name).toBe('ValidationError');
    });

    it("is authorized against the key owner's ARN", async () => {
      const [reader, alice, bob] = emulator.seedUsers([
        {
          userName: 'reader',
          keys: 1,
          policies: { p: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetAccessKeyLastUsed', Resource: `arn:aws:iam::${ACCOUNT}:user/eng/*` }] } },
        },
        { userName: 'alice', path: '/eng/', keys: 1 },
        { userName: 'bob', keys: 1 },
      ]);
      const client = as(reader!.keys[0]!);
      await expect(client.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: alice!.keys[0]!.accessKeyId }))).resolves.toMatchObject({ UserName: 'alice' });
      const e = await rejection(() => client.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: bob!.keys[0]!.accessKeyId })));
      expect(e.name).toBe('AccessDenied');
      expect(e.message).toContain('iam:GetAccessKeyLastUsed on resource: user bob');
    });
  });

  describe('GetLoginProfile', () => {
    it('answers UserName, CreateDate and PasswordResetRequired; NoSuchEntity (404) without one, in AWS words', async () => {
      emulator.seedUsers([{ userName: 'console', password: 'Sup3r-Secret!', passwordResetRequired: true }, { userName: 'cli' }]);
      const got = await root.send(new GetLoginProfileCommand({ UserName: 'console' }));
      expect(got.LoginProfile).toEqual({ UserName: 'console', CreateDate: expect.any(Date), PasswordResetRequired: true });
      expect(JSON.stringify(got)).not.toContain('Sup3r-Secret!');

      const none = await rejection(() => root.send(new GetLoginProfileCommand({ UserName: 'cli' })));
      expect(none.name).toBe('NoSuchEntityException');
      expect(none.$metadata?.httpStatusCode).toBe(404);
      expect(none.message).toBe('Login Profile for User cli cannot be found.');

      const ghost = await rejection(() => root.send(new GetLoginProfileCommand({ UserName: 'ghost' })));
      expect(ghost.name).toBe('NoSuchEntityException');
      expect(ghost.message).toBe('The user with name ghost cannot be found.');
    });
  });

  describe('the documented discovery policy: simulation and real calls agree', () => {
    const discoveryPolicy = (resource: string) => ({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['iam:ListUsers', 'iam:ListAccessKeys', 'iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'], Resource: resource },
      ],
    });

    it.each([
      ['the whole account', `arn:aws:iam::${ACCOUNT}:user/*`, true],
      ['only /eng/', `arn:aws:iam::${ACCOUNT}:user/eng/*`, false],
    ])('a policy on %s', async (_name, resource, wholeAccount) => {
      const [executor, target] = emulator.seedUsers([
        { userName: 'discoverer', path: '/eng/', keys: 1, policies: { discovery: discoveryPolicy(resource) } },
        { userName: 'payroll', path: '/finance/', keys: 1, password: 'Pa55-word!x' },
      ]);
      const client = as(executor!.keys[0]!);
      const simulate = async (action: string, resourceArn: string) =>
        (await root.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: executor!.arn, ActionNames: [action], ResourceArns: [resourceArn] })))
          .EvaluationResults![0]!.EvalDecision;
      const outcome = (p: Promise<unknown>) => p.then(() => 'allowed', (e: Error) => (e.name === 'AccessDenied' ? 'implicitDeny' : e.name));
      const calls: [string, string, Promise<unknown>][] = [
        ['iam:ListUsers', `arn:aws:iam::${ACCOUNT}:user/`, client.send(new ListUsersCommand({}))],
        ['iam:ListUsers', `arn:aws:iam::${ACCOUNT}:user/eng/`, client.send(new ListUsersCommand({ PathPrefix: '/eng/' }))],
        ['iam:ListAccessKeys', target!.arn, client.send(new ListAccessKeysCommand({ UserName: 'payroll' }))],
        ['iam:GetAccessKeyLastUsed', target!.arn, client.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: target!.keys[0]!.accessKeyId }))],
        ['iam:GetLoginProfile', target!.arn, client.send(new GetLoginProfileCommand({ UserName: 'payroll' }))],
      ];
      const seen: string[][] = [];
      for (const [action, arn, call] of calls) {
        const real = await outcome(call);
        expect([action, arn, await simulate(action, arn)]).toEqual([action, arn, real]);
        seen.push([action, real]);
      }
      expect(seen.filter(([, r]) => r === 'allowed').length).toBe(wholeAccount ? 5 : 1);
    });
  });

  describe('control API: bulk seeding and last use', () => {
    const post = (path: string, body: unknown) =>
      fetch(`${emulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    it('POST /_emulator/seed makes 250 users with 0, 1 or 2 keys and login profiles in one call', async () => {
      const users = Array.from({ length: 250 }, (_, i) => ({
        userName: `u${i}`,
        path: i % 2 ? '/app/' : '/',
        keys: i % 3,
        ...(i % 4 === 0 ? { password: 'Seed-Passw0rd!' } : {}),
      }));
      const res = await post('/_emulator/seed', { users });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { users: { userName: string; arn: string; keys: { accessKeyId: string; secretAccessKey: string; status: string }[] }[] };
      expect(body.users).toHaveLength(250);
      expect(body.users.map((u) => u.keys.length)).toEqual(users.map((u) => u.keys));
      expect(body.users[1]!.arn).toBe(`arn:aws:iam::${ACCOUNT}:user/app/u1`);
      expect((await listAll(root)).names).toHaveLength(250);
      expect(emulator.listKeys('u2').map((k) => k.status)).toEqual(['Active', 'Active']);
      expect(emulator.getPassword('u4')).toBe('Seed-Passw0rd!');
      expect(emulator.getPassword('u1')).toBeUndefined();
      // The seeded keys work at once (no propagation delay).
      const sts = stsClient(emulator, body.users[1]!.keys[0]!);
      clients.push(sts);
      await expect(sts.send(new GetCallerIdentityCommand({}))).resolves.toMatchObject({ Arn: `arn:aws:iam::${ACCOUNT}:user/app/u1` });
    });

    it('refuses a bad seed with 400 and creates none of it', async () => {
      emulator.seedUsers([{ userName: 'taken' }]);
      for (const users of [
        [{ userName: 'fresh' }, { userName: 'TAKEN' }],
        [{ userName: 'fresh', keys: 3 }],
        [{ userName: 'fresh', path: 'no-slash' }],
        [{ userName: 'fresh', keys: [{ lastUsed: { date: 'yesterday-ish' } }] }],
        [{ userName: 'fresh' }, { userName: 'Fresh' }],
      ]) {
        const res = await post('/_emulator/seed', { users });
        expect(res.status).toBe(400);
        expect(emulator.getUser('fresh')).toBeUndefined();
      }
      expect((await post('/_emulator/seed', { nope: true })).status).toBe(400);
    });

    it('GET and POST /_emulator/keys/:id/last-used read and set a key’s last use; 404 for an unknown key', async () => {
      const [u] = emulator.seedUsers([{ userName: 'k', keys: 1 }]);
      const id = u!.keys[0]!.accessKeyId;
      expect(await (await fetch(`${emulator.url}/_emulator/keys/${id}/last-used`)).json()).toEqual({ lastUsed: null });
      expect((await post(`/_emulator/keys/${id}/last-used`, { date: '2022-02-02T00:00:00Z', serviceName: 'ec2', region: 'ap-south-1' })).status).toBe(200);
      const out = await root.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }));
      expect(out.AccessKeyLastUsed).toEqual({ LastUsedDate: new Date('2022-02-02T00:00:00Z'), ServiceName: 'ec2', Region: 'ap-south-1' });
      expect(await (await fetch(`${emulator.url}/_emulator/keys/${id}/last-used`)).json()).toEqual({
        lastUsed: { date: '2022-02-02T00:00:00.000Z', serviceName: 'ec2', region: 'ap-south-1' },
      });
      expect((await post(`/_emulator/keys/${id}/last-used`, null)).status).toBe(200);
      expect(emulator.getKeyLastUsed(id)).toBeUndefined();
      expect((await fetch(`${emulator.url}/_emulator/keys/AKIANOPE000000000000/last-used`)).status).toBe(404);
    });
  });
});
