import { ErrorCode, KeyturnError, inFolderScope, type Actor } from '@keyturn/contracts';
import type { SecretEntity, SecretsApiRepository } from '@keyturn/store';

/** The folder-scope policy: an API key limited to folders may only put secrets inside them. */
export function assertFolderInScope(actor: Actor, folder: string): void {
  if (!inFolderScope(actor, folder)) {
    throw new KeyturnError(ErrorCode.FOLDER_OUT_OF_SCOPE, { scopes: actor.folderScopes, folder });
  }
}

/** Loads a secret the actor may see; anything outside its scope is "not found", so existence does not leak. */
export async function loadVisibleSecret(secrets: SecretsApiRepository, actor: Actor, id: string): Promise<SecretEntity> {
  const s = await secrets.findById(id);
  if (!s || !inFolderScope(actor, s.folder)) {
    throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: id });
  }
  return s;
}
