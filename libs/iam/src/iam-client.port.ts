import { IAM_REASONS, IamErrorCode, KeyturnError, type ErrorArgs, type ErrorParams, type IamReason } from '@keyturn/contracts';

/**
 * The credentials a call is made with. Never logged, never put in an error.
 * `accessKeyId`/`secretAccessKey` are key material.
 */
export interface IamCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov';

export interface CallerIdentity {
  account: string;
  arn: string;
  userId: string;
}

export interface IamUserInfo {
  userName: string;
  userId: string;
  arn: string;
  createDate?: Date;
}

/** One user of iam:ListUsers. */
export interface IamUserSummary {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  createDate?: Date;
}

/** One page of iam:ListUsers. */
export interface IamUserPage {
  users: IamUserSummary[];
  /** Set iff AWS said IsTruncated: pass it back to get the next page. */
  marker?: string;
}

/** iam:GetAccessKeyLastUsed. AWS answers "N/A" for what it never saw: that is undefined here. */
export interface AccessKeyLastUsed {
  userName?: string;
  lastUsedDate?: Date;
  serviceName?: string;
  region?: string;
}

/** iam:GetLoginProfile: the user has a console password. */
export interface LoginProfileInfo {
  userName: string;
  createDate?: Date;
  passwordResetRequired: boolean;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKeyMetadata {
  accessKeyId: string;
  status: AccessKeyStatus;
  createDate?: Date;
  userName: string;
}

export interface NewAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: AccessKeyStatus;
  createDate?: Date;
  userName: string;
}

export interface PasswordPolicy {
  minimumPasswordLength: number;
  requireSymbols: boolean;
  requireNumbers: boolean;
  requireUppercaseCharacters: boolean;
  requireLowercaseCharacters: boolean;
  allowUsersToChangePassword: boolean;
  passwordReusePrevention?: number;
  maxPasswordAge?: number;
  hardExpiry?: boolean;
}

export interface SimulatedDecision {
  action: string;
  resource: string;
  decision: 'allowed' | 'explicitDeny' | 'implicitDeny';
}

/**
 * The only way Keyturn talks to AWS IAM and STS. Every method rejects with an
 * {@link IamError}, never with a raw SDK error.
 */
export interface IamClient {
  /** STS GetCallerIdentity: needs no IAM permission; proves a key works. */
  getCallerIdentity(creds: IamCredentials): Promise<CallerIdentity>;
  /** GetUser; without userName, the caller's own user. */
  getUser(creds: IamCredentials, userName?: string): Promise<IamUserInfo>;
  listAccessKeys(creds: IamCredentials, userName: string): Promise<AccessKeyMetadata[]>;
  createAccessKey(creds: IamCredentials, userName: string): Promise<NewAccessKey>;
  updateAccessKey(creds: IamCredentials, userName: string, accessKeyId: string, status: AccessKeyStatus): Promise<void>;
  deleteAccessKey(creds: IamCredentials, userName: string, accessKeyId: string): Promise<void>;
  /** iam:ChangePassword: the caller changes its own console password. */
  changePassword(creds: IamCredentials, oldPassword: string, newPassword: string): Promise<void>;
  /** iam:UpdateLoginProfile: set another user's console password. */
  updateLoginProfile(
    creds: IamCredentials,
    userName: string,
    password: string,
    passwordResetRequired?: boolean,
  ): Promise<void>;
  /** Resolves null when the account has no password policy (AWS's default applies). */
  getAccountPasswordPolicy(creds: IamCredentials): Promise<PasswordPolicy | null>;
  simulatePrincipalPolicy(
    creds: IamCredentials,
    policySourceArn: string,
    actions: string[],
    resourceArns?: string[],
  ): Promise<SimulatedDecision[]>;
  /** iam:ListUsers, one page. */
  listUsers(creds: IamCredentials, opts?: { pathPrefix?: string; marker?: string; maxItems?: number }): Promise<IamUserPage>;
  /** iam:GetAccessKeyLastUsed. */
  getAccessKeyLastUsed(creds: IamCredentials, accessKeyId: string): Promise<AccessKeyLastUsed>;
  /**
   * iam:GetLoginProfile; null when the user has no console password (AWS answers NoSuchEntity).
   * A user that does not exist (any more) still rejects, with IAM_NO_SUCH_ENTITY reason "no-such-user".
   */
  getLoginProfile(creds: IamCredentials, userName: string): Promise<LoginProfileInfo | null>;
}

export const IAM_CLIENT = Symbol('IAM_CLIENT');

/**
 * The IAM or STS action a failed call was refused, e.g. "iam:ListUsers", when
 * the failure is an access denial (IAM_ACCESS_DENIED); undefined for anything
 * else (throttling, network, a missing entity). A discovery run names it.
 */
export function deniedAction(err: unknown): string | undefined {
  return err instanceof IamError && err.code === IamErrorCode.AccessDenied ? err.action : undefined;
}

export interface IamErrorInfo {
  /** The AWS error code (e.g. "AccessDenied", "LimitExceeded"), when AWS answered. */
  awsCode?: string;
  /** What exactly AWS refused, where Keyturn needs to know (set by the IAM mapper only). */
  reason?: IamReason;
  /** Applied to the finished message: removes key material the parameters might still hold, and bounds it. */
  scrub?: (message: string) => string;
}

/**
 * A failure of an IAM or STS call, already mapped to Keyturn's codes. The
 * message is safe to show a person and to log: it never carries key material.
 */
export class IamError<C extends IamErrorCode = IamErrorCode> extends KeyturnError<C> {
  readonly awsCode?: string;
  /** The IAM action that failed, e.g. "iam:CreateAccessKey". */
  readonly action: string;
  readonly reason?: IamReason;

  constructor(code: C, params: ErrorParams<C>, info: IamErrorInfo = {}) {
    super(code, ...([params] as unknown as ErrorArgs<C>));
    this.name = 'IamError';
    this.action = (params as { action: string }).action;
    if (info.awsCode !== undefined) this.awsCode = info.awsCode;
    if (info.reason !== undefined) this.reason = info.reason;
    if (info.scrub) this.message = info.scrub(this.message);
  }

  /** A sub-code may be retryable where its public code is not (a busy entity). */
  override get retryable(): boolean {
    const reason = this.reason ? (IAM_REASONS[this.reason] as { retryable?: boolean }) : undefined;
    return reason?.retryable ?? super.retryable;
  }
}
