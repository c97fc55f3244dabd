import { ErrorCode, KeyturnError, inFolderScope, type Actor } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import type { SecretsApiRepository } from '@keyturn/store';

/** Associations are short in practice; the walk is bounded in case of existing bad data. */
const MAX_HOPS = 100;

/**
 * A privileged account must be a secret whose type may execute others (its
 * definition's executor rule), of the same AWS account, visible to the actor;
 * and following the chain of associations must never come back to `selfId`.
 */
export async function assertAssociation(
  secrets: SecretsApiRepository,
  actor: Actor,
  selfId: string,
  accountId: string,
  privilegedId: string,
): Promise<void> {
  if (privilegedId === selfId) {
    throw new KeyturnError(ErrorCode.ASSOCIATION_CYCLE, { kind: 'self' });
  }
  const p = await secrets.findById(privilegedId);
  if (!p || !inFolderScope(actor, p.folder)) {
    throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_NOT_FOUND, { privilegedSecretId: privilegedId });
  }
  if (!secretTypeDefinition(p.type).executor.canExecuteOthers) {
    throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_WRONG_TYPE, { privilegedSecretId: privilegedId, secretType: p.type });
  }
  if (p.accountId !== accountId) {
    throw new KeyturnError(ErrorCode.PRIVILEGED_SECRET_OTHER_ACCOUNT, { privilegedSecretId: privilegedId, itsAccountId: p.accountId, accountId });
  }
  let next: string | null = p.privilegedSecretId;
  for (let hops = 0; next && hops < MAX_HOPS; hops++) {
    if (next === selfId) {
      throw new KeyturnError(ErrorCode.ASSOCIATION_CYCLE, { kind: 'cycle', privilegedSecretId: privilegedId, secretId: selfId });
    }
    next = await secrets.privilegedSecretIdOf(next);
  }
}
