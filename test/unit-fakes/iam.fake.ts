import { IamErrorCode, type IamReason } from '@keyturn/contracts';
import {
  IamError,
  type AccessKeyLastUsed,
  type AccessKeyMetadata,
  type AccessKeyStatus,
  type CallerIdentity,
  type IamClient,
  type IamCredentials,
  type IamUserInfo,
  type IamUserPage,
  type LoginProfileInfo,
  type NewAccessKey,
  type PasswordPolicy,
  type SimulatedDecision,
} from '@keyturn/iam';
import type { FakeClock } from './clock.fake.js';

// An in-memory IAM + STS behind the IamClient port, for the worker's unit
// specs: users (with paths, listed in pages), their access keys (at most two)
// and when each was last used, console passwords (login profiles), the
// account's password policy. Every call is recorded as "<operation> <user>"
// (the caller, and the target where there is one) so specs assert exactly what
// was asked of AWS. Errors are the IamErrors libs/iam's mapper produces.

export interface FakeKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: AccessKeyStatus;
  createDate: Date;
}

export interface FakeUser {
  name: string;
  userId: string;
  account: string;
  keys: FakeKey[];
  /** The IAM path, "/" unless given ("/eng/"). */
  path: string;
  /** The console password; null: the user has no login profile. */
  password: string | null;
  passwordHistory: string[];
  /** When the login profile was made, and whether it makes the user pick a new password at sign-in. */
  loginProfile?: { createDate: Date; passwordResetRequired: boolean };
}

type Op =
  | 'getCallerIdentity'
  | 'getUser'
  | 'listAccessKeys'
  | 'createAccessKey'
  | 'updateAccessKey'
  | 'deleteAccessKey'
  | 'changePassword'
  | 'updateLoginProfile'
  | 'getAccountPasswordPolicy'
  | 'listUsers'
  | 'getAccessKeyLastUsed'
  | 'getLoginProfile';

const ACTION: Record<Op, string> = {
  getCallerIdentity: 'sts:GetCallerIdentity',
  getUser: 'iam:GetUser',
  listAccessKeys: 'iam:ListAccessKeys',
  createAccessKey: 'iam:CreateAccessKey',
  updateAccessKey: 'iam:UpdateAccessKey',
  deleteAccessKey: 'iam:DeleteAccessKey',
  changePassword: 'iam:ChangePassword',
  updateLoginProfile: 'iam:UpdateLoginProfile',
  getAccountPasswordPolicy: 'iam:GetAccountPasswordPolicy',
  listUsers: 'iam:ListUsers',
  getAccessKeyLastUsed: 'iam:GetAccessKeyLastUsed',
  getLoginProfile: 'iam:GetLoginProfile',
};

let keySeq = 0;

export const iamErrors = {
  invalidCredentials: (op: Op = 'getCallerIdentity') =>
    new IamError(IamErrorCode.InvalidCredentials, { action: ACTION[op], awsCode: 'InvalidClientTokenId' }, { awsCode: 'InvalidClientTokenId' }),
  accessDenied: (op: Op) => new IamError(IamErrorCode.AccessDenied, { action: ACTION[op] }, { awsCode: 'AccessDenied' }),
  noSuch: (op: Op, reason: IamReason) => new IamError(IamErrorCode.NoSuchEntity, { action: ACTION[op] }, { awsCode: 'NoSuchEntity', reason }),
  keyLimit: () => new IamError(IamErrorCode.KeyLimit, { action: ACTION.createAccessKey }, { awsCode: 'LimitExceeded' }),
  throttled: (op: Op) => new IamError(IamErrorCode.Throttled, { kind: 'aws', action: ACTION[op], awsCode: 'Throttling' }, { awsCode: 'Throttling' }),
  unreachable: (op: Op) => new IamError(IamErrorCode.Unreachable, { kind: 'network', action: ACTION[op], what: 'ECONNRESET' }),
  passwordPolicy: (op: Op) => new IamError(IamErrorCode.PasswordPolicy, { action: ACTION[op], awsCode: 'PasswordPolicyViolation' }, { awsCode: 'PasswordPolicyViolation' }),
  wrongOldPassword: () =>
    new IamError(IamErrorCode.Unexpected, { kind: 'aws', action: ACTION.changePassword, awsCode: 'InvalidUserType' }, { awsCode: 'InvalidUserType', reason: 'wrong-old-password' }),
};

