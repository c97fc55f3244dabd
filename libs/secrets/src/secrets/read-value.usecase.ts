import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { loadVisibleSecret } from './folder-scope.js';
import type { SecretValue } from './secret-view.js';

/** The decrypted fields of a secret's current version (the controller audits the read). */
@Injectable()
export class ReadValueUseCase {
  constructor(
    private readonly secrets: SecretsApiRepository,
    @Inject(VERSION_CIPHER) private readonly vault: VersionCipher,
  ) {}

  async execute(actor: Actor, id: string): Promise<SecretValue> {
    const s = await loadVisibleSecret(this.secrets, actor, id);
    const v = await this.secrets.currentVersion(id);
    if (!v) throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: id });
    return { id: s.id, type: s.type, username: s.username, accountId: s.accountId, version: v.version, fields: this.vault.open(v) };
  }
}
