import { createHmac, randomBytes } from 'node:crypto';
import {
  ChangePasswordCommand,
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  GetAccountPasswordPolicyCommand,
  GetLoginProfileCommand,
  GetUserCommand,
  IAMClient,
  type IAMClientConfig,
  ListUsersCommand,
  UpdateAccessKeyCommand,
  UpdateLoginProfileCommand,
  paginateListAccessKeys,
  paginateSimulatePrincipalPolicy,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { MAXIMUM_RETRY_DELAY, Retry, StandardRetryStrategy } from '@smithy/core/retry';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from '@smithy/types';
import { IamErrorCode } from '@keyturn/contracts';
import { metrics } from '@keyturn/metrics';
import { partitionForRegion, userNameFromArn } from './arn.js';
import { type IamErrorContext, toIamError } from './iam-error.mapper.js';
import {
  type AccessKeyLastUsed,
  type AccessKeyMetadata,
  type AccessKeyStatus,
  type CallerIdentity,
  type IamClient,
  type IamCredentials,
  IamError,
  type IamUserInfo,
  type IamUserPage,
  type LoginProfileInfo,
  type NewAccessKey,
  type Partition,
  type PasswordPolicy,
  type SimulatedDecision,
} from './iam-client.port.js';

export interface AwsIamClientOptions {
  /** Defaults to AWS_REGION, then us-east-1. */
  region?: string;
  /** Attempts per call, first one included (SDK standard retry mode). Default 5. */
  maxAttempts?: number;
  /** Whole request/response budget per attempt. Default 15 s. */
  requestTimeoutMs?: number;
  /** TCP/TLS connect budget per attempt. Default 5 s. */
  connectTimeoutMs?: number;
  /** Overrides AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL; unset lets the SDK read them. */
  iamEndpoint?: string;
  /** Overrides AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL; unset lets the SDK read them. */
  stsEndpoint?: string;
  /** SDK clients kept (one per credentials); the least recently used is destroyed beyond it. Default 1024 (KEYTURN_AWS_CLIENT_CACHE). */
  maxCachedClients?: number;
  /** Items per page of a list call (MaxItems). Unset lets IAM pick (100); tests set 1 to make every list page. */
  pageSize?: number;
}

/** The settings IAMClient and STSClient share; both accept exactly this shape. */
interface SdkClientConfig {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
  retryStrategy: RetryStrategyV2;
  requestHandler: NodeHttpHandler;
  endpoint?: string;
}

/**
 * What the SDK would otherwise read from the environment and the shared config files
 * (AWS_USE_FIPS_ENDPOINT, AWS_SDK_UA_APP_ID, AWS_ENDPOINT_URL_STS, ~/.aws/config, ...) for every
 * new client, on its first call: the same for every key, so read once per adapter (readSdkSettings).
 */
const SDK_SETTINGS = ['useFipsEndpoint', 'useDualstackEndpoint', 'userAgentAppId', 'sigv4aSigningRegionSet', 'authSchemePreference', 'retryMode'] as const;

/** Those settings as values, and the endpoint configured outside Keyturn (or, with none, that none is looked for again). */
type SdkSettings = Partial<Record<(typeof SDK_SETTINGS)[number], unknown>> & { endpoint?: string; ignoreConfiguredEndpointUrls?: boolean };

/**
 * The one HTTP handler (and so the keep-alive sockets) every SDK client of an
 * adapter sends through. With a handler per client, every client made for a
 * key not in the cache opened its own connection (against AWS: TCP and TLS),
 * which with more keys than the cache holds was every heartbeat. Signing is
 * the client's, above the handler, so each request still carries its own key.
 * An SDK client's destroy() destroys its handler: evicting one client must not
 * cut the calls other clients have on the shared sockets, so destroy() does
 * nothing here, and the adapter's close() ends it with destroyShared().
 */
class SharedHttpHandler extends NodeHttpHandler {
  override destroy(): void {
    // Left to destroyShared (see above).
  }

  destroyShared(): void {
    super.destroy();
  }
}

interface ClientPair {
  iam?: IAMClient;
  sts?: STSClient;
}

const DEFAULTS = {
  region: 'us-east-1',
  maxAttempts: 5,
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 5_000,
  maxCachedClients: 1024,
};

/**
 * How much StandardRetryStrategy may stretch one backoff when AWS sends
 * Retry-After (it waits at most its own delay + 5 s; not exported by Smithy).
 */
const RETRY_AFTER_ALLOWANCE_MS = 5_000;

/**
 * The longest one IAM or STS call can take with these options: every attempt
 * at its full connect + request timeout, plus the longest backoff the retry
 * strategy can sleep between attempts (the throttling base, doubling, capped,
 * and stretched by Retry-After). The adapter aborts a call at this budget, so
 * it is a hard bound: rotations use it to know until when a CreateAccessKey
 * they started can have created a key.
 */
export function sdkCallBudgetMs(options: Pick<AwsIamClientOptions, 'maxAttempts' | 'requestTimeoutMs' | 'connectTimeoutMs'> = {}): number {
  const attempts = Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts);
  const perAttempt = (options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs) + (options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs);
  const base = Math.max(Retry.delay(), Retry.throttlingDelay());
  let backoff = 0;
  for (let retry = 0; retry < attempts - 1; retry++) {
    backoff += Math.min(base * 2 ** retry, MAXIMUM_RETRY_DELAY) + RETRY_AFTER_ALLOWANCE_MS;
  }
  return attempts * perAttempt + backoff;
}

