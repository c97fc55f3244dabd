import { Injectable } from '@nestjs/common';
import { effectiveSettings, ErrorCode, inFolderScope, KeyturnError, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { globalSettingsOf } from '@keyturn/vault';
import { toMetadata, type SecretMetadata } from './secret-view.js';

/** One secret's metadata, with its effective settings and current version number. */
@Injectable()
export class GetSecretUseCase {
  constructor(private readonly secrets: SecretsApiRepository) {}

  /** One round trip: the secret, its current version number and the global settings. */
  async execute(actor: Actor, id: string): Promise<SecretMetadata> {
    const found = await this.secrets.findView(id);
    // Outside the caller's scope is "not found", so existence does not leak (as loadVisibleSecret).
    if (!found || !inFolderScope(actor, found.secret.folder)) throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: id });
    return {
      ...toMetadata(found.secret),
      effectiveSettings: effectiveSettings(globalSettingsOf(found.globalSettings), found.secret.settings),
      currentVersion: found.currentVersion,
    };
  }
}
