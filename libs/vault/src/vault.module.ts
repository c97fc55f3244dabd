import { Logger, Module } from '@nestjs/common';
import { EnvelopeCipher } from '@keyturn/crypto';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { resolveKeyring } from './master-key.js';
import { ENVELOPE_CIPHER, SecretsService } from './secrets.service.js';
import { SettingsService } from './settings.service.js';

/** The vault: secrets encrypted at rest, their versions and the global settings. Needs StoreModule. */
@Module({
  providers: [
    {
      provide: ENVELOPE_CIPHER,
      inject: [KEYTURN_CONFIG],
      useFactory: (config: KeyturnConfig) =>
        new EnvelopeCipher(resolveKeyring(config, (m) => new Logger('Vault').warn(m))),
    },
    SecretsService,
    SettingsService,
  ],
  exports: [ENVELOPE_CIPHER, SecretsService, SettingsService],
})
export class VaultModule {}