/** Guards against an endpoint that keeps answering IsTruncated with a new marker forever. */
const MAX_PAGES = 1000;

/** The options object the SDK paginators hand to every `send` of their walk. */
interface PageSendOptions {
  abortSignal?: AbortSignal;
}

/**
 * The SDK's standard retry mode, except for IAM's LimitExceeded: the SDK files
 * the name LimitExceededException under throttling (other services use it for
 * rate limits), but for IAM it means "the user already has two access keys",
 * which no amount of waiting fixes.
 */
class IamRetryStrategy implements RetryStrategyV2 {
  readonly mode = 'standard';
  private readonly inner: StandardRetryStrategy;

  constructor(maxAttempts: number) {
    this.inner = new StandardRetryStrategy(maxAttempts);
  }

  acquireInitialRetryToken(scope: string): Promise<StandardRetryToken> {
    return this.inner.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(token: StandardRetryToken, info: RetryErrorInfo): Promise<StandardRetryToken> {
    const e = info.error as { name?: string; Code?: string } | undefined;
    const code = (e?.Code ?? e?.name ?? '').replace(/Exception$/, '');
    if (code === 'LimitExceeded') return Promise.reject(new Error('not retryable'));
    return this.inner.refreshRetryTokenForRetry(token, info);
  }

  recordSuccess(token: StandardRetryToken): void {
    this.inner.recordSuccess(token);
  }
}

/** {@link IamClient} over the AWS SDK v3; the only place in Keyturn that talks to AWS. */
export class AwsIamClient implements IamClient {
  readonly region: string;
  readonly partition: Partition;
  /** Every call is aborted after this long (see sdkCallBudgetMs). */
  readonly callBudgetMs: number;
  private readonly maxAttempts: number;
  private readonly maxCachedClients: number;
  private requestHandler: SharedHttpHandler;
  /** Insertion order is recency order: a hit is re-inserted at the end. */
  private readonly clients = new Map<string, ClientPair>();
  /** Read once, before the first call (see SdkSettings); undefined until then, or if reading them failed. */
  private sdkSettings?: { iam: SdkSettings; sts: SdkSettings };
  private sdkSettingsRead?: Promise<void>;
  // Keyed by an HMAC of the secret rather than the secret, with a per-process key,
  // so the cache holds nothing that can be turned back into a credential.
  private readonly cacheKeySalt = randomBytes(32);

  constructor(private readonly options: AwsIamClientOptions = {}) {
    this.region = options.region || process.env.AWS_REGION || DEFAULTS.region;
    this.partition = partitionForRegion(this.region);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts);
    this.maxCachedClients = Math.max(1, options.maxCachedClients ?? DEFAULTS.maxCachedClients);
    this.callBudgetMs = sdkCallBudgetMs(options);
    this.requestHandler = this.newRequestHandler();
  }

  private newRequestHandler(): SharedHttpHandler {
    // Agent options, not agents: the handler builds keep-alive agents of its own from them. No socket cap of
    // the handler's (50 per host by default, which was per client): the worker's concurrency bounds the calls.
    const agent = { keepAlive: true, maxSockets: Infinity };
    return new SharedHttpHandler({
      connectionTimeout: this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      // Without it the SDK only warns on console when requestTimeout passes.
      throwOnRequestTimeout: true,
      httpAgent: agent,
      httpsAgent: agent,
    });
  }

