import { Inject, Injectable, Optional } from '@nestjs/common';
import { effectiveSettings, type SecretSettings } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { SettingsService } from '@keyturn/vault';

/** A uniform random number in [0, 1): Math.random in production, a seeded or fixed source in tests. */
export type RandomSource = () => number;
/** Inject a RandomSource under this token to make the heartbeat jitter deterministic (tests). */
export const HEARTBEAT_RANDOM = Symbol('HEARTBEAT_RANDOM');

/**
 * The next heartbeat of a secret whose schedule starts now (a new secret) or
 * changes (its interval): uniform within one interval from `nowMs`. Secrets
 * created together (an import of a million) then come due spread over the
 * interval, about `secrets / interval` per second, instead of all at the next
 * tick and again together every interval after: each finished heartbeat sets
 * the next one an interval later, so the spread, once made, stays.
 */
export function jitteredHeartbeat(nowMs: number, intervalSeconds: number, random: RandomSource): Date {
  return new Date(nowMs + Math.floor(random() * intervalSeconds * 1000));
}

/** Where a secret's heartbeat schedule starts: its effective interval (own, global, or the scheduler's default), jittered. */
@Injectable()
export class HeartbeatSchedule {
  private readonly random: RandomSource;

  constructor(
    private readonly settings: SettingsService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Optional() @Inject(HEARTBEAT_RANDOM) random?: RandomSource,
  ) {
    this.random = random ?? Math.random;
  }

  /** The effective heartbeat interval, in seconds, of a secret with these settings of its own. */
  async intervalSeconds(own: SecretSettings): Promise<number> {
    return effectiveSettings(await this.settings.getGlobal(), own).heartbeatIntervalSeconds ?? this.config.heartbeat.intervalSeconds;
  }

  async first(own: SecretSettings, nowMs: number = Date.now()): Promise<Date> {
    return jitteredHeartbeat(nowMs, await this.intervalSeconds(own), this.random);
  }
}
