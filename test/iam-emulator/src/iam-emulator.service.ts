import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsError } from './aws-error.model.js';
import { type AccessKeyRecord, EmulatorState, type KeyStatus, newAccessKeyId, newSecretAccessKey } from './emulator-state.service.js';
import { type ActionContext, type ActionDefinition, type Caller, IAM_ACTIONS, QueryParams, STS_ACTIONS } from './iam-actions.service.js';
import { evaluate, parsePolicy } from './policy-evaluator.service.js';
import { type SigV4Authorization, parseAuthorization, verifySignature } from './sigv4-verifier.service.js';
import { type XmlRecord, errorXml, successXml } from './xml-writer.service.js';

export interface IamEmulatorOptions {
  /** 0 picks an ephemeral port. */
  port?: number;
  host?: string;
  accountId?: string;
  rootAccessKeyId?: string;
  rootSecretAccessKey?: string;
}

export interface InjectedError {
  code: string;
  message?: string;
  status?: number;
}

export interface ThrottleOptions {
  ratePerSecond: number;
  burst: number;
}

export interface CallLogEntry {
  time: Date;
  service: 'iam' | 'sts';
  action: string;
  callerArn?: string;
  userName?: string;
  /** The access key id the request was signed with (set even when the signature is refused). */
  accessKeyId?: string;
  errorCode?: string;
  status: number;
  /** True when the action ran but its answer was deliberately dropped. */
  answerLost?: boolean;
}

export interface KeyInfo {
  accessKeyId: string;
  status: KeyStatus;
  createDate: Date;
}

/** Fault settings as the control API accepts them (`POST /_emulator/faults`). */
export interface FaultsRequest {
  propagationDelayMs?: number;
  latencyMs?: number;
  throttle?: ThrottleOptions | null;
  throttleEvery?: number | null;
  failNext?: { action: string; count?: number; code: string; message?: string; status?: number };
  loseAnswerNext?: { action: string; count?: number };
  misdirectCreateAccessKey?: { forUser: string; toUser: string };
}

/** One access key of a seeded user. Dates may be ISO strings (the control API takes JSON). */
export interface SeedKeySpec {
  status?: KeyStatus;
  createDate?: Date | string;
  /** The key's last use (GetAccessKeyLastUsed); absent: never used. serviceName defaults to "iam", region to "us-east-1". */
  lastUsed?: { date?: Date | string; serviceName?: string; region?: string };
}

/** One user for `seedUsers` / `POST /_emulator/seed`. */
export interface SeedUserSpec {
  userName: string;
  /** IAM path, "/" by default ("/eng/"). */
  path?: string;
  createDate?: Date | string;
  policies?: Record<string, unknown>;
  /** Gives the user a login profile (console password). */
  password?: string;
  passwordResetRequired?: boolean;
  /** A count of fresh active keys, or each key's details; at most two. */
  keys?: number | SeedKeySpec[];
}

export interface SeededUser {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  keys: { accessKeyId: string; secretAccessKey: string; status: KeyStatus }[];
}

export const DEFAULT_ACCOUNT_ID = '123456789012';
export const DEFAULT_ROOT_ACCESS_KEY_ID = 'AKIAEMULATORROOT0000';
export const DEFAULT_ROOT_SECRET_ACCESS_KEY = 'emulatorRootSecretKey0000000000000000000'; // 40 chars, test-only

