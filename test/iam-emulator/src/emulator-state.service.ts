import { randomInt } from 'node:crypto';
import type { PasswordPolicy } from './password-policy.service.js';

export type KeyStatus = 'Active' | 'Inactive';

export interface AccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  status: KeyStatus;
  createDate: Date;
  /** Epoch ms before which the key answers InvalidClientTokenId (simulated propagation). */
  usableAfter: number;
  /** undefined for the account root's keys. */
  userName: string | undefined;
  lastUsed?: { date: Date; serviceName: string; region: string };
}

interface LoginProfileRecord {
  password: string;
  createDate: Date;
  passwordResetRequired: boolean;
  history: string[];
}

export interface UserRecord {
  userName: string;
  userId: string;
  path: string;
  arn: string;
  createDate: Date;
  keys: AccessKeyRecord[];
  loginProfile?: LoginProfileRecord;
  policies: Map<string, string>;
  passwordLastUsed?: Date;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

const newUserId = (): string => `AIDA${randomString(BASE32, 16)}`;
export const newAccessKeyId = (): string => `AKIA${randomString(BASE32, 16)}`;
export const newSecretAccessKey = (): string => randomString(SECRET_CHARS, 40);

/** All of the account's IAM state. User names are unique regardless of case, as in IAM. */
export class EmulatorState {
  readonly users = new Map<string, UserRecord>();
  readonly keysById = new Map<string, AccessKeyRecord>();
  readonly rootKeys: AccessKeyRecord[] = [];
  passwordPolicy: PasswordPolicy | undefined;
  readonly rootArn: string;
  readonly rootCreateDate = new Date();

  constructor(
    readonly accountId: string,
    rootAccessKeyId: string,
    rootSecretAccessKey: string,
  ) {
    this.rootArn = `arn:aws:iam::${accountId}:root`;
    this.addKey({
      accessKeyId: rootAccessKeyId,
      secretAccessKey: rootSecretAccessKey,
      status: 'Active',
      createDate: new Date(),
      usableAfter: 0,
      userName: undefined,
    });
  }

  userArn(userName: string, path = '/'): string {
    return `arn:aws:iam::${this.accountId}:user${path}${userName}`;
  }

  findUser(userName: string): UserRecord | undefined {
    return this.users.get(userName.toLowerCase());
  }

  createUser(userName: string, path = '/'): UserRecord {
    const user: UserRecord = {
      userName,
      userId: newUserId(),
      path,
      arn: this.userArn(userName, path),
      createDate: new Date(),
      keys: [],
      policies: new Map(),
    };
    this.users.set(userName.toLowerCase(), user);
    return user;
  }

  deleteUser(user: UserRecord): void {
    this.users.delete(user.userName.toLowerCase());
  }

  addKey(key: AccessKeyRecord): void {
    this.keysById.set(key.accessKeyId, key);
    if (key.userName === undefined) this.rootKeys.push(key);
    else this.findUser(key.userName)?.keys.push(key);
  }

  removeKey(key: AccessKeyRecord): void {
    this.keysById.delete(key.accessKeyId);
    const list = key.userName === undefined ? this.rootKeys : this.findUser(key.userName)?.keys;
    if (!list) return;
    const at = list.indexOf(key);
    if (at >= 0) list.splice(at, 1);
  }

  keysOf(userName: string | undefined): AccessKeyRecord[] {
    return userName === undefined ? this.rootKeys : (this.findUser(userName)?.keys ?? []);
  }
}
