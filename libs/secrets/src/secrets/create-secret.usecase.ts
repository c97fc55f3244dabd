import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, KeyturnError, inFolderScope, type Actor, type SecretSettings, type SecretType } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { SecretsApiRepository, uuidv7 } from '@keyturn/store';
import { SettingsService, VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import { assertSecretSchedule } from './secret-settings.js';
import { assertAssociation } from './association.js';
import { assertFolderInScope } from './folder-scope.js';
import { secretFieldsOf } from './secret-fields.js';
import { GetSecretUseCase } from './get-secret.usecase.js';
import { HeartbeatSchedule } from './heartbeat-schedule.js';
import type { SecretMetadata } from './secret-view.js';

/** A new secret: its metadata, and its type's fields (see libs/secret-types), encrypted as version 1. */
export interface CreateSecretInput {
  type: SecretType;
  name: string;
  folder?: string;
  username: string;
  accountId: string;
  privilegedSecretId?: string | null;
  settings?: SecretSettings;
  /** The type's secret fields by name (accessKeyId, password, …). */
  [field: string]: unknown;
}

@Injectable()
export class CreateSecretUseCase {
  constructor(
    private readonly secrets: SecretsApiRepository,
    @Inject(VERSION_CIPHER) private readonly vault: VersionCipher,
    private readonly getSecret: GetSecretUseCase,
    private readonly settings: SettingsService,
    private readonly schedule: HeartbeatSchedule,
  ) {}

  async execute(actor: Actor, input: CreateSecretInput): Promise<SecretMetadata> {
    const folder = input.folder ?? '/';
    assertFolderInScope(actor, folder);
    const fields = secretFieldsOf(input.type, input);
    const schedule = assertSecretSchedule(await this.settings.getGlobal(), {}, input.settings ?? {});
    const def = secretTypeDefinition(input.type);
    const id = uuidv7();
    // Spread over one interval (HeartbeatSchedule): secrets created together must not all come due together.
    const nextHeartbeatAt = def.canHeartbeat ? await this.schedule.first(input.settings ?? {}) : null;
    if (input.privilegedSecretId) {
      await assertAssociation(this.secrets, actor, id, input.accountId, input.privilegedSecretId);
    }
    try {
      await this.secrets.transaction(async (tx) => {
        if (await tx.nameTaken(folder, input.name)) throw new KeyturnError(ErrorCode.SECRET_NAME_TAKEN, { name: input.name, folder });
        if (fields.accessKeyId) await this.assertKeyNotStored(actor, tx, fields.accessKeyId);
        await tx.insert(
          {
            id,
            type: input.type,
            name: input.name,
            folder,
            username: input.username,
            accountId: input.accountId,
            privilegedSecretId: input.privilegedSecretId ?? null,
            settings: input.settings ?? {},
            // A type that can heartbeat is checked within its first interval; the others never are.
            heartbeatStatus: def.canHeartbeat ? 'unknown' : 'not-supported',
            nextHeartbeatAt,
            versionCounter: 1,
            ...schedule,
          },
          this.vault.seal(id, 1, 'current', fields),
        );
      });
    } catch (e) {
      // Another request stored the same key between our check and our insert: the unique index settled it.
      if (fields.accessKeyId && isUniqueViolation(e, 'secret_versions_key_id_hmac_live')) {
        await this.assertKeyNotStored(actor, this.secrets, fields.accessKeyId);
        throw keyAlreadyStored(null);
      }
      throw e;
    }
    return this.getSecret.execute(actor, id);
  }

  /**
   * An access key lives in one secret only: two secrets holding one key would
   * each believe they own it, and a rotation of one kills the other's value.
   * A holder outside the caller's folder scopes is not named (404 rules).
   */
  private async assertKeyNotStored(actor: Actor, secrets: SecretsApiRepository, accessKeyId: string): Promise<void> {
    const holder = await secrets.liveHolderOf(this.vault.accessKeyIdIndexes(accessKeyId));
    if (!holder) return;
    throw keyAlreadyStored(inFolderScope(actor, holder.folder) ? holder.secretId : null);
  }
}

function keyAlreadyStored(holderSecretId: string | null): KeyturnError {
  return new KeyturnError(ErrorCode.ACCESS_KEY_ALREADY_STORED, { holderSecretId });
}

/** A unique-index violation (SQLSTATE 23505) of `constraint`: a race the index settled. */
export function isUniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  return (err.code ?? err.driverError?.code) === '23505' && (err.constraint ?? err.driverError?.constraint) === constraint;
}