const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const IAM_VERSION = '2010-05-08';
const STS_VERSION = '2011-06-15';
const CALL_LOG_LIMIT = 1000;
const MAX_BODY_BYTES = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function seedDate(value: Date | string | undefined, what: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`${what} is not a date: ${String(value)}`);
  return date;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AwsError('RequestEntityTooLarge', 'Request body is too large.', 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** "user alice" for user ARNs, as IAM's AccessDenied messages name them. */
function describeResource(resource: string): string {
  const user = /^arn:aws:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(resource);
  return user ? `user ${user[1]}` : resource;
}

/**
 * An in-process IAM + STS endpoint for tests: real HTTP, SigV4-verified, policy-enforcing,
 * with fault injection. Construct through `startIamEmulator`.
 */
export class IamEmulator {
  readonly url: string;
  readonly accountId: string;
  readonly rootCredentials: { accessKeyId: string; secretAccessKey: string };

  /** The first account's state; `extraAccounts` holds the others (addAccount), each with its own root key. */
  private state: EmulatorState;
  private readonly extraAccounts = new Map<string, { root: { accessKeyId: string; secretAccessKey: string }; state: EmulatorState }>();
  private propagationDelayMs = 0;
  private latencyMs = 0;
  private throttle: (ThrottleOptions & { tokens: number; last: number }) | null = null;
  private throttleEvery: number | null = null;
  private throttleCounter = 0;
  private failures = new Map<string, { remaining: number; error: InjectedError }[]>();
  private lostAnswers = new Map<string, number>();
  /** Lower-cased requested user → the user whose key CreateAccessKey makes instead (once). */
  private misdirections = new Map<string, string>();
  private calls: CallLogEntry[] = [];
  /** Calls per action since the last clearCallLog, uncapped (the log keeps the last CALL_LOG_LIMIT only): for benchmarks. */
  private counts = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    address: AddressInfo,
    opts: Required<Omit<IamEmulatorOptions, 'port'>>,
  ) {
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    this.accountId = opts.accountId;
    this.rootCredentials = { accessKeyId: opts.rootAccessKeyId, secretAccessKey: opts.rootSecretAccessKey };
    this.state = this.freshState();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
  }

  /** @internal use startIamEmulator */
  static async listen(opts: IamEmulatorOptions = {}): Promise<IamEmulator> {
    const resolved = {
      host: opts.host ?? '127.0.0.1',
      accountId: opts.accountId ?? DEFAULT_ACCOUNT_ID,
      rootAccessKeyId: opts.rootAccessKeyId ?? DEFAULT_ROOT_ACCESS_KEY_ID,
      rootSecretAccessKey: opts.rootSecretAccessKey ?? DEFAULT_ROOT_SECRET_ACCESS_KEY,
    };
    if (!/^\d{12}$/.test(resolved.accountId)) throw new Error('accountId must be 12 digits');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, resolved.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new IamEmulator(server, server.address() as AddressInfo, resolved);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      // The SDK keeps sockets alive; without this close() would wait for them to idle out.
      this.server.closeAllConnections();
    });
  }

  // ---- fault and realism controls ----

  setPropagationDelayMs(ms: number): void {
    this.propagationDelayMs = Math.max(0, ms);
  }

  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  setThrottle(opts: ThrottleOptions | null): void {
    if (opts && (!(opts.ratePerSecond >= 0) || !(opts.burst >= 1))) throw new Error('throttle needs ratePerSecond >= 0 and burst >= 1');
    this.throttle = opts ? { ...opts, tokens: opts.burst, last: Date.now() } : null;
  }

  setThrottleEvery(n: number | null): void {
    if (n !== null && !(Number.isInteger(n) && n >= 1)) throw new Error('throttleEvery must be a positive integer or null');
    this.throttleEvery = n;
    this.throttleCounter = 0;
  }

  /** The next `count` calls of `action` (or of any action, with '*') answer `error` without running. */
  failNext(action: string, count: number, error: InjectedError): void {
    const queue = this.failures.get(action) ?? [];
    queue.push({ remaining: count, error });
    this.failures.set(action, queue);
  }

  /** The next `count` calls of `action` run, then the connection is destroyed before any answer. */
  loseAnswerNext(action: string, count = 1): void {
    this.lostAnswers.set(action, (this.lostAnswers.get(action) ?? 0) + count);
  }

  /**
   * The next CreateAccessKey for `forUser` creates the key for `toUser` instead, while its
   * answer still names `forUser`: a new key that answers STS as another user. AWS never does
   * this; the fault exists to test a client's check that a new key is the user's own.
   */
  misdirectNextCreateAccessKey(forUser: string, toUser: string): void {
    if (!this.state.findUser(toUser)) throw new Error(`no user named ${toUser}`);
    this.misdirections.set(forUser.toLowerCase(), toUser);
  }

  resetFaults(): void {
    this.propagationDelayMs = 0;
    this.latencyMs = 0;
    this.throttle = null;
    this.throttleEvery = null;
    this.throttleCounter = 0;
    this.failures.clear();
    this.lostAnswers.clear();
    this.misdirections.clear();
  }

  /** Applies a control-API fault request; throws on invalid input. */
  applyFaults(request: FaultsRequest): void {
    if (request.propagationDelayMs !== undefined) this.setPropagationDelayMs(Number(request.propagationDelayMs));
    if (request.latencyMs !== undefined) this.setLatencyMs(Number(request.latencyMs));
    if (request.throttle !== undefined) this.setThrottle(request.throttle);
    if (request.throttleEvery !== undefined) this.setThrottleEvery(request.throttleEvery);
    if (request.failNext) {
      const { action, count = 1, code, message, status } = request.failNext;
      if (!action || !code) throw new Error('failNext needs action and code');
      this.failNext(action, count, { code, ...(message !== undefined ? { message } : {}), ...(status !== undefined ? { status } : {}) });
    }
    if (request.loseAnswerNext) {
      if (!request.loseAnswerNext.action) throw new Error('loseAnswerNext needs action');
      this.loseAnswerNext(request.loseAnswerNext.action, request.loseAnswerNext.count ?? 1);
    }
    if (request.misdirectCreateAccessKey) {
      const { forUser, toUser } = request.misdirectCreateAccessKey;
      if (!forUser || !toUser) throw new Error('misdirectCreateAccessKey needs forUser and toUser');
      this.misdirectNextCreateAccessKey(forUser, toUser);
    }
  }

  // ---- several accounts ----

  /**
   * Adds another account behind the same endpoint and returns its root key.
   * Each key belongs to one account and acts there only: users, keys and
   * policies of different accounts never see each other, as on AWS.
   */
  addAccount(accountId: string): { accessKeyId: string; secretAccessKey: string } {
    if (!/^\d{12}$/.test(accountId)) throw new Error('accountId must be 12 digits');
    if (accountId === this.accountId || this.extraAccounts.has(accountId)) throw new Error(`account ${accountId} already exists`);
    const root = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    this.extraAccounts.set(accountId, { root, state: new EmulatorState(accountId, root.accessKeyId, root.secretAccessKey) });
    return { ...root };
  }

  private stateOf(accountId: string | undefined): EmulatorState {
    if (accountId === undefined || accountId === this.accountId) return this.state;
    const extra = this.extraAccounts.get(accountId);
    if (!extra) throw new Error(`no account ${accountId}; add it with addAccount first`);
    return extra.state;
  }

  private allStates(): EmulatorState[] {
    return [this.state, ...[...this.extraAccounts.values()].map((a) => a.state)];
  }

  // ---- state inspection and seeding for tests ----

  /** `accountId` defaults to the first account, here and in the other inspection helpers. */
  listKeys(userName: string, accountId?: string): KeyInfo[] {
    return this.stateOf(accountId).keysOf(userName === 'root' ? undefined : userName).map((k) => ({
      accessKeyId: k.accessKeyId,
      status: k.status,
      createDate: k.createDate,
    }));
  }

  getPassword(userName: string, accountId?: string): string | undefined {
    return this.stateOf(accountId).findUser(userName)?.loginProfile?.password;
  }

  getUser(userName: string, accountId?: string): { userName: string; userId: string; arn: string; policyNames: string[] } | undefined {
    const user = this.stateOf(accountId).findUser(userName);
    return user && { userName: user.userName, userId: user.userId, arn: user.arn, policyNames: [...user.policies.keys()] };
  }

  callLog(): CallLogEntry[] {
    return this.calls.map((c) => ({ ...c }));
  }

  clearCallLog(): void {
    this.calls = [];
    this.counts.clear();
  }

  /** How many calls each action received since the last clearCallLog (or reset), however many: the log itself is capped. */
  callCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Forgets every user, key and policy of every account; keeps the accounts, their root credentials and the fault settings. */
  resetState(): void {
    this.state = this.freshState();
    for (const [accountId, a] of this.extraAccounts) a.state = new EmulatorState(accountId, a.root.accessKeyId, a.root.secretAccessKey);
    this.calls = [];
    this.counts.clear();
  }

  /**
   * Creates a user directly (no HTTP, no propagation delay), optionally with inline policies,
   * a console password and an access key. A shortcut for test setup.
   */
  seedUser(
    userName: string,
    opts: { policies?: Record<string, unknown>; password?: string; withAccessKey?: boolean; accountId?: string; path?: string } = {},
  ): { userName: string; userId: string; arn: string; accessKeyId?: string; secretAccessKey?: string } {
    const [seeded] = this.seedUsers(
      [{ userName, path: opts.path, policies: opts.policies, password: opts.password, keys: opts.withAccessKey ? 1 : 0 }],
      opts.accountId,
    );
    const { keys, ...user } = seeded!;
    return keys[0] ? { ...user, accessKeyId: keys[0].accessKeyId, secretAccessKey: keys[0].secretAccessKey } : user;
  }

  /**
   * Creates many users at once, directly (no HTTP, no propagation delay): each with a path,
   * inline policies, a login profile, and 0–2 access keys with their status, creation date and
   * last use. All or nothing: any invalid spec (a name taken or repeated, a bad path, more than
   * two keys, a malformed policy or date) throws before anything is created.
   */
  seedUsers(specs: readonly SeedUserSpec[], accountId?: string): SeededUser[] {
    const state = this.stateOf(accountId);
    const seen = new Set<string>();
    const plans = specs.map((spec) => {
      const name = spec.userName;
      if (typeof name !== 'string' || !/^[\w+=,.@-]{1,64}$/.test(name)) throw new Error(`invalid user name ${String(name)}`);
      if (state.findUser(name) || seen.has(name.toLowerCase())) throw new Error(`user ${name} already exists`);
      seen.add(name.toLowerCase());
      const path = spec.path ?? '/';
      if (!/^(?:\/|\/[\u0021-\u007E]+\/)$/.test(path) || path.length > 512) throw new Error(`invalid path ${path} for ${name}`);
      for (const doc of Object.values(spec.policies ?? {})) parsePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc));
      const keys: SeedKeySpec[] = typeof spec.keys === 'number' ? Array.from({ length: spec.keys }, () => ({})) : (spec.keys ?? []);
      if (keys.length > 2) throw new Error(`user ${name}: at most two access keys (AWS's quota)`);
      return {
        spec,
        path,
        createDate: seedDate(spec.createDate, `${name} createDate`) ?? new Date(),
        keys: keys.map((k, i) => {
          if (k.status !== undefined && k.status !== 'Active' && k.status !== 'Inactive') throw new Error(`user ${name} key ${i + 1}: status must be Active or Inactive`);
          const lastUsed = k.lastUsed && {
            date: seedDate(k.lastUsed.date, `${name} key ${i + 1} lastUsed.date`) ?? new Date(),
            serviceName: k.lastUsed.serviceName ?? 'iam',
            region: k.lastUsed.region ?? 'us-east-1',
          };
          return { status: k.status ?? ('Active' as KeyStatus), createDate: seedDate(k.createDate, `${name} key ${i + 1} createDate`) ?? new Date(), lastUsed };
        }),
      };
    });
    return plans.map(({ spec, path, createDate, keys }) => {
      const user = state.createUser(spec.userName, path);
      user.createDate = createDate;
      for (const [name, doc] of Object.entries(spec.policies ?? {})) user.policies.set(name, typeof doc === 'string' ? doc : JSON.stringify(doc));
      if (spec.password !== undefined) {
        user.loginProfile = { password: spec.password, createDate: new Date(), passwordResetRequired: spec.passwordResetRequired ?? false, history: [spec.password] };
      }
      const made = keys.map((k) => {
        const key: AccessKeyRecord = {
          accessKeyId: newAccessKeyId(),
          secretAccessKey: newSecretAccessKey(),
          status: k.status,
          createDate: k.createDate,
          usableAfter: 0,
          userName: user.userName,
          ...(k.lastUsed ? { lastUsed: k.lastUsed } : {}),
        };
        state.addKey(key);
        return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, status: key.status };
      });
      return { userName: user.userName, userId: user.userId, arn: user.arn, path: user.path, keys: made };
    });
  }

  /** What GetAccessKeyLastUsed would answer for the key (undefined: never used); throws for an unknown key. */
  getKeyLastUsed(accessKeyId: string, accountId?: string): { date: Date; serviceName: string; region: string } | undefined {
    const key = this.stateOf(accountId).keysById.get(accessKeyId);
    if (!key) throw new Error(`no access key ${accessKeyId}`);
    return key.lastUsed && { ...key.lastUsed };
  }

  /** Sets (or, with null, forgets) a key's last use, as if it had been used then. */
  setKeyLastUsed(accessKeyId: string, lastUsed: { date: Date; serviceName: string; region: string } | null, accountId?: string): void {
    const key = this.stateOf(accountId).keysById.get(accessKeyId);
    if (!key) throw new Error(`no access key ${accessKeyId}`);
    if (lastUsed === null) delete key.lastUsed;
    else key.lastUsed = { ...lastUsed };
  }

  private freshState(): EmulatorState {
    return new EmulatorState(this.accountId, this.rootCredentials.accessKeyId, this.rootCredentials.secretAccessKey);
  }

  // ---- request handling ----

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(413).end();
      return;
    }
    if (url === '/_emulator' || url.startsWith('/_emulator/')) {
      this.onControl(req, res, url, body);
      return;
    }
    await this.onAwsRequest(req, res, url, body);
  }

  private async onAwsRequest(req: IncomingMessage, res: ServerResponse, url: string, body: Buffer): Promise<void> {
    const requestId = randomUUID();
    const queryAt = url.indexOf('?');
    const form = new URLSearchParams(queryAt >= 0 ? url.slice(queryAt + 1) : '');
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) form.set(k, v);
    const params = new QueryParams(form);
    const action = params.get('Action') ?? '';
    const version = params.get('Version');

    const authHeader = req.headers.authorization;
    const parsed = authHeader ? parseAuthorization(authHeader) : undefined;
    const service: 'iam' | 'sts' =
      parsed?.ok ? (parsed.auth.service === 'sts' ? 'sts' : 'iam') : version === STS_VERSION ? 'sts' : 'iam';
    const namespace = service === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
    const entry: CallLogEntry = { time: new Date(), service, action, status: 200 };
    const targetName = params.get('UserName');
    if (targetName !== undefined) entry.userName = targetName;
    if (parsed?.ok) entry.accessKeyId = parsed.auth.accessKeyId;

    let status = 200;
    let xml: string;
    let loseAnswer = false;
    try {
      if (!authHeader) throw new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
      if (!parsed || !parsed.ok) throw new AwsError('IncompleteSignature', parsed?.ok === false ? parsed.message : 'Malformed Authorization header.', 400);
      const { caller, state } = this.authenticate(req, url, body, parsed.auth);
      entry.callerArn = caller.arn;
      if (targetName === undefined && caller.kind === 'user') entry.userName = caller.user.userName;

      const table = service === 'sts' ? STS_ACTIONS : IAM_ACTIONS;
      const definition = Object.hasOwn(table, action) ? table[action] : undefined;
      if (!action) throw new AwsError('MissingAction', 'Missing Action', 400);
      if (!definition) {
        throw new AwsError('InvalidAction', `Could not find operation ${action} for version ${version ?? (service === 'sts' ? STS_VERSION : IAM_VERSION)}`, 400);
      }
      this.injectFaults(action);

      const now = new Date();
      const ctx: ActionContext = { state, caller, params, propagationDelayMs: this.propagationDelayMs, now };
      this.authorize(definition, action, ctx);
      loseAnswer = this.takeLostAnswer(action);
      try {
        const result = action === 'CreateAccessKey' ? this.createAccessKey(definition, ctx, form) : definition.handle(ctx);
        xml = successXml(action, namespace, requestId, result);
      } finally {
        entry.answerLost = loseAnswer || undefined;
      }
    } catch (err) {
      const error = err instanceof AwsError ? err : new AwsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500);
      status = error.status;
      entry.errorCode = error.code;
      xml = errorXml(namespace, requestId, error.type, error.code, error.message);
    }
    entry.status = status;
    if (!entry.answerLost) delete entry.answerLost;
    this.record(entry);

    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (loseAnswer) {
      req.socket.destroy();
      return;
    }
    const payload = Buffer.from(xml, 'utf8');
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': payload.length,
      'x-amzn-requestid': requestId,
      date: new Date().toUTCString(),
    });
    res.end(payload);
  }

  /** CreateAccessKey, made for another user when a misdirection is set for the requested one. */
  private createAccessKey(definition: ActionDefinition, ctx: ActionContext, form: URLSearchParams): XmlRecord | undefined {
    const requested = ctx.params.get('UserName') ?? (ctx.caller.kind === 'user' ? ctx.caller.user.userName : undefined);
    const toUser = requested === undefined ? undefined : this.misdirections.get(requested.toLowerCase());
    if (requested === undefined || toUser === undefined) return definition.handle(ctx);
    this.misdirections.delete(requested.toLowerCase());
    const redirected = new URLSearchParams(form);
    redirected.set('UserName', toUser);
    const result = definition.handle({ ...ctx, params: new QueryParams(redirected) }) as { AccessKey: { UserName?: string } };
    result.AccessKey.UserName = requested;
    return result as unknown as XmlRecord;
  }

  /** The caller and the account it acts in: a key belongs to exactly one account. */
  private authenticate(req: IncomingMessage, url: string, body: Buffer, auth: SigV4Authorization): { caller: Caller; state: EmulatorState } {
    const invalidToken = () => new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    const state = this.allStates().find((s) => s.keysById.has(auth.accessKeyId));
    const key = state?.keysById.get(auth.accessKeyId);
    // Inactive and not-yet-propagated keys are indistinguishable from unknown ones, as on AWS.
    if (!state || !key || key.status !== 'Active' || Date.now() < key.usableAfter) throw invalidToken();
    if (req.headers['x-amz-security-token'] !== undefined) throw invalidToken();
    const mismatch = verifySignature({ method: req.method ?? 'POST', url, headers: req.headers, body }, auth, key.secretAccessKey);
    if (mismatch) {
      throw new AwsError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        403,
      );
    }
    key.lastUsed = { date: new Date(), serviceName: auth.service, region: auth.region };
    if (key.userName === undefined) return { caller: { kind: 'root', arn: state.rootArn, accessKey: key }, state };
    const user = state.findUser(key.userName);
    if (!user) throw invalidToken();
    return { caller: { kind: 'user', arn: user.arn, user, accessKey: key }, state };
  }

  private injectFaults(action: string): void {
    const throttled = () => new AwsError('Throttling', 'Rate exceeded', 400);
    if (this.throttleEvery !== null) {
      this.throttleCounter += 1;
      if (this.throttleCounter % this.throttleEvery === 0) throw throttled();
    }
    if (this.throttle) {
      const now = Date.now();
      const t = this.throttle;
      t.tokens = Math.min(t.burst, t.tokens + ((now - t.last) / 1000) * t.ratePerSecond);
      t.last = now;
      if (t.tokens < 1) throw throttled();
      t.tokens -= 1;
    }
    for (const name of [action, '*']) {
      const queue = this.failures.get(name);
      const head = queue?.[0];
      if (!queue || !head) continue;
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      if (queue.length === 0) this.failures.delete(name);
      const { code, message, status } = head.error;
      throw new AwsError(code, message ?? `Injected ${code} by the IAM emulator.`, status ?? 400);
    }
  }

  private takeLostAnswer(action: string): boolean {
    for (const name of [action, '*']) {
      const left = this.lostAnswers.get(name);
      if (left === undefined || left <= 0) continue;
      if (left === 1) this.lostAnswers.delete(name);
      else this.lostAnswers.set(name, left - 1);
      return true;
    }
    return false;
  }

  /** Runs before any existence check, so a caller without permission learns nothing (as on AWS). */
  private authorize(definition: ActionDefinition, action: string, ctx: ActionContext): void {
    const resource = definition.resource(ctx);
    if (resource === null || ctx.caller.kind === 'root') return;
    const user = ctx.caller.user;
    const fullAction = `${definition.service}:${action}`;
    const context = new Map([
      ['aws:username', user.userName],
      ['aws:userid', user.userId],
      ['aws:principaltype', 'User'],
      ['aws:principalaccount', ctx.state.accountId],
      ['aws:principalarn', user.arn],
    ]);
    const policies = [...user.policies].map(([name, document]) => ({ name, document }));
    const evaluation = evaluate(policies, fullAction, resource, context);
    const prefix = `User: ${user.arn} is not authorized to perform: ${fullAction} on resource: ${describeResource(resource)}`;
    if (evaluation.decision === 'explicitDeny') {
      throw new AwsError('AccessDenied', `${prefix} with an explicit deny in an identity-based policy`, 403);
    }
    if (evaluation.decision === 'allowed') return;
    // AllowUsersToChangePassword grants every user ChangePassword on itself and GetAccountPasswordPolicy.
    const policy = ctx.state.passwordPolicy;
    if (policy?.allowUsersToChangePassword) {
      if (action === 'ChangePassword' && resource === user.arn) return;
      if (action === 'GetAccountPasswordPolicy') return;
    }
    throw new AwsError('AccessDenied', `${prefix} because no identity-based policy allows the ${fullAction} action`, 403);
  }

  private record(entry: CallLogEntry): void {
    const key = entry.action || '(none)';
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.calls.push(entry);
    if (this.calls.length > CALL_LOG_LIMIT) this.calls.splice(0, this.calls.length - CALL_LOG_LIMIT);
  }

  // ---- control API (not AWS's) ----

  private onControl(req: IncomingMessage, res: ServerResponse, url: string, body: Buffer): void {
    const send = (status: number, payload: unknown) => {
      const text = JSON.stringify(payload);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    const path = url.split('?')[0]!;
    const method = req.method ?? 'GET';
    try {
      if (method === 'GET' && path === '/_emulator/health') return send(200, { ok: true, accountId: this.accountId });
      if (method === 'POST' && path === '/_emulator/faults') {
        const request = body.length > 0 ? (JSON.parse(body.toString('utf8')) as FaultsRequest) : {};
        if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new Error('body must be a JSON object');
        this.applyFaults(request);
        return send(200, { ok: true });
      }
      if (method === 'POST' && path === '/_emulator/reset-faults') {
        this.resetFaults();
        return send(200, { ok: true });
      }
      if (method === 'POST' && path === '/_emulator/reset-state') {
        this.resetState();
        return send(200, { ok: true });
      }
      if (method === 'GET' && path === '/_emulator/calls') return send(200, this.callLog());
      if (method === 'POST' && path === '/_emulator/seed') {
        const request = JSON.parse(body.toString('utf8') || '{}') as { accountId?: string; users?: SeedUserSpec[] };
        if (typeof request !== 'object' || request === null || !Array.isArray(request.users)) throw new Error('body must be {"users": [...], "accountId"?: "…"}');
        return send(200, { users: this.seedUsers(request.users, request.accountId) });
      }
      const lastUsed = /^\/_emulator\/keys\/([^/]+)\/last-used$/.exec(path);
      if (lastUsed) {
        const id = decodeURIComponent(lastUsed[1]!);
        const accountId = new URLSearchParams(url.split('?')[1] ?? '').get('accountId') ?? undefined;
        if (!this.stateOf(accountId).keysById.has(id)) return send(404, { error: `no access key ${id}` });
        if (method === 'GET') return send(200, { lastUsed: this.getKeyLastUsed(id, accountId) ?? null });
        if (method === 'POST') {
          const request = JSON.parse(body.toString('utf8') || 'null') as { date?: string; serviceName?: string; region?: string } | null;
          this.setKeyLastUsed(
            id,
            request === null
              ? null
              : { date: seedDate(request.date, 'date') ?? new Date(), serviceName: request.serviceName ?? 'iam', region: request.region ?? 'us-east-1' },
            accountId,
          );
          return send(200, { ok: true });
        }
      }
      if (method === 'GET' && path === '/_emulator/call-counts') return send(200, this.callCounts());
      const keys = /^\/_emulator\/users\/([^/]+)\/keys$/.exec(path);
      if (method === 'GET' && keys) {
        const name = decodeURIComponent(keys[1]!);
        if (name !== 'root' && !this.state.findUser(name)) return send(404, { error: `no user named ${name}` });
        return send(200, this.listKeys(name));
      }
      const password = /^\/_emulator\/users\/([^/]+)\/password$/.exec(path);
      if (method === 'GET' && password) {
        const value = this.getPassword(decodeURIComponent(password[1]!));
        return value === undefined ? send(404, { error: 'no login profile' }) : send(200, { password: value });
      }
      return send(404, { error: `unknown control route ${method} ${path}` });
    } catch (err) {
      return send(400, { error: err instanceof Error ? err.message : 'bad request' });
    }
  }
}

export function startIamEmulator(opts?: IamEmulatorOptions): Promise<IamEmulator> {
  return IamEmulator.listen(opts);
}
