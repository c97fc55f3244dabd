import { Injectable } from '@nestjs/common';
import { ErrorCode, KeyturnError, type Actor } from '@keyturn/contracts';
import { SecretsApiRepository, type SecretEntity } from '@keyturn/store';
import { SettingsService } from '@keyturn/vault';
import { assertSecretSchedule, mergeSettings, type SettingsPatch } from './secret-settings.js';
import { assertAssociation } from './association.js';
import { assertFolderInScope, loadVisibleSecret } from './folder-scope.js';
import { GetSecretUseCase } from './get-secret.usecase.js';
import type { SecretMetadata } from './secret-view.js';
import { HeartbeatSchedule } from './heartbeat-schedule.js';

export interface UpdateSecretInput {
  name?: string;
  folder?: string;
  privilegedSecretId?: string | null;
  /** Merged into the current settings; a field set to null removes the override. */
  settings?: SettingsPatch;
}

/** Rename, move, (re)associate, or change a secret's own settings. Its value changes only by a rotation. */
@Injectable()
export class UpdateSecretUseCase {
  constructor(
    private readonly secrets: SecretsApiRepository,
    private readonly getSecret: GetSecretUseCase,
    private readonly settings: SettingsService,
    private readonly schedule: HeartbeatSchedule,
  ) {}

  async execute(actor: Actor, id: string, patch: UpdateSecretInput): Promise<SecretMetadata> {
    const s = await loadVisibleSecret(this.secrets, actor, id);
    const folder = patch.folder ?? s.folder;
    if (patch.folder !== undefined) assertFolderInScope(actor, folder);
    if (patch.privilegedSecretId) {
      await assertAssociation(this.secrets, actor, id, s.accountId, patch.privilegedSecretId);
    }
    const schedule = patch.settings ? assertSecretSchedule(await this.settings.getGlobal(), s.settings, patch.settings, s) : null;
    await this.secrets.transaction(async (tx) => {
      if (patch.name !== undefined || patch.folder !== undefined) {
        const name = patch.name ?? s.name;
        if ((name !== s.name || folder !== s.folder) && (await tx.nameTaken(folder, name))) {
          throw new KeyturnError(ErrorCode.SECRET_NAME_TAKEN, { name, folder });
        }
      }
      const changes: Partial<SecretEntity> = {};
      if (patch.name !== undefined) changes.name = patch.name;
      if (patch.folder !== undefined) changes.folder = patch.folder;
      if (patch.privilegedSecretId !== undefined) changes.privilegedSecretId = patch.privilegedSecretId;
      if (patch.settings !== undefined) changes.settings = mergeSettings(s.settings, patch.settings);
      if (schedule) Object.assign(changes, schedule);
      // A new heartbeat interval starts a new schedule, spread over that interval like a new secret's.
      if (changes.settings && s.nextHeartbeatAt && patch.settings?.heartbeatIntervalSeconds !== undefined) {
        changes.nextHeartbeatAt = await this.schedule.first(changes.settings);
      }
      await tx.update(id, changes);
    });
    return this.getSecret.execute(actor, id);
  }
}