export class FakeIam implements IamClient {
  readonly users = new Map<string, FakeUser>();
  /** "<operation> <caller>[ <target>]", in call order. */
  readonly calls: string[] = [];
  /** The access key id each call was made with, parallel to `calls`. */
  readonly callerKeys: string[] = [];
  /** The account's password policy; 'denied' makes reading it AccessDenied. */
  policy: PasswordPolicy | null | 'denied' = null;
  /** Operations refused with AccessDenied. */
  readonly denied = new Set<Op>();
  /** Errors the next calls of an operation throw, before doing anything. */
  private readonly failures = new Map<Op, Error[]>();
  /** A new key is rejected by STS this many times before it works (IAM propagates slowly). */
  propagationFailures = 0;
  private readonly unpropagated = new Map<string, number>();
  /** Whom GetCallerIdentity of a key answers as, if not its owner (a key of another user stored by mistake). */
  readonly answersAs = new Map<string, string>();
  /** When CreateAccessKey runs, called with the new key before it is answered (a spec may lose the answer). */
  onCreate?: (key: FakeKey) => void;
  /** The last authenticated call made with each key (every call through the port records one), or one a spec set. */
  readonly lastUsed = new Map<string, { date: Date; serviceName: string; region: string }>();
  /** ListUsers page size when the caller gives no MaxItems (AWS's default is 100). */
  defaultMaxItems = 100;

  constructor(private readonly clock: FakeClock) {}

  addUser(name: string, opts: { account?: string; keys?: number; password?: string; path?: string; passwordResetRequired?: boolean } = {}): FakeUser {
    const u: FakeUser = {
      name,
      userId: `AIDA${name.toUpperCase()}`,
      account: opts.account ?? '111111111111',
      path: opts.path ?? '/',
      keys: [],
      password: opts.password ?? null,
      passwordHistory: [],
    };
    if (opts.password !== undefined) u.loginProfile = { createDate: new Date(this.clock.now()), passwordResetRequired: opts.passwordResetRequired ?? false };
    this.users.set(name.toLowerCase(), u);
    for (let i = 0; i < (opts.keys ?? 0); i++) this.addKey(name);
    return u;
  }

  /** A key made outside Keyturn (or before the spec), created at `createDate`. */
  addKey(userName: string, createDate = new Date(this.clock.now() - 86_400_000)): FakeKey {
    const k: FakeKey = { accessKeyId: `AKIA${String(++keySeq).padStart(16, '0')}`, secretAccessKey: `secret-${keySeq}`, status: 'Active', createDate };
    this.user(userName).keys.push(k);
    return k;
  }

  creds(k: FakeKey): IamCredentials {
    return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
  }

  user(name: string): FakeUser {
    const u = this.users.get(name.toLowerCase());
    if (!u) throw new Error(`no fake user ${name}`);
    return u;
  }

  keyIds(userName: string): string[] {
    return this.user(userName).keys.map((k) => k.accessKeyId);
  }

  failNext(op: Op, ...errors: Error[]): void {
    this.failures.set(op, [...(this.failures.get(op) ?? []), ...errors]);
  }

  /** Calls of one operation (without the operation's name). */
  callsOf(op: Op): string[] {
    return this.calls.filter((c) => c.split(' ')[0] === op).map((c) => c.slice(op.length + 1));
  }

  // ------------------------------------------------------------ the port

