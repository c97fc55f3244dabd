import { Logger, Module } from '@nestjs/common';
import { EnvelopeCipher } from '@keyturn/crypto';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { resolveKeyring } from './master-key.js';
import { ENVELOPE_CIPHER, VERSION_CIPHER, envelopeVersionCipher } from './version-cipher.js';
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
    { provide: VERSION_CIPHER, inject: [ENVELOPE_CIPHER], useFactory: (c: EnvelopeCipher) => envelopeVersionCipher(c) },
    SettingsService,
  ],
  exports: [ENVELOPE_CIPHER, VERSION_CIPHER, SettingsService],
})
export class VaultModule {}
