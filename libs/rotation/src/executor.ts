import { ErrorCode, KeyturnError } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { sameIamUser, type IamCredentials } from '@keyturn/iam';
import type { SecretEntity } from '@keyturn/store';

export interface Executor {
  /** basic: the target user acts on itself; privileged: another user acts on it. */
  mode: 'basic' | 'privileged';
  /** The associated key secret, or null when a key secret executes itself. */
  secretId: string | null;
  creds: IamCredentials;
}

/** What resolving an executor reads: the associated secret and its current value. */
export interface ExecutorLookup {
  secret(id: string): Promise<SecretEntity | null>;
  currentFields(secretId: string): Promise<Record<string, string> | null>;
}

/**
 * Who makes the IAM calls (the type's executor rule is in its definition, libs/secret-types): the associated key secret ("privileged account")
 * when there is one, else the target key itself. The mode follows the IAM
 * user: basic when executor and target are the same user.
 */
export async function resolveExecutor(lookup: ExecutorLookup, target: SecretEntity, ownCreds: IamCredentials | null): Promise<Executor> {
  if (!target.privilegedSecretId) {
    if (!secretTypeDefinition(target.type).executor.selfExecuting || !ownCreds) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId: target.id, secretType: target.type });
    }
    return { mode: 'basic', secretId: null, creds: ownCreds };
  }
  const ex = await lookup.secret(target.privilegedSecretId);
  if (!ex || !secretTypeDefinition(ex.type).executor.canExecuteOthers) {
    throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND, { privilegedSecretId: target.privilegedSecretId });
  }
  const f = await lookup.currentFields(ex.id);
  if (!f) throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_HAS_NO_VALUE, { privilegedSecretId: ex.id });
  const same = sameIamUser(ex.username, target.username) && ex.accountId === target.accountId;
  return {
    mode: same ? 'basic' : 'privileged',
    secretId: ex.id,
    creds: { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey },
  };
}