  async getCallerIdentity(creds: IamCredentials): Promise<CallerIdentity> {
    const { user, key } = this.enter('getCallerIdentity', creds);
    const left = this.unpropagated.get(key.accessKeyId) ?? 0;
    if (left > 0) {
      this.unpropagated.set(key.accessKeyId, left - 1);
      throw iamErrors.invalidCredentials();
    }
    const as = this.answersAs.get(key.accessKeyId) ? this.user(this.answersAs.get(key.accessKeyId)!) : user;
    return { account: as.account, arn: arnOf(as), userId: as.userId };
  }

  async getUser(creds: IamCredentials, userName?: string): Promise<IamUserInfo> {
    const { user } = this.enter('getUser', creds, userName);
    const u = userName ? this.target('getUser', userName) : user;
    return { userName: u.name, userId: u.userId, arn: arnOf(u) };
  }

  async listAccessKeys(creds: IamCredentials, userName: string): Promise<AccessKeyMetadata[]> {
    this.enter('listAccessKeys', creds, userName);
    return this.target('listAccessKeys', userName).keys.map((k) => ({ accessKeyId: k.accessKeyId, status: k.status, createDate: k.createDate, userName }));
  }

  async createAccessKey(creds: IamCredentials, userName: string): Promise<NewAccessKey> {
    this.enter('createAccessKey', creds, userName);
    const u = this.target('createAccessKey', userName);
    if (u.keys.length >= 2) throw iamErrors.keyLimit();
    const k = this.addKey(userName, new Date(this.clock.now()));
    if (this.propagationFailures) this.unpropagated.set(k.accessKeyId, this.propagationFailures);
    this.onCreate?.(k);
    return { ...this.creds(k), status: 'Active', createDate: k.createDate, userName: u.name };
  }

  async updateAccessKey(creds: IamCredentials, userName: string, accessKeyId: string, status: AccessKeyStatus): Promise<void> {
    this.enter('updateAccessKey', creds, userName, accessKeyId);
    const k = this.target('updateAccessKey', userName).keys.find((x) => x.accessKeyId === accessKeyId);
    if (!k) throw iamErrors.noSuch('updateAccessKey', 'no-such-access-key');
    k.status = status;
  }

  async deleteAccessKey(creds: IamCredentials, userName: string, accessKeyId: string): Promise<void> {
    this.enter('deleteAccessKey', creds, userName, accessKeyId);
    const u = this.target('deleteAccessKey', userName);
    if (!u.keys.some((x) => x.accessKeyId === accessKeyId)) throw iamErrors.noSuch('deleteAccessKey', 'no-such-access-key');
    u.keys = u.keys.filter((x) => x.accessKeyId !== accessKeyId);
  }

  async changePassword(creds: IamCredentials, oldPassword: string, newPassword: string): Promise<void> {
    const { user } = this.enter('changePassword', creds);
    if (user.password !== oldPassword) throw iamErrors.wrongOldPassword();
    this.setPassword('changePassword', user, newPassword);
  }

  async updateLoginProfile(creds: IamCredentials, userName: string, password: string): Promise<void> {
    this.enter('updateLoginProfile', creds, userName);
    const u = this.target('updateLoginProfile', userName);
    if (u.password === null) throw iamErrors.noSuch('updateLoginProfile', 'no-such-login-profile');
    this.setPassword('updateLoginProfile', u, password);
  }

  async getAccountPasswordPolicy(creds: IamCredentials): Promise<PasswordPolicy | null> {
    this.enter('getAccountPasswordPolicy', creds);
    if (this.policy === 'denied') throw iamErrors.accessDenied('getAccountPasswordPolicy');
    return this.policy;
  }

  async simulatePrincipalPolicy(): Promise<SimulatedDecision[]> {
    throw new Error('not used by the worker');
  }

