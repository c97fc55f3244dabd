import { Injectable } from '@nestjs/common';
import { effectiveSettings, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { SettingsService } from '@keyturn/vault';
import { loadVisibleSecret } from './folder-scope.js';
import { toMetadata, type SecretMetadata } from './secret-view.js';

/** One secret's metadata, with its effective settings and current version number. */
@Injectable()
export class GetSecretUseCase {
  constructor(
    private readonly secrets: SecretsApiRepository,
    private readonly settings: SettingsService,
  ) {}

  async execute(actor: Actor, id: string): Promise<SecretMetadata> {
    const s = await loadVisibleSecret(this.secrets, actor, id);
    const currentVersion = await this.secrets.currentVersionNumber(id);
    return {
      ...toMetadata(s),
      effectiveSettings: effectiveSettings(await this.settings.getGlobal(), s.settings),
      currentVersion,
    };
  }
}
