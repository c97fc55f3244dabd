import type { EntityManager } from 'typeorm';
import { ErrorCode, KeyturnError, SecretType } from '@keyturn/contracts';
import { sameIamUser, type IamCredentials } from '@keyturn/iam';
import { SecretEntity, SecretVersionEntity } from '@keyturn/store';
import type { SecretsService } from '@keyturn/vault';

export interface Executor {
  /** basic: the target user acts on itself; privileged: another user acts on it. */
  mode: 'basic' | 'privileged';
  /** The associated key secret, or null when a key secret executes itself. */
  secretId: string | null;
  creds: IamCredentials;
}

/**
 * Who makes the IAM calls: the associated key secret ("privileged account")
 * when there is one, else the target key itself. The mode follows the IAM
 * user: basic when executor and target are the same user.
 */
export async function resolveExecutor(
  m: EntityManager,
  secrets: SecretsService,
  target: SecretEntity,
  ownCreds: IamCredentials | null,
): Promise<Executor> {
  if (!target.privilegedSecretId) {
    if (target.type !== SecretType.AwsIamKey || !ownCreds) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId: target.id, secretType: target.type });
    }
    return { mode: 'basic', secretId: null, creds: ownCreds };
  }
  const ex = await m.findOneBy(SecretEntity, { id: target.privilegedSecretId });
  if (!ex || ex.type !== SecretType.AwsIamKey) {
    throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND, { privilegedSecretId: target.privilegedSecretId });
  }
  const v = await m.findOneBy(SecretVersionEntity, { secretId: ex.id, state: 'current' });
  if (!v) throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_HAS_NO_VALUE, { privilegedSecretId: ex.id });
  const f = secrets.open(v);
  const same = sameIamUser(ex.username, target.username) && ex.accountId === target.accountId;
  return {
    mode: same ? 'basic' : 'privileged',
    secretId: ex.id,
    creds: { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey },
  };
}
