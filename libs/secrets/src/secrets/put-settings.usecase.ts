import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  KeyturnError,
  assertScheduleSettings,
  patchGlobalSettings,
  shortestPeriodMinutes,
  type GlobalSettings,
} from '@keyturn/contracts';
import { SecretsApiRepository } from '@keyturn/store';
import { SettingsService } from '@keyturn/vault';

/**
 * PUT /v1/settings: a partial update of the global settings. A global schedule
 * or window is judged with every secret it would reach (a secret's own window
 * under the global schedule, a secret's own schedule under the global window):
 * refused with 400 INVALID_SCHEDULE naming the field and the secret, nothing
 * changed. The secrets' next changes follow lazily: the scheduler sees the new
 * global schedule at its next tick and plans them again (libs/scheduling).
 */
@Injectable()
export class PutSettingsUseCase {
  constructor(
    private readonly settings: SettingsService,
    private readonly secrets: SecretsApiRepository,
  ) {}

  async execute(patch: Partial<GlobalSettings>): Promise<GlobalSettings> {
    const next = patchGlobalSettings(await this.settings.getGlobal(), patch);
    assertScheduleSettings(next, patch);
    if (patch.autoChangeSchedule !== undefined && next.autoChangeSchedule !== null) {
      const periodMinutes = shortestPeriodMinutes(next.autoChangeSchedule);
      const longest = await this.secrets.longestOwnWindowWithoutOwnSchedule();
      if (longest && longest.windowMinutes > periodMinutes) {
        throw new KeyturnError(ErrorCode.INVALID_SCHEDULE, {
          field: 'autoChangeSchedule',
          problem: { reason: 'window-too-long', windowMinutes: longest.windowMinutes, periodMinutes },
          secretId: longest.id,
        });
      }
    }
    if (patch.autoChangeWindowMinutes !== undefined && patch.autoChangeWindowMinutes !== null) {
      for (const own of await this.secrets.ownSchedulesWithoutOwnWindow()) {
        const periodMinutes = shortestPeriodMinutes(own.schedule);
        if (next.autoChangeWindowMinutes > periodMinutes) {
          throw new KeyturnError(ErrorCode.INVALID_SCHEDULE, {
            field: 'autoChangeWindowMinutes',
            problem: { reason: 'window-too-long', windowMinutes: next.autoChangeWindowMinutes, periodMinutes },
            secretId: own.id,
          });
        }
      }
    }
    return this.settings.putGlobal(patch);
  }
}