  /** Users of the caller's account under the path prefix, ordered by name; the marker is the next user's index. */
  async listUsers(creds: IamCredentials, opts: { pathPrefix?: string; marker?: string; maxItems?: number } = {}): Promise<IamUserPage> {
    const { user: caller } = this.enter('listUsers', creds, ...[opts.pathPrefix, opts.marker].filter((x) => x !== undefined));
    const all = [...this.users.values()]
      .filter((u) => u.account === caller.account && u.path.startsWith(opts.pathPrefix ?? '/'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const from = opts.marker === undefined ? 0 : Number(opts.marker);
    const to = from + (opts.maxItems ?? this.defaultMaxItems);
    const users = all.slice(from, to).map((u) => ({ userName: u.name, userId: u.userId, arn: arnOf(u), path: u.path, createDate: new Date(0) }));
    return to < all.length ? { users, marker: String(to) } : { users };
  }

  async getAccessKeyLastUsed(creds: IamCredentials, accessKeyId: string): Promise<AccessKeyLastUsed> {
    const { user: caller } = this.enter('getAccessKeyLastUsed', creds, accessKeyId);
    const owner = [...this.users.values()].find((u) => u.keys.some((k) => k.accessKeyId === accessKeyId));
    // AWS answers a key it does not know (or of another account) with AccessDenied, not NoSuchEntity.
    if (!owner || owner.account !== caller.account) throw iamErrors.accessDenied('getAccessKeyLastUsed');
    const used = this.lastUsed.get(accessKeyId);
    return used ? { userName: owner.name, lastUsedDate: used.date, serviceName: used.serviceName, region: used.region } : { userName: owner.name };
  }

  async getLoginProfile(creds: IamCredentials, userName: string): Promise<LoginProfileInfo | null> {
    this.enter('getLoginProfile', creds, userName);
    const u = this.target('getLoginProfile', userName);
    if (u.password === null) return null;
    return { userName: u.name, createDate: u.loginProfile?.createDate, passwordResetRequired: u.loginProfile?.passwordResetRequired ?? false };
  }

  // ------------------------------------------------------------ rules

  /** Records the call, throws a queued failure, then resolves the caller (an unknown or inactive key is rejected). */
  private enter(op: Op, creds: IamCredentials, ...target: (string | undefined)[]): { user: FakeUser; key: FakeKey } {
    const found = [...this.users.values()].flatMap((u) => u.keys.map((k) => ({ user: u, key: k }))).find((x) => x.key.accessKeyId === creds.accessKeyId);
    this.callerKeys.push(creds.accessKeyId);
    this.calls.push([op, found?.user.name ?? `?${creds.accessKeyId}`, ...target.filter((t) => t !== undefined)].join(' '));
    const queued = this.failures.get(op);
    if (queued?.length) throw queued.shift()!;
    if (!found || found.key.secretAccessKey !== creds.secretAccessKey || found.key.status !== 'Active') throw iamErrors.invalidCredentials(op);
    this.lastUsed.set(found.key.accessKeyId, { date: new Date(this.clock.now()), serviceName: op === 'getCallerIdentity' ? 'sts' : 'iam', region: 'us-east-1' });
    if (this.denied.has(op)) throw iamErrors.accessDenied(op);
    return found;
  }

  private target(op: Op, userName: string): FakeUser {
    const u = this.users.get(userName.toLowerCase());
    if (!u) throw iamErrors.noSuch(op, 'no-such-user');
    return u;
  }

  /** The policy's minimum length and reuse prevention; nothing else is checked. */
  private setPassword(op: Op, u: FakeUser, password: string): void {
    const p = this.policy && this.policy !== 'denied' ? this.policy : null;
    if (p && password.length < p.minimumPasswordLength) throw iamErrors.passwordPolicy(op);
    if (p?.passwordReusePrevention && u.passwordHistory.slice(-p.passwordReusePrevention).includes(password)) throw iamErrors.passwordPolicy(op);
    u.password = password;
    u.passwordHistory.push(password);
  }
}

function arnOf(u: FakeUser): string {
  return `arn:aws:iam::${u.account}:user${u.path}${u.name}`;
}
