import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IamErrorCode } from '@keyturn/contracts';
import { AwsIamClient, sdkCallBudgetMs, type AwsIamClientOptions } from './aws-iam.adapter.js';
import { IamError, deniedAction } from './iam-client.port.js';
import { type IamEmulator, startIamEmulator } from '../../../test/iam-emulator/src/index.js';

// The real SDK against a canned IAM/STS: proves request shape, XML parsing,
// retry behaviour and error mapping end to end, with no AWS account.

interface Seen {
  action: string;
  params: URLSearchParams;
  authorization: string;
  host: string;
  userAgent: string;
}

interface Reply {
  status?: number;
  body: string;
  /** Leave the request unanswered (for timeouts). */
  hang?: boolean;
  /** Send the headers, then one byte of body every 50 ms, never finishing: no idle timeout ever fires. */
  drip?: boolean;
  /** Answer after this long. */
  delayMs?: number;
}

type Handler = (action: string, params: URLSearchParams, n: number) => Reply;

class StubAws {
  readonly seen: Seen[] = [];
  /** TCP connections accepted since start (each a new socket a client opened). */
  connections = 0;
  handler: Handler = () => ({ status: 500, body: 'no handler' });
  private server!: Server;
  private readonly hanging: ServerResponse[] = [];
  private readonly dripWaiters: { match: (s: Seen) => boolean; resolve: () => void }[] = [];

  /** Settles when the client closes a dripping answer to a request `match` picks (its abort signal fired). */
  dripClosed(match: (s: Seen) => boolean): Promise<void> {
    return new Promise((resolve) => this.dripWaiters.push({ match, resolve }));
  }

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const params = new URLSearchParams(raw);
        const action = params.get('Action') ?? '';
        const seen: Seen = {
          action,
          params,
          authorization: String(req.headers.authorization ?? ''),
          host: String(req.headers.host ?? ''),
          userAgent: String(req.headers['user-agent'] ?? ''),
        };
        this.seen.push(seen);
        const reply = this.handler(action, params, this.seen.filter((s) => s.action === action).length);
        if (reply.hang) {
          this.hanging.push(res);
          return;
        }
        if (reply.drip) {
          this.hanging.push(res);
          res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-stub' });
          const timer = setInterval(() => res.write(' '), 50);
          res.on('close', () => {
            clearInterval(timer);
            for (const w of this.dripWaiters.filter((w) => w.match(seen))) w.resolve();
          });
          return;
        }
        const answer = () => {
          res.writeHead(reply.status ?? 200, { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-stub' });
          res.end(reply.body);
        };
        if (reply.delayMs) setTimeout(answer, reply.delayMs);
        else answer();
      });
    });
    this.server.on('connection', () => this.connections++);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  actions(): string[] {
    return this.seen.map((s) => s.action);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const meta = '<ResponseMetadata><RequestId>req-stub</RequestId></ResponseMetadata>';

const ok = (action: string, result: string, ns = IAM_NS): Reply => ({
  body: `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result>${meta}</${action}Response>`,
});
const okEmpty = (action: string): Reply => ({ body: `<${action}Response xmlns="${IAM_NS}">${meta}</${action}Response>` });
const fail = (status: number, code: string, message: string, type = 'Sender', ns = IAM_NS): Reply => ({
  status,
  body: `<ErrorResponse xmlns="${ns}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-stub</RequestId></ErrorResponse>`,
});

const callerIdentity = ok(
  'GetCallerIdentity',
  '<Arn>arn:aws:iam::123456789012:user/ci/alice</Arn><UserId>AIDAEXAMPLEUSERID0001</UserId><Account>123456789012</Account>',
  STS_NS,
);
const keyMember = (id: string, status: string) =>
  `<member><UserName>alice</UserName><AccessKeyId>${id}</AccessKeyId><Status>${status}</Status><CreateDate>2024-05-01T10:00:00Z</CreateDate></member>`;

const CREDS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_IAM',
  'AWS_ENDPOINT_URL_STS',
  'AWS_REGION',
  'AWS_MAX_ATTEMPTS',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_PROFILE',
  'AWS_SDK_UA_APP_ID',
];

async function rejection(p: Promise<unknown>): Promise<IamError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(IamError);
    return e as IamError;
  }
  throw new Error('expected a rejection');
}

