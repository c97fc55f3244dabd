import { AwsError, noSuchUser, validationError } from './aws-error.model.js';
import {
  type AccessKeyRecord,
  type EmulatorState,
  type UserRecord,
  newAccessKeyId,
  newSecretAccessKey,
} from './emulator-state.service.js';
import { type NamedPolicy, evaluate, parsePolicy } from './policy-evaluator.service.js';
import { type PasswordPolicy, checkPassword, checkPasswordShape, checkReuse } from './password-policy.service.js';
import { XmlEntries, type XmlRecord } from './xml-writer.service.js';

export type Caller =
  | { kind: 'root'; arn: string; accessKey: AccessKeyRecord }
  | { kind: 'user'; arn: string; user: UserRecord; accessKey: AccessKeyRecord };

/** Form parameters of a Query API request, with AWS-style validation errors. */
export class QueryParams {
  constructor(private readonly params: URLSearchParams) {}

  get(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  required(name: string): string {
    const value = this.get(name);
    if (value === undefined) {
      throw validationError(`Value null at '${name[0]!.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
    }
    return value;
  }

  bool(name: string): boolean | undefined {
    const value = this.get(name);
    return value === undefined ? undefined : value.toLowerCase() === 'true';
  }

  int(name: string): number | undefined {
    const value = this.get(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n)) throw validationError(`Value '${value}' at '${name}' failed to satisfy constraint: Member must be an integer`);
    return n;
  }

  /** A `Name.member.N` list, in N order. */
  list(name: string): string[] {
    const out: string[] = [];
    for (let i = 1; ; i++) {
      const value = this.get(`${name}.member.${i}`);
      if (value === undefined) return out;
      out.push(value);
    }
  }
}

export interface ActionContext {
  state: EmulatorState;
  caller: Caller;
  params: QueryParams;
  propagationDelayMs: number;
  now: Date;
}

export interface ActionDefinition {
  service: 'iam' | 'sts';
  /** The resource to authorize against, or null when the action needs no permission. */
  resource(ctx: ActionContext): string | null;
  handle(ctx: ActionContext): XmlRecord | undefined;
}

const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
const ACCESS_KEY_ID_PATTERN = /^[\w]{16,128}$/;

function checkUserName(value: string, field = 'userName'): string {
  if (!USER_NAME_PATTERN.test(value)) {
    throw validationError(`Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`);
  }
  return value;
}

/** IAM's page size when a list call sends no MaxItems, and the most it accepts. */
const DEFAULT_MAX_ITEMS = 100;
const MAX_MAX_ITEMS = 1000;

/**
 * One page of a list, as IAM pages them: at most MaxItems items from where the
 * Marker says; a cut-off page answers IsTruncated=true and the Marker for the
 * rest. The Marker is opaque to clients (here, the offset in base64url).
 */
function page<T>(ctx: ActionContext, items: T[]): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const maxItems = ctx.params.int('MaxItems') ?? DEFAULT_MAX_ITEMS;
  if (maxItems < 1 || maxItems > MAX_MAX_ITEMS) {
    throw validationError(`Value '${maxItems}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and ${MAX_MAX_ITEMS}`);
  }
  const marker = ctx.params.get('Marker');
  let start = 0;
  if (marker !== undefined) {
    const offset = Number(Buffer.from(marker, 'base64url').toString('utf8'));
    // Re-encoding must give the marker back, so only markers this emulator issued pass.
    if (!Number.isInteger(offset) || offset < 1 || Buffer.from(String(offset)).toString('base64url') !== marker) {
      throw validationError(`Value '${marker}' at 'marker' failed to satisfy constraint: Member must be a marker returned by an earlier call`);
    }
    start = offset;
  }
  const end = start + maxItems;
  return end < items.length
    ? { items: items.slice(start, end), IsTruncated: true, Marker: Buffer.from(String(end)).toString('base64url') }
    : { items: items.slice(start), IsTruncated: false };
}

/** The user an action targets: the UserName parameter, or the caller itself. */
function targetArn(ctx: ActionContext): string {
  const name = ctx.params.get('UserName');
  if (name === undefined) return ctx.caller.arn;
  return ctx.state.findUser(name)?.arn ?? ctx.state.userArn(name);
}

function requireUser(ctx: ActionContext, name: string): UserRecord {
  const user = ctx.state.findUser(checkUserName(name));
  if (!user) throw noSuchUser(name);
  return user;
}

/** The user an access-key action applies to; undefined means the account root's own keys. */
function keyOwner(ctx: ActionContext): UserRecord | undefined {
  const name = ctx.params.get('UserName');
  if (name !== undefined) return requireUser(ctx, name);
  return ctx.caller.kind === 'user' ? ctx.caller.user : undefined;
}

/** Login-profile actions need an IAM user: the named one or the calling one. */
function loginProfileUser(ctx: ActionContext, nameRequired: boolean): UserRecord {
  const name = nameRequired ? ctx.params.required('UserName') : ctx.params.get('UserName');
  if (name !== undefined) return requireUser(ctx, name);
  if (ctx.caller.kind === 'user') return ctx.caller.user;
  throw validationError(`Value null at 'userName' failed to satisfy constraint: Member must not be null`);
}

const noLoginProfile = (userName: string): AwsError =>
  new AwsError('NoSuchEntity', `Login Profile for User ${userName} cannot be found.`, 404);

const noPasswordPolicy = (accountId: string): AwsError =>
  new AwsError('NoSuchEntity', `The Password Policy with domain name ${accountId} cannot be found.`, 404);

function checkAccessKeyId(accessKeyId: string): string {
  if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    throw validationError(`Value at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+`);
  }
  return accessKeyId;
}

/**
 * ListUsers' PathPrefix, "/" when absent. IAM's pattern is `\u002F[\u0021-\u007F]*` (a slash,
 * then printable ASCII or DEL), 1–512 characters; anything else is a ValidationError.
 */
function pathPrefix(ctx: ActionContext): string {
  const prefix = ctx.params.get('PathPrefix');
  if (prefix === undefined) return '/';
  if (prefix.length > 512) {
    throw validationError(`Value '${prefix}' at 'pathPrefix' failed to satisfy constraint: Member must have length less than or equal to 512`);
  }
  if (!/^\/[\u0021-\u007F]*$/.test(prefix)) {
    throw validationError(`Value '${prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*`);
  }
  return prefix;
}

/** A stable order for ListUsers: by name regardless of case (names are unique that way), independent of locale. */
function byUserName(a: UserRecord, b: UserRecord): number {
  const x = a.userName.toLowerCase();
  const y = b.userName.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function findKey(ctx: ActionContext, owner: UserRecord | undefined, accessKeyId: string): AccessKeyRecord {
  checkAccessKeyId(accessKeyId);
  const key = ctx.state.keysOf(owner?.userName).find((k) => k.accessKeyId === accessKeyId);
  if (!key) throw new AwsError('NoSuchEntity', `The Access Key with id ${accessKeyId} cannot be found.`, 404);
  return key;
}

function userXml(user: UserRecord): XmlRecord {
  return {
    Path: user.path,
    UserName: user.userName,
    UserId: user.userId,
    Arn: user.arn,
    CreateDate: user.createDate,
    PasswordLastUsed: user.passwordLastUsed,
  };
}

function keyMetadata(key: AccessKeyRecord): XmlRecord {
  return { UserName: key.userName, AccessKeyId: key.accessKeyId, Status: key.status, CreateDate: key.createDate };
}

function loginProfileXml(user: UserRecord): XmlRecord {
  const profile = user.loginProfile!;
  return { UserName: user.userName, CreateDate: profile.createDate, PasswordResetRequired: profile.passwordResetRequired };
}

function passwordPolicyXml(policy: PasswordPolicy): XmlRecord {
  return {
    MinimumPasswordLength: policy.minimumPasswordLength,
    RequireSymbols: policy.requireSymbols,
    RequireNumbers: policy.requireNumbers,
    RequireUppercaseCharacters: policy.requireUppercaseCharacters,
    RequireLowercaseCharacters: policy.requireLowercaseCharacters,
    AllowUsersToChangePassword: policy.allowUsersToChangePassword,
    ExpirePasswords: (policy.maxPasswordAge ?? 0) > 0,
    MaxPasswordAge: policy.maxPasswordAge,
    PasswordReusePrevention: policy.passwordReusePrevention,
    HardExpiry: policy.hardExpiry,
  };
}

function inRange(value: number | undefined, min: number, max: number, field: string): number | undefined {
  if (value !== undefined && (value < min || value > max)) {
    throw validationError(
      `Value '${value}' at '${field}' failed to satisfy constraint: Member must have value ${value < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`}`,
    );
  }
  return value;
}

/** Total inline policy size per user, counted without whitespace as IAM does. */
const INLINE_POLICY_QUOTA = 2048;

const account = (): string => '*';

export const IAM_ACTIONS: Record<string, ActionDefinition> = {
  CreateUser: {
    service: 'iam',
    resource: (ctx) => {
      const path = ctx.params.get('Path') ?? '/';
      return ctx.state.userArn(ctx.params.required('UserName'), path);
    },
    handle: (ctx) => {
      const name = checkUserName(ctx.params.required('UserName'));
      const path = ctx.params.get('Path') ?? '/';
      if (!/^(?:\/|\/[\u0021-\u007E]+\/)$/.test(path)) {
        throw validationError(`Value '${path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)`);
      }
      if (ctx.state.findUser(name)) throw new AwsError('EntityAlreadyExists', `User with name ${name} already exists.`, 409);
      return { User: userXml(ctx.state.createUser(name, path)) };
    },
  },
  GetUser: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const name = ctx.params.get('UserName');
      if (name !== undefined) return { User: userXml(requireUser(ctx, name)) };
      if (ctx.caller.kind === 'user') return { User: userXml(ctx.caller.user) };
      return { User: { UserId: ctx.state.accountId, Arn: ctx.state.rootArn, CreateDate: ctx.state.rootCreateDate } };
    },
  },
  ListUsers: {
    service: 'iam',
    // IAM checks ListUsers against the path prefix's ARN: "arn:aws:iam::<account>:user/" without one
    // (its AccessDenied says "on resource: arn:aws:iam::123456789012:user/"), "…:user/eng/" with "/eng/".
    resource: (ctx) => `arn:aws:iam::${ctx.state.accountId}:user${pathPrefix(ctx)}`,
    handle: (ctx) => {
      const prefix = pathPrefix(ctx);
      const users = [...ctx.state.users.values()].filter((u) => u.path.startsWith(prefix)).sort(byUserName);
      const { items, ...paging } = page(ctx, users);
      return { Users: items.map(userXml), ...paging };
    },
  },
  DeleteUser: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = requireUser(ctx, ctx.params.required('UserName'));
      if (user.loginProfile) throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete login profile first.', 409);
      if (user.keys.length > 0) throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete access keys first.', 409);
      if (user.policies.size > 0) throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409);
      ctx.state.deleteUser(user);
      return undefined;
    },
  },
  CreateAccessKey: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const owner = keyOwner(ctx);
      if (ctx.state.keysOf(owner?.userName).length >= 2) {
        throw new AwsError('LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2', 409);
      }
      const key: AccessKeyRecord = {
        accessKeyId: newAccessKeyId(),
        secretAccessKey: newSecretAccessKey(),
        status: 'Active',
        createDate: ctx.now,
        usableAfter: ctx.now.getTime() + ctx.propagationDelayMs,
        userName: owner?.userName,
      };
      ctx.state.addKey(key);
      return {
        AccessKey: {
          UserName: key.userName,
          AccessKeyId: key.accessKeyId,
          Status: key.status,
          SecretAccessKey: key.secretAccessKey,
          CreateDate: key.createDate,
        },
      };
    },
  },
  ListAccessKeys: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const owner = keyOwner(ctx);
      const { items, ...paging } = page(ctx, ctx.state.keysOf(owner?.userName));
      return { AccessKeyMetadata: items.map(keyMetadata), ...paging };
    },
  },
  UpdateAccessKey: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const accessKeyId = ctx.params.required('AccessKeyId');
      const status = ctx.params.required('Status');
      if (status !== 'Active' && status !== 'Inactive') {
        throw validationError(`Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`);
      }
      findKey(ctx, keyOwner(ctx), accessKeyId).status = status;
      return undefined;
    },
  },
  DeleteAccessKey: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const key = findKey(ctx, keyOwner(ctx), ctx.params.required('AccessKeyId'));
      ctx.state.removeKey(key);
      return undefined;
    },
  },
  GetAccessKeyLastUsed: {
    service: 'iam',
    // The key's owner is the resource (iam:GetAccessKeyLastUsed's resource type is "user").
    // A key IAM cannot find (unknown, deleted, of another account) has no owner to check:
    // AWS answers AccessDenied naming the key, never NoSuchEntity (removed from the API in 2019
    // as "indicated but never thrown").
    resource: (ctx) => {
      const accessKeyId = checkAccessKeyId(ctx.params.required('AccessKeyId'));
      const key = ctx.state.keysById.get(accessKeyId);
      if (!key) return `access key ${accessKeyId}`;
      return key.userName === undefined ? ctx.state.rootArn : (ctx.state.findUser(key.userName)?.arn ?? `access key ${accessKeyId}`);
    },
    handle: (ctx) => {
      const accessKeyId = ctx.params.required('AccessKeyId');
      const key = ctx.state.keysById.get(accessKeyId);
      if (!key) {
        throw new AwsError('AccessDenied', `User: ${ctx.caller.arn} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key ${accessKeyId}`, 403);
      }
      return {
        UserName: key.userName ?? 'root',
        AccessKeyLastUsed: key.lastUsed
          ? { LastUsedDate: key.lastUsed.date, ServiceName: key.lastUsed.serviceName, Region: key.lastUsed.region }
          : { ServiceName: 'N/A', Region: 'N/A' },
      };
    },
  },
  CreateLoginProfile: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = loginProfileUser(ctx, true);
      const password = ctx.params.required('Password');
      checkPasswordShape(password, 'password');
      if (user.loginProfile) throw new AwsError('EntityAlreadyExists', `Login Profile for user ${user.userName} already exists.`, 409);
      checkPassword(password, ctx.state.passwordPolicy);
      user.loginProfile = {
        password,
        createDate: ctx.now,
        passwordResetRequired: ctx.params.bool('PasswordResetRequired') ?? false,
        history: [password],
      };
      return { LoginProfile: loginProfileXml(user) };
    },
  },
  GetLoginProfile: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = loginProfileUser(ctx, false);
      if (!user.loginProfile) throw noLoginProfile(user.userName);
      return { LoginProfile: loginProfileXml(user) };
    },
  },
  UpdateLoginProfile: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = loginProfileUser(ctx, true);
      const password = ctx.params.get('Password');
      if (password !== undefined) checkPasswordShape(password, 'password');
      if (!user.loginProfile) throw noLoginProfile(user.userName);
      if (password !== undefined) {
        checkPassword(password, ctx.state.passwordPolicy);
        checkReuse(password, user.loginProfile.history, ctx.state.passwordPolicy);
        user.loginProfile.password = password;
        user.loginProfile.history.push(password);
      }
      const reset = ctx.params.bool('PasswordResetRequired');
      if (reset !== undefined) user.loginProfile.passwordResetRequired = reset;
      return undefined;
    },
  },
  DeleteLoginProfile: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = loginProfileUser(ctx, true);
      if (!user.loginProfile) throw noLoginProfile(user.userName);
      delete user.loginProfile;
      return undefined;
    },
  },
  ChangePassword: {
    service: 'iam',
    resource: (ctx) => ctx.caller.arn,
    handle: (ctx) => {
      const oldPassword = ctx.params.required('OldPassword');
      const newPassword = ctx.params.required('NewPassword');
      checkPasswordShape(oldPassword, 'oldPassword');
      checkPasswordShape(newPassword, 'newPassword');
      if (ctx.caller.kind !== 'user') {
        throw new AwsError('InvalidUserType', 'The request was rejected because the type of user for the transaction was incorrect.', 400);
      }
      const user = ctx.caller.user;
      const profile = user.loginProfile;
      if (!profile) throw noLoginProfile(user.userName);
      if (profile.password !== oldPassword) {
        throw new AwsError('InvalidUserType', 'The old password was incorrect.', 400);
      }
      checkPassword(newPassword, ctx.state.passwordPolicy);
      checkReuse(newPassword, profile.history, ctx.state.passwordPolicy);
      profile.password = newPassword;
      profile.history.push(newPassword);
      profile.passwordResetRequired = false;
      return undefined;
    },
  },
  GetAccountPasswordPolicy: {
    service: 'iam',
    resource: account,
    handle: (ctx) => {
      if (!ctx.state.passwordPolicy) throw noPasswordPolicy(ctx.state.accountId);
      return { PasswordPolicy: passwordPolicyXml(ctx.state.passwordPolicy) };
    },
  },
  UpdateAccountPasswordPolicy: {
    service: 'iam',
    resource: account,
    handle: (ctx) => {
      const p = ctx.params;
      const maxPasswordAge = inRange(p.int('MaxPasswordAge'), 1, 1095, 'maxPasswordAge');
      const passwordReusePrevention = inRange(p.int('PasswordReusePrevention'), 1, 24, 'passwordReusePrevention');
      // Omitted parameters take IAM's documented defaults, not the previous values.
      ctx.state.passwordPolicy = {
        minimumPasswordLength: inRange(p.int('MinimumPasswordLength'), 6, 128, 'minimumPasswordLength') ?? 6,
        requireSymbols: p.bool('RequireSymbols') ?? false,
        requireNumbers: p.bool('RequireNumbers') ?? false,
        requireUppercaseCharacters: p.bool('RequireUppercaseCharacters') ?? false,
        requireLowercaseCharacters: p.bool('RequireLowercaseCharacters') ?? false,
        allowUsersToChangePassword: p.bool('AllowUsersToChangePassword') ?? false,
        hardExpiry: p.bool('HardExpiry') ?? false,
        ...(maxPasswordAge !== undefined ? { maxPasswordAge } : {}),
        ...(passwordReusePrevention !== undefined ? { passwordReusePrevention } : {}),
      };
      return undefined;
    },
  },
  DeleteAccountPasswordPolicy: {
    service: 'iam',
    resource: account,
    handle: (ctx) => {
      if (!ctx.state.passwordPolicy) throw noPasswordPolicy(ctx.state.accountId);
      ctx.state.passwordPolicy = undefined;
      return undefined;
    },
  },
  PutUserPolicy: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = requireUser(ctx, ctx.params.required('UserName'));
      const name = ctx.params.required('PolicyName');
      const document = ctx.params.required('PolicyDocument');
      if (!/^[\w+=,.@-]{1,128}$/.test(name)) {
        throw validationError(`Value '${name}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`);
      }
      parsePolicy(document);
      const others = [...user.policies].filter(([n]) => n !== name).map(([, d]) => d);
      const size = [...others, document].reduce((sum, d) => sum + d.replace(/\s/g, '').length, 0);
      if (size > INLINE_POLICY_QUOTA) {
        throw new AwsError('LimitExceeded', `Maximum policy size of ${INLINE_POLICY_QUOTA} bytes exceeded for user ${user.userName}`, 409);
      }
      user.policies.set(name, document);
      return undefined;
    },
  },
  GetUserPolicy: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = requireUser(ctx, ctx.params.required('UserName'));
      const name = ctx.params.required('PolicyName');
      const document = user.policies.get(name);
      if (document === undefined) throw new AwsError('NoSuchEntity', `The user policy with name ${name} cannot be found.`, 404);
      // IAM returns policy documents URL-encoded (RFC 3986).
      return { UserName: user.userName, PolicyName: name, PolicyDocument: encodeURIComponent(document) };
    },
  },
  ListUserPolicies: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = requireUser(ctx, ctx.params.required('UserName'));
      const { items, ...paging } = page(ctx, [...user.policies.keys()].sort());
      return { PolicyNames: items, ...paging };
    },
  },
  DeleteUserPolicy: {
    service: 'iam',
    resource: targetArn,
    handle: (ctx) => {
      const user = requireUser(ctx, ctx.params.required('UserName'));
      const name = ctx.params.required('PolicyName');
      if (!user.policies.delete(name)) throw new AwsError('NoSuchEntity', `The user policy with name ${name} cannot be found.`, 404);
      return undefined;
    },
  },
  GetAccountSummary: {
    service: 'iam',
    resource: account,
    handle: (ctx) => {
      const users = [...ctx.state.users.values()];
      return {
        SummaryMap: new XmlEntries([
          ['Users', users.length],
          ['UsersQuota', 5000],
          ['Groups', 0],
          ['GroupsQuota', 300],
          ['Roles', 0],
          ['RolesQuota', 1000],
          ['Policies', 0],
          ['PoliciesQuota', 1500],
          ['AccessKeysPerUserQuota', 2],
          ['AccountAccessKeysPresent', ctx.state.rootKeys.length > 0 ? 1 : 0],
          ['AccountMFAEnabled', 0],
          ['MFADevices', 0],
          ['MFADevicesInUse', 0],
          ['UserPolicySizeQuota', INLINE_POLICY_QUOTA],
          ['PolicySizeQuota', 6144],
          ['PolicyVersionsInUse', 0],
          ['PolicyVersionsInUseQuota', 10000],
          ['AttachedPoliciesPerUserQuota', 20],
          ['ServerCertificates', 0],
          ['ServerCertificatesQuota', 20],
          ['SigningCertificatesPerUserQuota', 2],
          ['GlobalEndpointTokenVersion', 1],
        ]),
      };
    },
  },
  SimulatePrincipalPolicy: {
    service: 'iam',
    resource: (ctx) => ctx.params.required('PolicySourceArn'),
    handle: (ctx) => {
      const sourceArn = ctx.params.required('PolicySourceArn');
      const match = new RegExp(`^arn:aws:iam::${ctx.state.accountId}:user(/(?:[\\u0021-\\u007E]+/)?)([\\w+=,.@-]+)$`).exec(sourceArn);
      if (!match) throw new AwsError('InvalidInput', `Invalid ARN: ${sourceArn}. Only IAM users are supported as policy source.`, 400);
      const user = ctx.state.findUser(match[2]!);
      if (!user) throw new AwsError('NoSuchEntity', `The user with name ${match[2]} cannot be found.`, 404);
      const actions = ctx.params.list('ActionNames');
      if (actions.length === 0) throw validationError(`Value null at 'actionNames' failed to satisfy constraint: Member must not be null`);
      const resources = ctx.params.list('ResourceArns');
      // The simulator resolves policy variables only from the ContextEntries it is given.
      const context = new Map<string, string>();
      for (let i = 1; ; i++) {
        const key = ctx.params.get(`ContextEntries.member.${i}.ContextKeyName`);
        if (key === undefined) break;
        const value = ctx.params.get(`ContextEntries.member.${i}.ContextKeyValues.member.1`);
        if (value !== undefined) context.set(key.toLowerCase(), value);
      }
      const policies: NamedPolicy[] = [...user.policies].map(([name, document]) => ({ name, document }));
      const results: XmlRecord[] = [];
      for (const action of actions) {
        for (const resource of resources.length > 0 ? resources : ['*']) {
          const evaluation = evaluate(policies, action, resource, context);
          results.push({
            EvalActionName: action,
            EvalResourceName: resource,
            EvalDecision: evaluation.decision,
            MatchedStatements: evaluation.matched.map((m) => ({ SourcePolicyId: m.policyName, SourcePolicyType: 'user' })),
            MissingContextValues: evaluation.missingContextValues,
          });
        }
      }
      const { items, ...paging } = page(ctx, results);
      return { EvaluationResults: items, ...paging };
    },
  },
};

export const STS_ACTIONS: Record<string, ActionDefinition> = {
  GetCallerIdentity: {
    service: 'sts',
    resource: () => null,
    handle: (ctx) => ({
      UserId: ctx.caller.kind === 'user' ? ctx.caller.user.userId : ctx.state.accountId,
      Account: ctx.state.accountId,
      Arn: ctx.caller.arn,
    }),
  },
};
