import { GetAccessKeyLastUsedCommand, GetLoginProfileCommand, IAMClient, ListAccessKeysCommand, ListUsersCommand } from '@aws-sdk/client-iam';
import { AwsFixture, type Creds } from './aws-fixture.js';
import { Processes, vaultOps } from './vault-ops.js';
import { client, createApiKey, createTestEnv, freePort, type Client, type TestEnv } from './harness.js';
import { without, type PolicyDoc } from './policy-doc.js';

// The four calls of a discovery run, and which of them a run cannot do without (issue 15).
const REQUIRED = ['iam:ListUsers', 'iam:ListAccessKeys'];
const OPTIONAL = ['iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile'];
const DISCOVERY = [...REQUIRED, ...OPTIONAL];

/**
 * GET /v1/discoveries/required-permissions: the policy a discovery executor
 * needs, exact (written out here independently of the code), sufficient (the
 * executor with exactly it makes every discovery call against the emulator) and
 * minimal (without any one action, ?check=true names that action, and the
 * real call is refused). The API is spawned with the emulator as its AWS
 * endpoint, so ?check=true really asks IAM.
 */
describe('discovery required permissions', () => {
  let aws: AwsFixture;
  let t: TestEnv;
  let admin: Client;
  let apiUrl: string;
  const procs = new Processes(() => ({ ...t.env, ...aws.env }));
  const { keySecret, passwordSecret } = vaultOps(() => admin, () => aws.accountId);
  const sdk: IAMClient[] = [];
  const as = (creds: Creds) => {
    const c = new IAMClient({ endpoint: aws.emu.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    sdk.push(c);
    return c;
  };

  beforeAll(async () => {
    aws = await AwsFixture.start();
    t = await createTestEnv();
    const port = await freePort();
    await procs.start('secrets-api', { PORT: String(port), KEYTURN_AWS_MAX_ATTEMPTS: '1' });
    apiUrl = `http://127.0.0.1:${port}`;
    admin = client(apiUrl, t.adminToken);
  });
  afterAll(async () => {
    for (const c of sdk.splice(0)) c.destroy();
    await procs.stopAll();
    await t?.drop();
    await aws?.close();
  });
  afterEach(() => {
    aws.emu.resetFaults();
  });

  const usersArn = (prefix = '/') => `arn:aws:iam::${aws.accountId}:user${prefix}*`;

  async function required(executorSecretId: string, query: { pathPrefix?: string; check?: boolean } = {}): Promise<any> {
    const q = new URLSearchParams({ executorSecretId });
    if (query.pathPrefix !== undefined) q.set('pathPrefix', query.pathPrefix);
    if (query.check) q.set('check', 'true');
    const r = await admin.get(`/v1/discoveries/required-permissions?${q}`);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 200 });
    return r.body;
  }

  /** An executor (a user with a key, stored as an aws-iam-key secret) and, to discover, a user with a key and a console password. */
  async function setup(executorPath = '/') {
    const executor = aws.uniqueName('discoverer');
    const [e] = aws.emu.seedUsers([{ userName: executor, path: executorPath, keys: 1 }]);
    const creds = e!.keys[0]!;
    const id = await keySecret(executor, creds);
    const target = aws.uniqueName('found');
    const [found] = aws.emu.seedUsers([{ userName: target, path: '/eng/', keys: 1, password: 'Found-Passw0rd!' }]);
    return { id, executor, creds, target, targetKey: found!.keys[0]!.accessKeyId };
  }

  /** The policy plus SimulatePrincipalPolicy (recommended), which ?check=true needs to ask AWS at all. */
  const withSimulate = (r: { policy: PolicyDoc; recommended: PolicyDoc }): PolicyDoc => ({
    Version: '2012-10-17',
    Statement: [...r.policy.Statement, ...r.recommended.Statement],
  });

  /** Each discovery call as the executor: 'allowed', or AWS's error name. */
  async function realCalls(creds: Creds, target: string, targetKey: string, pathPrefix = '/'): Promise<Record<string, string>> {
    const c = as(creds);
    const outcome = (p: Promise<unknown>) => p.then(() => 'allowed', (e: Error) => e.name);
    return {
      'iam:ListUsers': await outcome(c.send(new ListUsersCommand({ PathPrefix: pathPrefix }))),
      'iam:ListAccessKeys': await outcome(c.send(new ListAccessKeysCommand({ UserName: target }))),
      'iam:GetAccessKeyLastUsed': await outcome(c.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: targetKey }))),
      'iam:GetLoginProfile': await outcome(c.send(new GetLoginProfileCommand({ UserName: target }))),
    };
  }

  describe('the document', () => {
    it('the four discovery calls on every user of the account, in one statement; SimulatePrincipalPolicy on itself recommended', async () => {
      const { id, executor } = await setup();
      const r = await required(id);
      expect(r).toEqual({
        executorSecretId: id,
        executorUser: executor,
        accountId: aws.accountId,
        pathPrefix: '/',
        policy: { Version: '2012-10-17', Statement: [{ Sid: 'KeyturnDiscovery', Effect: 'Allow', Action: DISCOVERY, Resource: usersArn() }] },
        recommended: {
          Version: '2012-10-17',
          Statement: [{ Sid: 'KeyturnPreflight', Effect: 'Allow', Action: ['iam:SimulatePrincipalPolicy'], Resource: `arn:aws:iam::${aws.accountId}:user/\${aws:username}` }],
        },
        requiredActions: REQUIRED,
        optionalActions: OPTIONAL,
      });
    });

    it('with a pathPrefix: the users under that path only', async () => {
      const { id } = await setup();
      const r = await required(id, { pathPrefix: '/eng/team/' });
      expect(r.pathPrefix).toBe('/eng/team/');
      expect(r.policy.Statement).toEqual([expect.objectContaining({ Action: DISCOVERY, Resource: usersArn('/eng/team/') })]);
    });
  });

  describe('sufficient and minimal', () => {
    it('an executor with exactly the documented policy passes the check, and every discovery call works', async () => {
      const { id, executor, creds, target, targetKey } = await setup();
      await aws.putPolicy(executor, withSimulate(await required(id)));
      const r = await required(id, { check: true });
      expect(r.check).toMatchObject({ available: true, allAllowed: true, deniedActions: [] });
      expect(r.check.results).toEqual([
        { action: 'iam:ListUsers', resource: `arn:aws:iam::${aws.accountId}:user/`, decision: 'allowed' },
        ...DISCOVERY.slice(1).map((action) => ({ action, resource: usersArn(), decision: 'allowed' })),
      ]);
      expect(await realCalls(creds, target, targetKey)).toEqual(Object.fromEntries(DISCOVERY.map((a) => [a, 'allowed'])));
    });

    it.each(DISCOVERY)('without %s: the check names it, and AWS refuses that call only', async (action) => {
      const { id, executor, creds, target, targetKey } = await setup();
      await aws.putPolicy(executor, without(withSimulate(await required(id)), action));
      const r = await required(id, { check: true });
      expect(r.check).toMatchObject({ available: true, allAllowed: false, deniedActions: [action] });
      expect(r.check.results.filter((x: { decision: string }) => x.decision !== 'allowed')).toEqual([
        expect.objectContaining({ action, decision: 'implicitDeny' }),
      ]);
      const real = await realCalls(creds, target, targetKey);
      expect(real).toEqual(Object.fromEntries(DISCOVERY.map((a) => [a, a === action ? 'AccessDenied' : 'allowed'])));
    });

    it('a policy for /eng/ passes the check for /eng/ and fails it, naming every action, for the whole account', async () => {
      const { id, executor, creds, target, targetKey } = await setup();
      await aws.putPolicy(executor, withSimulate(await required(id, { pathPrefix: '/eng/' })));
      expect((await required(id, { pathPrefix: '/eng/', check: true })).check).toMatchObject({ allAllowed: true, deniedActions: [] });
      expect(await realCalls(creds, target, targetKey, '/eng/')).toEqual(Object.fromEntries(DISCOVERY.map((a) => [a, 'allowed'])));

      const whole = await required(id, { check: true });
      expect(whole.check).toMatchObject({ available: true, allAllowed: false, deniedActions: DISCOVERY });
      expect((await realCalls(creds, target, targetKey, '/'))['iam:ListUsers']).toBe('AccessDenied');
    });

    it('without SimulatePrincipalPolicy: available false with a reason, and still the document', async () => {
      const { id, executor } = await setup();
      const doc = await required(id);
      await aws.putPolicy(executor, doc.policy);
      const r = await required(id, { check: true });
      expect(r.check).toEqual({ available: false, reason: expect.stringContaining('iam:SimulatePrincipalPolicy') });
      expect(r.policy).toEqual(doc.policy);
    });

    it('AWS failing: available false, never a 5xx, no key material in the reason', async () => {
      const { id, executor, creds } = await setup();
      await aws.putPolicy(executor, withSimulate(await required(id)));
      aws.emu.failNext('SimulatePrincipalPolicy', 10, { code: 'ServiceFailure', status: 500, message: 'internal failure' });
      const r = await required(id, { check: true });
      expect(r.check.available).toBe(false);
      expect(r.check.reason).toEqual(expect.any(String));
      expect(JSON.stringify(r)).not.toContain(creds.secretAccessKey);
      expect(JSON.stringify(r)).not.toContain(creds.accessKeyId);
    });
  });

  describe('bad input: a 4xx with a code, nothing sent to AWS', () => {
    /** The AWS calls made since `quiet()`. */
    const quiet = () => aws.emu.clearCallLog();
    const awsCalls = () => aws.emu.callLog().map((c) => c.action);

    it('an executor that is not an aws-iam-key secret: 422 DISCOVERY_EXECUTOR_WRONG_TYPE', async () => {
      const user = aws.uniqueName('console');
      aws.emu.seedUsers([{ userName: user, password: 'Console-Passw0rd!' }]);
      const pw = await passwordSecret(user, 'Console-Passw0rd!');
      quiet();
      for (const check of ['', '&check=true']) {
        const r = await admin.get(`/v1/discoveries/required-permissions?executorSecretId=${pw}${check}`);
        expect({ status: r.status, code: r.body.code }).toEqual({ status: 422, code: 'DISCOVERY_EXECUTOR_WRONG_TYPE' });
        expect(r.body.message).toContain(pw);
        expect(r.body.message).toContain('aws-iam-key');
      }
      expect(awsCalls()).toEqual([]);
    });

    it('an executor that does not exist, or lies outside the API key’s folders: 404 SECRET_NOT_FOUND, the same answer', async () => {
      const { id } = await setup();
      const scoped = client(apiUrl, (await createApiKey(admin, 'viewer', { folderScopes: ['/elsewhere'] })).token);
      const missing = '01890000-0000-7000-8000-000000000001';
      quiet();
      const outside = await scoped.get(`/v1/discoveries/required-permissions?executorSecretId=${id}&check=true`);
      const absent = await admin.get(`/v1/discoveries/required-permissions?executorSecretId=${missing}`);
      expect([outside.status, outside.body.code, absent.status, absent.body.code]).toEqual([404, 'SECRET_NOT_FOUND', 404, 'SECRET_NOT_FOUND']);
      expect(outside.body.message.replace(id, 'ID')).toBe(absent.body.message.replace(missing, 'ID'));
      expect(awsCalls()).toEqual([]);
    });

    it.each([
      ['no executorSecretId', '', 'executorSecretId must be a UUID'],
      ['an executorSecretId that is not a UUID', 'executorSecretId=nope', 'executorSecretId must be a UUID'],
      ['a pathPrefix without slashes around it', 'pathPrefix=eng', 'pathPrefix must be an IAM path'],
      ['a pathPrefix without its trailing slash', 'pathPrefix=%2Feng', 'pathPrefix must be an IAM path'],
      ['a pathPrefix with a space', 'pathPrefix=%2Fe%20g%2F', 'pathPrefix must be an IAM path'],
      ['a pathPrefix longer than 512 characters', `pathPrefix=%2F${'a'.repeat(512)}%2F`, 'pathPrefix must be an IAM path'],
      ['a check that is not true or false', 'check=maybe', 'check must be true or false'],
      ['an unknown parameter', 'pathprefix=%2F', 'pathprefix is not a known field'],
    ])('%s: 400', async (_name, query, problem) => {
      const { id } = await setup();
      const q = query.includes('executorSecretId') || query === '' ? query : `executorSecretId=${id}&${query}`;
      quiet();
      // With check=true where the case allows it: even then nothing reaches AWS.
      const withCheck = q.includes('check=') ? q : [q, 'check=true'].filter(Boolean).join('&');
      const r = await admin.get(`/v1/discoveries/required-permissions?${withCheck}`);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe(problem.endsWith('is not a known field') ? 'UNKNOWN_FIELD' : 'VALIDATION_FAILED');
      expect(r.body.message).toContain(problem);
      expect(awsCalls()).toEqual([]);
    });
  });
});
