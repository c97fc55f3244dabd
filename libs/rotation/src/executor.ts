import type { EntityManager } from 'typeorm';
import { SecretType } from '@keyturn/contracts';
import { sameIamUser, type IamCredentials } from '@keyturn/iam';
import { SecretEntity, SecretVersionEntity } from '@keyturn/store';
import type { SecretsService } from '@keyturn/vault';
import { RotationError } from './rotation-error.js';

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
      throw new RotationError(
        'PRIVILEGED_ACCOUNT_REQUIRED',
        `a ${target.type} secret can only be changed through an associated ${SecretType.AwsIamKey} secret: ` +
          `PATCH /v1/secrets/${target.id} with {"privilegedSecretId": "<key secret id>"} (the user's own keys, or a user allowed iam:UpdateLoginProfile on it)`,
      );
    }
    return { mode: 'basic', secretId: null, creds: ownCreds };
  }
  const ex = await m.findOneBy(SecretEntity, { id: target.privilegedSecretId });
  if (!ex || ex.type !== SecretType.AwsIamKey) {
    throw new RotationError('PRIVILEGED_SECRET_NOT_FOUND', `the privileged account ${target.privilegedSecretId} of secret ${target.id} no longer exists; associate another one`);
  }
  const v = await m.findOneBy(SecretVersionEntity, { secretId: ex.id, state: 'current' });
  if (!v) throw new RotationError('PRIVILEGED_SECRET_HAS_NO_VALUE', `the privileged account ${ex.id} has no current key`);
  const f = secrets.open(v);
  const same = sameIamUser(ex.username, target.username) && ex.accountId === target.accountId;
  return {
    mode: same ? 'basic' : 'privileged',
    secretId: ex.id,
    creds: { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey },
  };
}