describe('AwsIamClient against a stub IAM/STS server', () => {
  const stub = new StubAws();
  const savedEnv: Record<string, string | undefined> = {};
  const clients: AwsIamClient[] = [];
  let url: string;

  const client = (opts: AwsIamClientOptions = {}) => {
    const c = new AwsIamClient({ iamEndpoint: url, stsEndpoint: url, maxAttempts: 3, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    url = await stub.start();
    for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  });

  beforeEach(() => {
    stub.seen.length = 0;
    for (const k of ENV_KEYS) delete process.env[k];
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    for (const k of ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
    await stub.stop();
  });

  it('GetCallerIdentity: parses the STS answer and signs the request', async () => {
    stub.handler = () => callerIdentity;
    const id = await client().getCallerIdentity(CREDS);
    expect(id).toEqual({
      account: '123456789012',
      arn: 'arn:aws:iam::123456789012:user/ci/alice',
      userId: 'AIDAEXAMPLEUSERID0001',
    });
    expect(stub.actions()).toEqual(['GetCallerIdentity']);
    expect(stub.seen[0].authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/sts\//);
  });

  it('ListAccessKeys: follows Marker/IsTruncated pagination', async () => {
    stub.handler = (_a, params) =>
      params.get('Marker') === 'page-2'
        ? ok('ListAccessKeys', `<AccessKeyMetadata>${keyMember('AKIAOLDKEY0000000002', 'Inactive')}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`)
        : ok(
            'ListAccessKeys',
            `<AccessKeyMetadata>${keyMember('AKIANEWKEY0000000001', 'Active')}</AccessKeyMetadata><IsTruncated>true</IsTruncated><Marker>page-2</Marker>`,
          );
    const keys = await client().listAccessKeys(CREDS, 'alice');
    expect(keys).toEqual([
      { accessKeyId: 'AKIANEWKEY0000000001', status: 'Active', userName: 'alice', createDate: new Date('2024-05-01T10:00:00Z') },
      { accessKeyId: 'AKIAOLDKEY0000000002', status: 'Inactive', userName: 'alice', createDate: new Date('2024-05-01T10:00:00Z') },
    ]);
    expect(stub.seen.map((s) => [s.params.get('UserName'), s.params.get('Marker')])).toEqual([
      ['alice', null],
      ['alice', 'page-2'],
    ]);
  });

  it('CreateAccessKey: returns the new key with its secret', async () => {
    stub.handler = () =>
      ok(
        'CreateAccessKey',
        '<AccessKey><UserName>alice</UserName><AccessKeyId>AKIANEWKEY0000000003</AccessKeyId><Status>Active</Status><SecretAccessKey>newSecret/abcdefghijklmnopqrstuvwxyz0123</SecretAccessKey><CreateDate>2024-06-01T00:00:00Z</CreateDate></AccessKey>',
      );
    const key = await client().createAccessKey(CREDS, 'alice');
    expect(key).toEqual({
      accessKeyId: 'AKIANEWKEY0000000003',
      secretAccessKey: 'newSecret/abcdefghijklmnopqrstuvwxyz0123',
      status: 'Active',
      userName: 'alice',
      createDate: new Date('2024-06-01T00:00:00Z'),
    });
    expect(stub.seen[0].params.get('UserName')).toBe('alice');
  });

  it('update/delete access key and UpdateLoginProfile send the right parameters', async () => {
    stub.handler = (action) => okEmpty(action);
    const c = client();
    await c.updateAccessKey(CREDS, 'alice', 'AKIAOLDKEY0000000002', 'Inactive');
    await c.deleteAccessKey(CREDS, 'alice', 'AKIAOLDKEY0000000002');
    await c.updateLoginProfile(CREDS, 'bob', 'N3w-Pa55word!', false);
    await c.changePassword(CREDS, 'old-Pa55!', 'N3w-Pa55word!');
    expect(stub.actions()).toEqual(['UpdateAccessKey', 'DeleteAccessKey', 'UpdateLoginProfile', 'ChangePassword']);
    expect(Object.fromEntries(stub.seen[0].params)).toMatchObject({ UserName: 'alice', AccessKeyId: 'AKIAOLDKEY0000000002', Status: 'Inactive' });
    expect(Object.fromEntries(stub.seen[2].params)).toMatchObject({ UserName: 'bob', Password: 'N3w-Pa55word!', PasswordResetRequired: 'false' });
    expect(Object.fromEntries(stub.seen[3].params)).toMatchObject({ OldPassword: 'old-Pa55!', NewPassword: 'N3w-Pa55word!' });
  });

  it('AccessDenied: surfaces at once as IAM_ACCESS_DENIED naming action, resource and AWS message', async () => {
    const awsMessage =
      'User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateAccessKey on resource: user alice';
    stub.handler = () => fail(403, 'AccessDenied', awsMessage);
    const e = await rejection(client().createAccessKey(CREDS, 'alice'));
    expect(e.code).toBe(IamErrorCode.AccessDenied);
    expect(e.awsCode).toBe('AccessDenied');
    expect(e.action).toBe('iam:CreateAccessKey');
    expect(e.message).toContain(`missing permission iam:CreateAccessKey on user/alice: ${awsMessage}`);
    expect(stub.seen).toHaveLength(1);
  });

  it('LimitExceeded: IAM_KEY_LIMIT after one attempt (the SDK would treat it as throttling)', async () => {
    stub.handler = () => fail(409, 'LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2');
    const e = await rejection(client({ maxAttempts: 5 }).createAccessKey(CREDS, 'alice'));
    expect(e.code).toBe(IamErrorCode.KeyLimit);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('Cannot exceed quota for AccessKeysPerUser: 2');
    expect(stub.seen).toHaveLength(1);
  });

  it('Throttling then success: the SDK retries and the call succeeds', async () => {
    stub.handler = (_action, _p, n) => (n === 1 ? fail(400, 'Throttling', 'Rate exceeded') : callerIdentity);
    const id = await client().getCallerIdentity(CREDS);
    expect(id.account).toBe('123456789012');
    expect(stub.actions()).toEqual(['GetCallerIdentity', 'GetCallerIdentity']);
  });

  it('Throttling that never ends: IAM_THROTTLED after maxAttempts, retryable', async () => {
    stub.handler = () => fail(400, 'Throttling', 'Rate exceeded');
    const e = await rejection(client({ maxAttempts: 2 }).listAccessKeys(CREDS, 'alice'));
    expect(e.code).toBe(IamErrorCode.Throttled);
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('after 2 attempts');
    expect(stub.seen).toHaveLength(2);
  });

  it('InvalidClientTokenId from STS: IAM_INVALID_CREDENTIALS, one attempt', async () => {
    stub.handler = () => fail(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.', 'Sender', STS_NS);
    const e = await rejection(client().getCallerIdentity(CREDS));
    expect(e.code).toBe(IamErrorCode.InvalidCredentials);
    expect(stub.seen).toHaveLength(1);
  });

  it('a 503 ServiceUnavailable is retried, then IAM_UNREACHABLE', async () => {
    stub.handler = () => fail(503, 'ServiceUnavailable', 'Service is unavailable', 'Receiver');
    const e = await rejection(client({ maxAttempts: 2 }).getUser(CREDS, 'alice'));
    expect(e.code).toBe(IamErrorCode.Unreachable);
    expect(e.retryable).toBe(true);
    expect(stub.seen).toHaveLength(2);
  });

  it('never puts the caller secret or its full key id in an error, even if the endpoint echoes them', async () => {
    stub.handler = () => fail(400, 'InvalidInput', `bad request from ${CREDS.accessKeyId} with ${CREDS.secretAccessKey} and N3w-Pa55word!`);
    const e = await rejection(client().updateLoginProfile(CREDS, 'bob', 'N3w-Pa55word!'));
    expect(e.code).toBe(IamErrorCode.Unexpected);
    expect(e.message).toContain('InvalidInput');
    expect(e.message).not.toContain(CREDS.secretAccessKey);
    expect(e.message).not.toContain(CREDS.accessKeyId);
    expect(e.message).not.toContain('N3w-Pa55word!');
    expect(JSON.stringify(e)).not.toContain(CREDS.secretAccessKey);
    expect(e.message).toContain('AKIA…MPLE');
  });

  it('getAccountPasswordPolicy: parses the policy, null when none is set, AccessDenied still rejects', async () => {
    const c = client();
    stub.handler = () =>
      ok(
        'GetAccountPasswordPolicy',
        '<PasswordPolicy><MinimumPasswordLength>14</MinimumPasswordLength><RequireSymbols>true</RequireSymbols><RequireNumbers>true</RequireNumbers><RequireUppercaseCharacters>false</RequireUppercaseCharacters><RequireLowercaseCharacters>true</RequireLowercaseCharacters><AllowUsersToChangePassword>true</AllowUsersToChangePassword><ExpirePasswords>false</ExpirePasswords><PasswordReusePrevention>5</PasswordReusePrevention></PasswordPolicy>',
      );
    await expect(c.getAccountPasswordPolicy(CREDS)).resolves.toEqual({
      minimumPasswordLength: 14,
      requireSymbols: true,
      requireNumbers: true,
      requireUppercaseCharacters: false,
      requireLowercaseCharacters: true,
      allowUsersToChangePassword: true,
      passwordReusePrevention: 5,
      maxPasswordAge: undefined,
      hardExpiry: undefined,
    });
    stub.handler = () => fail(404, 'NoSuchEntity', 'The Password Policy with domain name 123456789012 cannot be found.');
    await expect(c.getAccountPasswordPolicy(CREDS)).resolves.toBeNull();
    stub.handler = () => fail(403, 'AccessDenied', 'not authorized to perform: iam:GetAccountPasswordPolicy');
    expect((await rejection(c.getAccountPasswordPolicy(CREDS))).code).toBe(IamErrorCode.AccessDenied);
  });

  it('getUser: own user without a name, and a named user', async () => {
    stub.handler = (_a, params) =>
      ok(
        'GetUser',
        `<User><Path>/ci/</Path><UserName>${params.get('UserName') ?? 'self'}</UserName><UserId>AIDAEXAMPLEUSERID0001</UserId><Arn>arn:aws:iam::123456789012:user/ci/${params.get('UserName') ?? 'self'}</Arn><CreateDate>2022-01-01T00:00:00Z</CreateDate></User>`,
      );
    const c = client();
    await expect(c.getUser(CREDS)).resolves.toMatchObject({ userName: 'self', userId: 'AIDAEXAMPLEUSERID0001' });
    await expect(c.getUser(CREDS, 'alice')).resolves.toMatchObject({ userName: 'alice', arn: 'arn:aws:iam::123456789012:user/ci/alice' });
    expect(stub.seen[0].params.has('UserName')).toBe(false);
  });

  it('simulatePrincipalPolicy: maps decisions across pages', async () => {
    stub.handler = (_a, params) =>
      params.get('Marker')
        ? ok('SimulatePrincipalPolicy', '<EvaluationResults><member><EvalActionName>iam:DeleteAccessKey</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>explicitDeny</EvalDecision></member></EvaluationResults><IsTruncated>false</IsTruncated>')
        : ok(
            'SimulatePrincipalPolicy',
            '<EvaluationResults><member><EvalActionName>iam:CreateAccessKey</EvalActionName><EvalResourceName>arn:aws:iam::123456789012:user/alice</EvalResourceName><EvalDecision>allowed</EvalDecision></member><member><EvalActionName>iam:ListAccessKeys</EvalActionName><EvalResourceName>arn:aws:iam::123456789012:user/alice</EvalResourceName><EvalDecision>implicitDeny</EvalDecision></member></EvaluationResults><IsTruncated>true</IsTruncated><Marker>m2</Marker>',
          );
    const res = await client().simulatePrincipalPolicy(
      CREDS,
      'arn:aws:iam::123456789012:user/bob',
      ['iam:CreateAccessKey', 'iam:ListAccessKeys', 'iam:DeleteAccessKey'],
      ['arn:aws:iam::123456789012:user/alice'],
    );
    expect(res).toEqual([
      { action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::123456789012:user/alice', decision: 'allowed' },
      { action: 'iam:ListAccessKeys', resource: 'arn:aws:iam::123456789012:user/alice', decision: 'implicitDeny' },
      { action: 'iam:DeleteAccessKey', resource: '*', decision: 'explicitDeny' },
    ]);
    expect(stub.seen[0].params.get('ActionNames.member.2')).toBe('iam:ListAccessKeys');
    expect(stub.seen[0].params.get('ResourceArns.member.1')).toBe('arn:aws:iam::123456789012:user/alice');
  });

  describe('discovery calls', () => {
    const userMember = (name: string, path = '/') =>
      `<member><Path>${path}</Path><UserName>${name}</UserName><UserId>AIDA${name.toUpperCase()}0000000000</UserId><Arn>arn:aws:iam::123456789012:user${path}${name}</Arn><CreateDate>2021-03-04T05:06:07Z</CreateDate></member>`;

    it('listUsers: one page, sends PathPrefix/Marker/MaxItems, a marker only when IsTruncated', async () => {
      stub.handler = (_a, params) =>
        params.get('Marker')
          ? ok('ListUsers', `<Users>${userMember('carol', '/eng/')}</Users><IsTruncated>false</IsTruncated>`)
          : ok('ListUsers', `<Users>${userMember('alice', '/eng/')}${userMember('bob', '/eng/team/')}</Users><IsTruncated>true</IsTruncated><Marker>m-2</Marker>`);
      const c = client();
      const first = await c.listUsers(CREDS, { pathPrefix: '/eng/', maxItems: 2 });
      expect(first).toEqual({
        users: [
          { userName: 'alice', userId: 'AIDAALICE0000000000', arn: 'arn:aws:iam::123456789012:user/eng/alice', path: '/eng/', createDate: new Date('2021-03-04T05:06:07Z') },
          { userName: 'bob', userId: 'AIDABOB0000000000', arn: 'arn:aws:iam::123456789012:user/eng/team/bob', path: '/eng/team/', createDate: new Date('2021-03-04T05:06:07Z') },
        ],
        marker: 'm-2',
      });
      const second = await c.listUsers(CREDS, { pathPrefix: '/eng/', marker: first.marker, maxItems: 2 });
      expect(second.users.map((u) => u.userName)).toEqual(['carol']);
      expect(second).not.toHaveProperty('marker');
      expect(stub.seen.map((s) => [s.params.get('PathPrefix'), s.params.get('Marker'), s.params.get('MaxItems')])).toEqual([
        ['/eng/', null, '2'],
        ['/eng/', 'm-2', '2'],
      ]);
    });

    it('listUsers: no options sends none; a Marker without IsTruncated is not a next page', async () => {
      stub.handler = () => ok('ListUsers', `<Users>${userMember('alice')}</Users><IsTruncated>false</IsTruncated><Marker>stale</Marker>`);
      const page = await client().listUsers(CREDS);
      expect(page).toEqual({ users: [expect.objectContaining({ userName: 'alice', path: '/' })] });
      expect([...stub.seen[0].params.keys()].sort()).toEqual(['Action', 'Version']);
    });

    it('listUsers: AccessDenied names iam:ListUsers', async () => {
      stub.handler = () => fail(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::123456789012:user/');
      const e = await rejection(client().listUsers(CREDS, { pathPrefix: '/eng/' }));
      expect(e.code).toBe(IamErrorCode.AccessDenied);
      expect(e.action).toBe('iam:ListUsers');
      expect(deniedAction(e)).toBe('iam:ListUsers');
      expect(e.message).toContain('iam:ListUsers on user/eng/*');
    });

    it('getAccessKeyLastUsed: date, service and region; "N/A" (never used) becomes undefined', async () => {
      stub.handler = (_a, params) =>
        params.get('AccessKeyId') === 'AKIAUSEDKEY000000001'
          ? ok('GetAccessKeyLastUsed', '<UserName>alice</UserName><AccessKeyLastUsed><LastUsedDate>2024-07-01T12:00:00Z</LastUsedDate><ServiceName>s3</ServiceName><Region>eu-west-1</Region></AccessKeyLastUsed>')
          : ok('GetAccessKeyLastUsed', '<UserName>alice</UserName><AccessKeyLastUsed><ServiceName>N/A</ServiceName><Region>N/A</Region></AccessKeyLastUsed>');
      const c = client();
      await expect(c.getAccessKeyLastUsed(CREDS, 'AKIAUSEDKEY000000001')).resolves.toEqual({
        userName: 'alice',
        lastUsedDate: new Date('2024-07-01T12:00:00Z'),
        serviceName: 's3',
        region: 'eu-west-1',
      });
      await expect(c.getAccessKeyLastUsed(CREDS, 'AKIANEVERUSED0000002')).resolves.toEqual({
        userName: 'alice',
        lastUsedDate: undefined,
        serviceName: undefined,
        region: undefined,
      });
      expect(stub.seen.map((s) => s.params.get('AccessKeyId'))).toEqual(['AKIAUSEDKEY000000001', 'AKIANEVERUSED0000002']);
    });

    it('getAccessKeyLastUsed: AccessDenied names the action and masks the key id', async () => {
      stub.handler = () => fail(403, 'AccessDenied', 'not authorized to perform: iam:GetAccessKeyLastUsed on AKIANEVERUSED0000002');
      const e = await rejection(client().getAccessKeyLastUsed(CREDS, 'AKIANEVERUSED0000002'));
      expect(e.code).toBe(IamErrorCode.AccessDenied);
      expect(e.action).toBe('iam:GetAccessKeyLastUsed');
      expect(e.message).not.toContain('AKIANEVERUSED0000002');
      expect(e.message).toContain('AKIA…0002');
    });

    it('getLoginProfile: the profile; null for NoSuchEntity on the login profile; a missing user still rejects', async () => {
      stub.handler = (_a, params) => {
        const user = params.get('UserName');
        if (user === 'alice') {
          return ok('GetLoginProfile', '<LoginProfile><UserName>alice</UserName><CreateDate>2023-02-03T04:05:06Z</CreateDate><PasswordResetRequired>true</PasswordResetRequired></LoginProfile>');
        }
        if (user === 'bob') return fail(404, 'NoSuchEntity', 'Login Profile for User bob cannot be found.');
        return fail(404, 'NoSuchEntity', `The user with name ${user} cannot be found.`);
      };
      const c = client();
      await expect(c.getLoginProfile(CREDS, 'alice')).resolves.toEqual({
        userName: 'alice',
        createDate: new Date('2023-02-03T04:05:06Z'),
        passwordResetRequired: true,
      });
      await expect(c.getLoginProfile(CREDS, 'bob')).resolves.toBeNull();
      const e = await rejection(c.getLoginProfile(CREDS, 'gone'));
      expect(e.code).toBe(IamErrorCode.NoSuchEntity);
      expect(e.reason).toBe('no-such-user');
      expect(e.action).toBe('iam:GetLoginProfile');
    });

    it('getLoginProfile: AccessDenied names iam:GetLoginProfile; deniedAction ignores other failures', async () => {
      stub.handler = () => fail(403, 'AccessDenied', 'not authorized to perform: iam:GetLoginProfile');
      const e = await rejection(client().getLoginProfile(CREDS, 'alice'));
      expect(deniedAction(e)).toBe('iam:GetLoginProfile');
      stub.handler = () => fail(400, 'Throttling', 'Rate exceeded');
      const throttled = await rejection(client({ maxAttempts: 1 }).getLoginProfile(CREDS, 'alice'));
      expect(throttled.code).toBe(IamErrorCode.Throttled);
      expect(deniedAction(throttled)).toBeUndefined();
      expect(deniedAction(new Error('AccessDenied'))).toBeUndefined();
    });
  });

  describe('pagination guards', () => {
    const page = (marker: string | undefined, truncated: boolean, id = 'AKIANEWKEY0000000001') =>
      ok(
        'ListAccessKeys',
        `<AccessKeyMetadata>${keyMember(id, 'Active')}</AccessKeyMetadata><IsTruncated>${truncated}</IsTruncated>${marker ? `<Marker>${marker}</Marker>` : ''}`,
      );

    it('stops when the endpoint answers the same Marker again', async () => {
      stub.handler = () => page('same', true);
      const keys = await client().listAccessKeys(CREDS, 'alice');
      expect(keys).toHaveLength(2);
      expect(stub.seen.map((s) => s.params.get('Marker'))).toEqual([null, 'same']);
    });

    it('stops at IsTruncated=false even when a Marker comes along', async () => {
      stub.handler = () => page('more', false);
      await expect(client().listAccessKeys(CREDS, 'alice')).resolves.toHaveLength(1);
      expect(stub.seen).toHaveLength(1);
    });

    // A thousand signed round trips take seconds on a busy machine: a generous bound, not a measurement.
    it('stops after 1000 pages when every answer carries a new Marker', async () => {
      stub.handler = (_a, _p, n) => page(`m${n}`, true);
      const keys = await client().listAccessKeys(CREDS, 'alice');
      expect(keys).toHaveLength(1000);
      expect(stub.seen).toHaveLength(1000);
    }, 120_000);

    it('a failing later page rejects with the mapped error of that action', async () => {
      stub.handler = (_a, params) =>
        params.get('Marker') ? fail(403, 'AccessDenied', 'not authorized to perform: iam:ListAccessKeys') : page('page-2', true);
      const e = await rejection(client().listAccessKeys(CREDS, 'alice'));
      expect(e.code).toBe(IamErrorCode.AccessDenied);
      expect(e.action).toBe('iam:ListAccessKeys');
      expect(stub.seen).toHaveLength(2);
    });
  });

  describe('endpoint settings', () => {
    it('honours AWS_ENDPOINT_URL_IAM and AWS_ENDPOINT_URL_STS when no endpoint option is given', async () => {
      process.env.AWS_ENDPOINT_URL_IAM = url;
      process.env.AWS_ENDPOINT_URL_STS = url;
      stub.handler = (action) => (action === 'GetCallerIdentity' ? callerIdentity : ok('ListAccessKeys', '<AccessKeyMetadata/><IsTruncated>false</IsTruncated>'));
      const c = new AwsIamClient({ maxAttempts: 1 });
      clients.push(c);
      await c.getCallerIdentity(CREDS);
      await c.listAccessKeys(CREDS, 'alice');
      expect(stub.actions()).toEqual(['GetCallerIdentity', 'ListAccessKeys']);
      expect(stub.seen[0].host).toBe(new URL(url).host);
    });

    it('honours the generic AWS_ENDPOINT_URL', async () => {
      process.env.AWS_ENDPOINT_URL = url;
      stub.handler = () => callerIdentity;
      const c = new AwsIamClient({ maxAttempts: 1 });
      clients.push(c);
      await c.getCallerIdentity(CREDS);
      expect(stub.actions()).toEqual(['GetCallerIdentity']);
    });

    it("the SDK's own settings are read once per adapter, not once per key: every client gets what the first call read", async () => {
      process.env.AWS_ENDPOINT_URL_STS = url;
      process.env.AWS_SDK_UA_APP_ID = 'keyturn-spec';
      stub.handler = () => callerIdentity;
      const c = new AwsIamClient({ maxAttempts: 1 });
      clients.push(c);
      await c.getCallerIdentity(CREDS);
      // Read again for a new key's client, these would send it elsewhere (nothing listens on port 9) and unnamed.
      process.env.AWS_ENDPOINT_URL_STS = 'http://127.0.0.1:9';
      delete process.env.AWS_SDK_UA_APP_ID;
      await c.getCallerIdentity({ accessKeyId: 'AKIAEXAMPLE000000002', secretAccessKey: 'secret-2' });
      expect(c.cachedClientCount).toBe(2);
      expect(stub.seen.map((s) => [s.action, s.host, /app\/keyturn-spec/.test(s.userAgent)])).toEqual([
        ['GetCallerIdentity', new URL(url).host, true],
        ['GetCallerIdentity', new URL(url).host, true],
      ]);
    });

    it('explicit options override the environment', async () => {
      process.env.AWS_ENDPOINT_URL_IAM = 'http://127.0.0.1:9';
      process.env.AWS_ENDPOINT_URL_STS = 'http://127.0.0.1:9';
      stub.handler = () => callerIdentity;
      await client({ maxAttempts: 1 }).getCallerIdentity(CREDS);
      expect(stub.actions()).toEqual(['GetCallerIdentity']);
    });

    it('region: option, then AWS_REGION, then us-east-1; the partition follows', async () => {
      expect(new AwsIamClient().region).toBe('us-east-1');
      process.env.AWS_REGION = 'cn-north-1';
      const fromEnv = new AwsIamClient();
      expect(fromEnv.region).toBe('cn-north-1');
      expect(fromEnv.partition).toBe('aws-cn');
      const explicit = new AwsIamClient({ region: 'us-gov-west-1' });
      expect(explicit.partition).toBe('aws-us-gov');
      stub.handler = () => callerIdentity;
      await client({ region: 'eu-west-1' }).getCallerIdentity(CREDS);
      expect(stub.seen[0].authorization).toContain('/eu-west-1/sts/');
    });
  });

  describe('network failures', () => {
    it('connection refused → IAM_UNREACHABLE', async () => {
      const dead = new StubAws();
      const deadUrl = await dead.start();
      await dead.stop();
      const e = await rejection(
        new AwsIamClient({ iamEndpoint: deadUrl, stsEndpoint: deadUrl, maxAttempts: 1 }).getCallerIdentity(CREDS),
      );
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.retryable).toBe(true);
      expect(e.message).toContain('ECONNREFUSED');
    });

    it('an endpoint that never answers → IAM_UNREACHABLE after requestTimeoutMs', async () => {
      stub.handler = () => ({ body: '', hang: true });
      const e = await rejection(client({ maxAttempts: 1, requestTimeoutMs: 300 }).getCallerIdentity(CREDS));
      expect(e.code).toBe(IamErrorCode.Unreachable);
      // Ended by the configured timeout, not by the test's own: the error says which one fired.
      expect(e.message).toMatch(/ETIMEDOUT: .*exceeded the configured 300 ms requestTimeout/);
    });
  });

  describe('call budget', () => {
    it('a call that keeps receiving but never finishes is aborted at its total budget: IAM_UNREACHABLE, retryable', async () => {
      // Headers arrive at once and the body trickles forever, so neither the request timeout
      // (it stops at the headers) nor the socket's idle timeout ever fires: only the abort signal ends it.
      stub.handler = () => ({ body: '', drip: true });
      const opts = { maxAttempts: 1, requestTimeoutMs: 300, connectTimeoutMs: 200 };
      const e = await rejection(client(opts).createAccessKey(CREDS, 'alice'));
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.retryable).toBe(true);
      expect(e.action).toBe('iam:CreateAccessKey');
      expect(e.message).toContain(`${sdkCallBudgetMs(opts)} ms`);
      expect(stub.actions()).toEqual(['CreateAccessKey']);
    });
    it('each page of a list has its own budget, and the page over budget is aborted', async () => {
      stub.handler = (_a, params) =>
        params.get('Marker')
          ? { body: '', drip: true }
          : ok('ListAccessKeys', `<AccessKeyMetadata>${keyMember('AKIANEWKEY0000000001', 'Active')}</AccessKeyMetadata><IsTruncated>true</IsTruncated><Marker>page-2</Marker>`);
      const opts = { maxAttempts: 1, requestTimeoutMs: 300, connectTimeoutMs: 200 };
      const closed = stub.dripClosed((s) => s.action === 'ListAccessKeys' && s.params.get('Marker') === 'page-2');
      const e = await rejection(client(opts).listAccessKeys(CREDS, 'alice'));
      expect(e.code).toBe(IamErrorCode.Unreachable);
      expect(e.action).toBe('iam:ListAccessKeys');
      expect(e.message).toContain(`${sdkCallBudgetMs(opts)} ms`);
      await closed;
      expect(stub.seen.map((s) => s.params.get('Marker'))).toEqual([null, 'page-2']);
    });
  });

  describe('client cache', () => {
    it('one SDK client set per credentials; a rotated secret gets a new one; close() empties it', async () => {
      stub.handler = () => callerIdentity;
      const c = client();
      await c.getCallerIdentity(CREDS);
      await c.getCallerIdentity(CREDS);
      expect(c.cachedClientCount).toBe(1);
      await c.getCallerIdentity({ ...CREDS, secretAccessKey: 'rotated/secret/abcdefghijklmnopqrstuvwxy' });
      expect(c.cachedClientCount).toBe(2);
      await c.close();
      expect(c.cachedClientCount).toBe(0);
      await expect(c.getCallerIdentity(CREDS)).resolves.toMatchObject({ account: '123456789012' });
    });

    it('is bounded: the least recently used credentials are evicted', async () => {
      stub.handler = () => callerIdentity;
      const c = client({ maxCachedClients: 2 });
      for (const n of [1, 2, 3, 1]) {
        await c.getCallerIdentity({ accessKeyId: `AKIAEXAMPLE00000000${n}`, secretAccessKey: `secret-${n}` });
      }
      expect(c.cachedClientCount).toBe(2);
    });

    it('clients share keep-alive connections: more keys than the cache holds open no new connection, and each call signs with its own key', async () => {
      stub.handler = () => callerIdentity;
      const c = client({ maxCachedClients: 2 });
      const keys = [1, 2, 3, 4, 5].map((n) => ({ accessKeyId: `AKIAEXAMPLE00000000${n}`, secretAccessKey: `secret-${n}` }));
      const before = stub.connections;
      for (let round = 0; round < 2; round++) {
        for (const k of keys) await c.getCallerIdentity(k);
        expect(c.cachedClientCount).toBe(2);
        expect(stub.connections - before).toBe(1);
      }
      expect(stub.seen.map((s) => /Credential=(\w+)\//.exec(s.authorization)?.[1])).toEqual([...keys, ...keys].map((k) => k.accessKeyId));
    });

    it('evicting a client leaves the calls other clients have in flight alone (the connections are shared)', async () => {
      stub.handler = (_action, _params, n) => (n === 1 ? { ...callerIdentity, delayMs: 300 } : callerIdentity);
      // One attempt: a retry would hide a call cut off (and, for CreateAccessKey, could repeat it).
      const c = client({ maxCachedClients: 1, maxAttempts: 1 });
      const slow = c.getCallerIdentity({ accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 'secret-1' });
      await new Promise((r) => setTimeout(r, 50));
      // Two other keys: the slow call's client is evicted (and destroyed) while its answer is on the way.
      await c.getCallerIdentity({ accessKeyId: 'AKIAEXAMPLE000000002', secretAccessKey: 'secret-2' });
      await c.getCallerIdentity({ accessKeyId: 'AKIAEXAMPLE000000003', secretAccessKey: 'secret-3' });
      await expect(slow).resolves.toMatchObject({ account: '123456789012' });
      expect(stub.actions()).toEqual(['GetCallerIdentity', 'GetCallerIdentity', 'GetCallerIdentity']);
    });

    it('close() closes the shared connections once; the adapter then opens new ones', async () => {
      stub.handler = () => callerIdentity;
      const c = client({ maxCachedClients: 2 });
      const before = stub.connections;
      await c.getCallerIdentity(CREDS);
      await c.close();
      await c.getCallerIdentity(CREDS);
      await c.getCallerIdentity({ accessKeyId: 'AKIAEXAMPLE000000009', secretAccessKey: 'secret-9' });
      expect(stub.connections - before).toBe(2);
    });
  });
});

describe('sdkCallBudgetMs (the longest any one IAM or STS call can take)', () => {
  it('is every attempt at its full connect + request timeout plus the longest backoff between attempts', () => {
    // 5 attempts of 5 s + 15 s; 4 backoffs at the throttling base (1 s, doubling, capped at 20 s),
    // each stretched by up to 5 s when AWS sends Retry-After.
    expect(sdkCallBudgetMs({ maxAttempts: 5, requestTimeoutMs: 15_000, connectTimeoutMs: 5_000 })).toBe(
      5 * 20_000 + (1_000 + 2_000 + 4_000 + 8_000) + 4 * 5_000,
    );
    expect(sdkCallBudgetMs({ maxAttempts: 1, requestTimeoutMs: 300, connectTimeoutMs: 200 })).toBe(500);
    // The backoff is capped at 20 s per wait.
    expect(sdkCallBudgetMs({ maxAttempts: 7, requestTimeoutMs: 1_000, connectTimeoutMs: 1_000 })).toBe(
      7 * 2_000 + (1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 20_000) + 6 * 5_000,
    );
  });

  it("uses the adapter's own defaults for what is not given", () => {
    expect(sdkCallBudgetMs({})).toBe(sdkCallBudgetMs({ maxAttempts: 5, requestTimeoutMs: 15_000, connectTimeoutMs: 5_000 }));
    expect(new AwsIamClient({ maxAttempts: 2, requestTimeoutMs: 1_000 }).callBudgetMs).toBe(sdkCallBudgetMs({ maxAttempts: 2, requestTimeoutMs: 1_000 }));
  });
});

describe('AwsIamClient against the IAM emulator: the SDK paginators walk real pages', () => {
  let emulator: IamEmulator;
  let adapter: AwsIamClient;

  beforeEach(async () => {
    emulator = await startIamEmulator({ port: 0 });
    // One item per page, so every list takes several round trips.
    adapter = new AwsIamClient({ iamEndpoint: emulator.url, stsEndpoint: emulator.url, maxAttempts: 1, pageSize: 1 });
  });

  afterEach(async () => {
    await adapter.close();
    await emulator.close();
  });

  const calls = (action: string) => emulator.callLog().filter((c) => c.action === action);

  it('listAccessKeys collects both keys of a user across two pages', async () => {
    emulator.seedUser('pager');
    const a = await adapter.createAccessKey(emulator.rootCredentials, 'pager');
    const b = await adapter.createAccessKey(emulator.rootCredentials, 'pager');
    const keys = await adapter.listAccessKeys(emulator.rootCredentials, 'pager');
    expect(keys.map((k) => k.accessKeyId).sort()).toEqual([a.accessKeyId, b.accessKeyId].sort());
    expect(keys.every((k) => k.userName === 'pager' && k.status === 'Active')).toBe(true);
    expect(calls('ListAccessKeys')).toHaveLength(2);
  });

  it('simulatePrincipalPolicy collects one decision per page', async () => {
    emulator.seedUser('sim', {
      policies: { main: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListAccessKeys', Resource: '*' }] } },
    });
    const decisions = await adapter.simulatePrincipalPolicy(emulator.rootCredentials, 'arn:aws:iam::123456789012:user/sim', [
      'iam:ListAccessKeys',
      'iam:CreateAccessKey',
      'iam:DeleteAccessKey',
    ]);
    expect(decisions).toEqual([
      { action: 'iam:ListAccessKeys', resource: '*', decision: 'allowed' },
      { action: 'iam:CreateAccessKey', resource: '*', decision: 'implicitDeny' },
      { action: 'iam:DeleteAccessKey', resource: '*', decision: 'implicitDeny' },
    ]);
    expect(calls('SimulatePrincipalPolicy')).toHaveLength(3);
  });

  it('the discovery calls against the emulator: users page by page under a prefix, last use, login profile, a vanished key', async () => {
    const [alice, bob] = emulator.seedUsers([
      { userName: 'alice', path: '/eng/', keys: [{ lastUsed: { date: '2024-01-02T03:04:05Z', serviceName: 's3', region: 'eu-west-1' } }], password: 'Al1ce-Passw0rd!' },
      { userName: 'bob', path: '/eng/', keys: 1 },
      { userName: 'carol', path: '/ops/' },
    ]);
    const root = emulator.rootCredentials;
    const first = await adapter.listUsers(root, { pathPrefix: '/eng/', maxItems: 1 });
    expect(first.users.map((u) => [u.userName, u.path, u.arn])).toEqual([['alice', '/eng/', 'arn:aws:iam::123456789012:user/eng/alice']]);
    expect(first.marker).toEqual(expect.any(String));
    const second = await adapter.listUsers(root, { pathPrefix: '/eng/', maxItems: 1, marker: first.marker });
    expect(second).toEqual({ users: [expect.objectContaining({ userName: 'bob', userId: bob!.userId })] });

    await expect(adapter.getAccessKeyLastUsed(root, alice!.keys[0]!.accessKeyId)).resolves.toEqual({
      userName: 'alice',
      lastUsedDate: new Date('2024-01-02T03:04:05Z'),
      serviceName: 's3',
      region: 'eu-west-1',
    });
    await expect(adapter.getAccessKeyLastUsed(root, bob!.keys[0]!.accessKeyId)).resolves.toEqual({ userName: 'bob' });
    await expect(adapter.getLoginProfile(root, 'alice')).resolves.toEqual({ userName: 'alice', createDate: expect.any(Date), passwordResetRequired: false });
    await expect(adapter.getLoginProfile(root, 'bob')).resolves.toBeNull();

    await adapter.deleteAccessKey(root, 'bob', bob!.keys[0]!.accessKeyId);
    const gone = await adapter.getAccessKeyLastUsed(root, bob!.keys[0]!.accessKeyId).then(
      () => undefined,
      (e: unknown) => e as IamError,
    );
    expect(gone).toBeInstanceOf(IamError);
    expect(gone).toMatchObject({ code: IamErrorCode.NoSuchEntity, reason: 'no-such-access-key', awsCode: 'AccessDenied', action: 'iam:GetAccessKeyLastUsed' });
    expect(deniedAction(gone)).toBeUndefined();
  });
});