  /** Number of credentials with live SDK clients (for tests and metrics). */
  get cachedClientCount(): number {
    return this.clients.size;
  }

  async getCallerIdentity(creds: IamCredentials): Promise<CallerIdentity> {
    const out = await this.call(creds, 'sts:GetCallerIdentity', {}, (abortSignal) =>
      this.sts(creds).send(new GetCallerIdentityCommand({}), { abortSignal }),
    );
    return {
      account: required(out.Account, 'Account', 'sts:GetCallerIdentity'),
      arn: required(out.Arn, 'Arn', 'sts:GetCallerIdentity'),
      userId: required(out.UserId, 'UserId', 'sts:GetCallerIdentity'),
    };
  }

  async getUser(creds: IamCredentials, userName?: string): Promise<IamUserInfo> {
    const action = 'iam:GetUser';
    const out = await this.call(creds, action, { resource: userResource(userName) }, (abortSignal) =>
      this.iam(creds).send(new GetUserCommand(userName ? { UserName: userName } : {}), { abortSignal }),
    );
    const user = out.User;
    return {
      userName: required(user?.UserName, 'User.UserName', action),
      userId: required(user?.UserId, 'User.UserId', action),
      arn: required(user?.Arn, 'User.Arn', action),
      createDate: user?.CreateDate,
    };
  }

  async listAccessKeys(creds: IamCredentials, userName: string): Promise<AccessKeyMetadata[]> {
    const action = 'iam:ListAccessKeys';
    return this.walkPages(
      creds,
      action,
      { resource: userResource(userName) },
      (sendOptions) => paginateListAccessKeys(this.paginationConfig(creds), { UserName: userName }, sendOptions),
      (out) =>
        (out.AccessKeyMetadata ?? []).map((k) => ({
          accessKeyId: required(k.AccessKeyId, 'AccessKeyId', action),
          status: toStatus(k.Status),
          createDate: k.CreateDate,
          userName: k.UserName ?? userName,
        })),
    );
  }

  async createAccessKey(creds: IamCredentials, userName: string): Promise<NewAccessKey> {
    const action = 'iam:CreateAccessKey';
    const out = await this.call(creds, action, { resource: userResource(userName) }, (abortSignal) =>
      this.iam(creds).send(new CreateAccessKeyCommand({ UserName: userName }), { abortSignal }),
    );
    const key = out.AccessKey;
    return {
      accessKeyId: required(key?.AccessKeyId, 'AccessKey.AccessKeyId', action),
      secretAccessKey: required(key?.SecretAccessKey, 'AccessKey.SecretAccessKey', action),
      status: toStatus(key?.Status),
      createDate: key?.CreateDate,
      userName: key?.UserName ?? userName,
    };
  }

  async updateAccessKey(
    creds: IamCredentials,
    userName: string,
    accessKeyId: string,
    status: AccessKeyStatus,
  ): Promise<void> {
    await this.call(creds, 'iam:UpdateAccessKey', { resource: userResource(userName), accessKeyIds: [accessKeyId] }, (abortSignal) =>
      this.iam(creds).send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status: status }), { abortSignal }),
    );
  }

  async deleteAccessKey(creds: IamCredentials, userName: string, accessKeyId: string): Promise<void> {
    await this.call(creds, 'iam:DeleteAccessKey', { resource: userResource(userName), accessKeyIds: [accessKeyId] }, (abortSignal) =>
      this.iam(creds).send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId }), { abortSignal }),
    );
  }

  async changePassword(creds: IamCredentials, oldPassword: string, newPassword: string): Promise<void> {
    await this.call(creds, 'iam:ChangePassword', { secrets: [oldPassword, newPassword] }, (abortSignal) =>
      this.iam(creds).send(new ChangePasswordCommand({ OldPassword: oldPassword, NewPassword: newPassword }), { abortSignal }),
    );
  }

  async updateLoginProfile(
    creds: IamCredentials,
    userName: string,
    password: string,
    passwordResetRequired?: boolean,
  ): Promise<void> {
    await this.call(creds, 'iam:UpdateLoginProfile', { resource: userResource(userName), secrets: [password] }, (abortSignal) =>
      this.iam(creds).send(
        new UpdateLoginProfileCommand({
          UserName: userName,
          Password: password,
          PasswordResetRequired: passwordResetRequired,
        }),
        { abortSignal },
      ),
    );
  }

  async getAccountPasswordPolicy(creds: IamCredentials): Promise<PasswordPolicy | null> {
    let out;
    try {
      out = await this.call(creds, 'iam:GetAccountPasswordPolicy', {}, (abortSignal) =>
        this.iam(creds).send(new GetAccountPasswordPolicyCommand({}), { abortSignal }),
      );
    } catch (e) {
      // AWS answers NoSuchEntity when no policy was ever set: its default policy applies.
      if (e instanceof IamError && e.code === IamErrorCode.NoSuchEntity) return null;
      throw e;
    }
    const p = out.PasswordPolicy;
    if (!p) return null;
    return {
      // 6 is what AWS applies when a policy is set without a length.
      minimumPasswordLength: p.MinimumPasswordLength ?? 6,
      requireSymbols: p.RequireSymbols ?? false,
      requireNumbers: p.RequireNumbers ?? false,
      requireUppercaseCharacters: p.RequireUppercaseCharacters ?? false,
      requireLowercaseCharacters: p.RequireLowercaseCharacters ?? false,
      allowUsersToChangePassword: p.AllowUsersToChangePassword ?? false,
      passwordReusePrevention: p.PasswordReusePrevention,
      maxPasswordAge: p.MaxPasswordAge,
      hardExpiry: p.HardExpiry,
    };
  }

  async simulatePrincipalPolicy(
    creds: IamCredentials,
    policySourceArn: string,
    actions: string[],
    resourceArns?: string[],
  ): Promise<SimulatedDecision[]> {
    const action = 'iam:SimulatePrincipalPolicy';
    const input = {
      PolicySourceArn: policySourceArn,
      ActionNames: actions,
      ResourceArns: resourceArns?.length ? resourceArns : undefined,
      // Policies that name ${aws:username} only match in a simulation that is told the user name.
      ContextEntries: userContext(policySourceArn),
    };
    return this.walkPages(
      creds,
      action,
      { resource: policySourceArn },
      (sendOptions) => paginateSimulatePrincipalPolicy(this.paginationConfig(creds), input, sendOptions),
      (out) =>
        (out.EvaluationResults ?? []).map((r) => ({
          action: required(r.EvalActionName, 'EvalActionName', action),
          resource: r.EvalResourceName ?? '*',
          decision: toDecision(r.EvalDecision),
        })),
    );
  }

  async listUsers(
    creds: IamCredentials,
    opts: { pathPrefix?: string; marker?: string; maxItems?: number } = {},
  ): Promise<IamUserPage> {
    const action = 'iam:ListUsers';
    const out = await this.call(creds, action, { resource: `user${opts.pathPrefix ?? '/'}*` }, (abortSignal) =>
      this.iam(creds).send(
        new ListUsersCommand({ PathPrefix: opts.pathPrefix, Marker: opts.marker, MaxItems: opts.maxItems }),
        { abortSignal },
      ),
    );
    const users = (out.Users ?? []).map((u) => ({
      userName: required(u.UserName, 'Users.UserName', action),
      userId: required(u.UserId, 'Users.UserId', action),
      arn: required(u.Arn, 'Users.Arn', action),
      path: u.Path || '/',
      createDate: u.CreateDate,
    }));
    // AWS sends a Marker only with IsTruncated; one without it is not a next page.
    return out.IsTruncated ? { users, marker: required(out.Marker, 'Marker', action) } : { users };
  }

  async getAccessKeyLastUsed(creds: IamCredentials, accessKeyId: string): Promise<AccessKeyLastUsed> {
    const action = 'iam:GetAccessKeyLastUsed';
    const out = await this.call(creds, action, { accessKeyIds: [accessKeyId] }, (abortSignal) =>
      this.iam(creds).send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }), { abortSignal }),
    );
    const used = out.AccessKeyLastUsed;
    return {
      userName: known(out.UserName),
      lastUsedDate: used?.LastUsedDate,
      serviceName: known(used?.ServiceName),
      region: known(used?.Region),
    };
  }

  async getLoginProfile(creds: IamCredentials, userName: string): Promise<LoginProfileInfo | null> {
    const action = 'iam:GetLoginProfile';
    let out;
    try {
      out = await this.call(creds, action, { resource: userResource(userName) }, (abortSignal) =>
        this.iam(creds).send(new GetLoginProfileCommand({ UserName: userName }), { abortSignal }),
      );
    } catch (e) {
      // NoSuchEntity names either the login profile (no console password) or the user (gone): only the first is an answer.
      if (e instanceof IamError && e.reason === 'no-such-login-profile') return null;
      throw e;
    }
    const profile = out.LoginProfile;
    return {
      userName: profile?.UserName || userName,
      createDate: profile?.CreateDate,
      passwordResetRequired: profile?.PasswordResetRequired ?? false,
    };
  }

  /** Destroys every cached SDK client and closes the shared sockets. The adapter stays usable (with new ones). */
  async close(): Promise<void> {
    for (const pair of this.clients.values()) destroyPair(pair);
    this.clients.clear();
    this.requestHandler.destroyShared();
    this.requestHandler = this.newRequestHandler();
  }

  /**
   * Walks an SDK paginator, each page one {@link call} with its own budget and
   * error mapping. It stops at the last page (IsTruncated=false, or no Marker),
   * at a Marker the endpoint repeats, and after MAX_PAGES pages.
   */
  private async walkPages<Page extends { IsTruncated?: boolean }, Item>(
    creds: IamCredentials,
    action: string,
    context: IamErrorContext,
    paginate: (sendOptions: PageSendOptions) => AsyncGenerator<Page, unknown>,
    items: (page: Page) => Item[],
  ): Promise<Item[]> {
    // The paginator makes its client now, before the first call.
    await this.readSdkSettings();
    // The paginator passes this one object to each of its sends, and the SDK reads the signal
    // when a send starts: setting it before each page gives every page its own budget.
    const sendOptions: PageSendOptions = {};
    const pages = paginate(sendOptions);
    const out: Item[] = [];
    for (let n = 0; n < MAX_PAGES; n++) {
      const next = await this.call(creds, action, context, (abortSignal) => {
        sendOptions.abortSignal = abortSignal;
        return pages.next();
      });
      if (next.done) break;
      out.push(...items(next.value));
      if (!next.value.IsTruncated) break;
    }
    return out;
  }

  private paginationConfig(creds: IamCredentials) {
    return { client: this.iam(creds), pageSize: this.options.pageSize, stopOnSameToken: true };
  }

  /**
   * Runs one SDK call under the call budget. The SDK gets the abort signal
   * (it stops an attempt in flight and sends no further one), and the race
   * settles the call at the budget even while the SDK sleeps between attempts,
   * which it does not interrupt.
   */
  private async call<T>(
    creds: IamCredentials,
    action: string,
    context: IamErrorContext,
    send: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    await this.readSdkSettings();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const overBudget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new IamError(IamErrorCode.Unreachable, { kind: 'budget', action, budgetMs: this.callBudgetMs }),
        );
        controller.abort();
      }, this.callBudgetMs);
    });
    try {
      const out = await Promise.race([send(controller.signal), overBudget]);
      metrics().awsCall(action, 'success');
      return out;
    } catch (e) {
      const mapped =
        e instanceof IamError && controller.signal.aborted
          ? e
          : toIamError(e, action, {
              ...context,
              secrets: [creds.secretAccessKey, ...(context.secrets ?? [])],
              accessKeyIds: [creds.accessKeyId, ...(context.accessKeyIds ?? [])],
            });
      metrics().awsCall(action, mapped.code);
      throw mapped;
    } finally {
      clearTimeout(timer);
    }
  }

  private iam(creds: IamCredentials): IAMClient {
    const pair = this.pairFor(creds);
    pair.iam ??= new IAMClient({ ...(this.sdkSettings?.iam as IAMClientConfig | undefined), ...this.sdkConfig(creds, this.options.iamEndpoint) });
    return pair.iam;
  }

  private sts(creds: IamCredentials): STSClient {
    const pair = this.pairFor(creds);
    pair.sts ??= new STSClient({ ...(this.sdkSettings?.sts as STSClientConfig | undefined), ...this.sdkConfig(creds, this.options.stsEndpoint) });
    return pair.sts;
  }

  private sdkConfig(creds: IamCredentials, endpoint: string | undefined): SdkClientConfig {
    return {
      region: this.region,
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      maxAttempts: this.maxAttempts,
      retryStrategy: new IamRetryStrategy(this.maxAttempts),
      requestHandler: this.requestHandler,
      // Leaving endpoint unset is what lets the SDK apply AWS_ENDPOINT_URL_IAM / _STS / AWS_ENDPOINT_URL (read once: readSdkSettings).
      ...(endpoint ? { endpoint } : {}),
    };
  }

  /**
   * Reads the SDK's own settings once, through one client of each service that makes no call, so that a
   * client made for a new key (every key beyond the cache, every new key of a rotation) does not read the
   * environment and the shared config files again: that was ≈0.3 ms of CPU per new client. If they cannot
   * be read, each client reads them itself as before (and its call fails with the SDK's error).
   */
  private async readSdkSettings(): Promise<void> {
    this.sdkSettingsRead ??= (async () => {
      const probe = (endpoint: string | undefined) => ({ region: this.region, requestHandler: this.requestHandler, ...(endpoint ? { endpoint } : {}) });
      const sts = new STSClient(probe(this.options.stsEndpoint));
      const iam = new IAMClient(probe(this.options.iamEndpoint));
      try {
        const read = async (client: IAMClient | STSClient, explicitEndpoint: string | undefined): Promise<SdkSettings> => {
          // A client's config holds each of them as a provider until its first call resolves it.
          const config = client.config as unknown as Record<string, unknown>;
          const settings: SdkSettings = {};
          for (const name of SDK_SETTINGS) {
            const provider = config[name];
            if (typeof provider === 'function') settings[name] = await (provider as () => Promise<unknown>)();
          }
          if (explicitEndpoint) return settings;
          const configured = config.serviceConfiguredEndpoint;
          if (typeof configured !== 'function') return settings;
          const endpoint = (await (configured as () => Promise<string | undefined>)()) || undefined;
          return { ...settings, ...(endpoint ? { endpoint } : { ignoreConfiguredEndpointUrls: true }) };
        };
        this.sdkSettings = {
          sts: await read(sts, this.options.stsEndpoint),
          iam: await read(iam, this.options.iamEndpoint),
        };
      } catch {
        this.sdkSettings = undefined;
      } finally {
        sts.destroy();
        iam.destroy();
      }
    })();
    await this.sdkSettingsRead;
  }

  private pairFor(creds: IamCredentials): ClientPair {
    const key = `${creds.accessKeyId}:${createHmac('sha256', this.cacheKeySalt).update(creds.secretAccessKey).digest('hex')}`;
    let pair = this.clients.get(key);
    if (pair) {
      this.clients.delete(key);
    } else {
      pair = {};
    }
    this.clients.set(key, pair);
    while (this.clients.size > this.maxCachedClients) {
      const [oldestKey, oldest] = this.clients.entries().next().value as [string, ClientPair];
      this.clients.delete(oldestKey);
      destroyPair(oldest);
    }
    return pair;
  }
}

function destroyPair(pair: ClientPair): void {
  pair.iam?.destroy();
  pair.sts?.destroy();
}

function userResource(userName: string | undefined): string | undefined {
  return userName ? `user/${userName}` : undefined;
}

function required<T>(value: T | undefined | null, field: string, action: string): T {
  if (value === undefined || value === null || value === '') {
    throw new IamError(IamErrorCode.Unexpected, { kind: 'incompatible', action, missingField: field });
  }
  return value;
}

/** AWS's "N/A" (a key never used, or used before AWS tracked it) is no value. */
function known(value: string | undefined): string | undefined {
  return value && value !== 'N/A' ? value : undefined;
}

function toStatus(status: string | undefined): AccessKeyStatus {
  return status === 'Active' ? 'Active' : 'Inactive';
}

function toDecision(decision: string | undefined): SimulatedDecision['decision'] {
  return decision === 'allowed' || decision === 'explicitDeny' ? decision : 'implicitDeny';
}

function userContext(policySourceArn: string) {
  const userName = userNameFromArn(policySourceArn);
  return userName ? [{ ContextKeyName: 'aws:username', ContextKeyType: 'string' as const, ContextKeyValues: [userName] }] : undefined;
}
