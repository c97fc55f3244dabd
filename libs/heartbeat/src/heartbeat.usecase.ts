import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, SYSTEM_ACTOR, isThrottled, type HeartbeatStatus } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, userNameFromArn, type IamClient, type IamCredentials, sameIamUser } from '@keyturn/iam';
import {
  HeartbeatsRepository,
  SecretVersionsRepository,
  SecretsRepository,
  Transactions,
  type HeartbeatEntity,
  type HeartbeatOutcome,
  type SecretEntity,
} from '@keyturn/store';
import { SettingsService, VERSION_CIPHER, effectiveSettings, type VersionCipher } from '@keyturn/vault';
import { auditRow } from '@keyturn/auth';
import { CLOCK, inAccount, type Clock, type RunOutcome } from '@keyturn/rotation';
import { metrics } from '@keyturn/metrics';

/** Consecutive failures stretch the re-check interval up to this factor. */
const MAX_BACKOFF = 8;
/**
 * A check whose key stopped being current meanwhile (a rotation promoted
 * another) says nothing about the secret; it is run again on the new current
 * key, at most this many times in all, and then dropped.
 */
const MAX_CHECKS = 3;

type CheckResult = { outcome: HeartbeatOutcome; detail: Partial<HeartbeatEntity> };

/** A heartbeat's errorCode and errorMessage: the catalogue's code and wording. */
const failure = (e: { code: ErrorCode; message: string }): Pick<HeartbeatEntity, 'errorCode' | 'errorMessage'> => ({ errorCode: e.code, errorMessage: e.message });

/**
 * Heartbeat of an aws-iam-key (docs/architecture.md, Heartbeats): GetCallerIdentity with the stored
 * key must answer as the target user. Throttling is retried, never reported as
 * a failure. A status change is an event (webhook) and an audit entry. Only a
 * check of the key that is still current counts: see `finish`.
 */
@Injectable()
export class HeartbeatUseCase {
  private readonly logger = new Logger('Heartbeat');

  constructor(
    private readonly heartbeats: HeartbeatsRepository,
    private readonly secrets: SecretsRepository,
    private readonly versions: SecretVersionsRepository,
    private readonly tx: Transactions,
    @Inject(VERSION_CIPHER) private readonly cipher: VersionCipher,
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    private readonly settings: SettingsService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(heartbeatId: string): Promise<RunOutcome> {
    if (!(await this.heartbeats.claim(heartbeatId))) return { kind: 'done' };
    const hb = await this.heartbeats.getOrFail(heartbeatId);
    const secret = await this.secrets.get(hb.secretId);
    if (!secret) return { kind: 'done' };
    for (let checks = 1; ; checks++) {
      const version = await this.versions.inState(secret.id, 'current');
      let result: CheckResult;
      if (!version) {
        result = { outcome: 'failed', detail: failure(new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: secret.id })) };
      } else if (version.secretUnknown) {
        // An adopted key has no secret part to sign with: nothing can be checked until its rotation
        // replaces it. The heartbeat says so and leaves the secret's status as it was.
        await this.heartbeats.finish(hb.id, null, new Date(this.clock.now()), failure(new KeyturnError(ErrorCode.SECRET_VALUE_UNKNOWN, { secretId: secret.id, version: version.version })));
        return { kind: 'done' };
      } else {
        const f = this.cipher.open(version);
        const creds: IamCredentials = { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey };
        try {
          result = await inAccount(secret.accountId, () => this.check(secret, creds));
        } catch (e) {
          if (isThrottled(e)) {
            // AWS asked us to slow down: that says nothing about the key. Put it back and try later.
            await this.heartbeats.requeue(hb.id);
            return { kind: 'later', delayMs: Math.min(2_000 * 2 ** hb.attempt, 60_000), reason: 'throttled' };
          }
          throw e;
        }
      }
      if (await this.finish(hb, secret, version?.id ?? null, result)) {
        metrics().heartbeatFinished(result.outcome);
        return { kind: 'done' };
      }
      if (checks >= MAX_CHECKS) {
        await this.drop(hb, checks);
        return { kind: 'done' };
      }
      this.logger.log({ heartbeatId: hb.id, secretId: secret.id }, 'the key changed during the check; checking the new current key');
    }
  }

  private async check(secret: SecretEntity, creds: IamCredentials): Promise<CheckResult> {
    try {
      const id = await this.iam.getCallerIdentity(creds);
      if (!sameIamUser(userNameFromArn(id.arn), secret.username) || id.account !== secret.accountId) {
        return {
          outcome: 'failed',
          detail: {
            checkedArn: id.arn,
            ...failure(new KeyturnError(ErrorCode.KEY_BELONGS_TO_OTHER_USER, { arn: id.arn, username: secret.username, accountId: secret.accountId })),
          },
        };
      }
      const detail = await this.keyDetail(secret, creds);
      return { outcome: 'success', detail: { checkedArn: id.arn, ...detail } };
    } catch (e) {
      // Throttling says nothing about the key: the caller puts the heartbeat back.
      if (!(e instanceof IamError) || isThrottled(e)) throw e;
      const outcome: HeartbeatOutcome = e.code === IamErrorCode.InvalidCredentials ? 'failed' : 'unable-to-connect';
      return { outcome, detail: failure(e) };
    }
  }

  /** Status and age of the key, where the key may list its own keys; optional. */
  private async keyDetail(secret: SecretEntity, creds: IamCredentials): Promise<Partial<HeartbeatEntity>> {
    try {
      const keys = await this.iam.listAccessKeys(creds, secret.username);
      const mine = keys.find((k) => k.accessKeyId === creds.accessKeyId);
      return mine ? { keyStatus: mine.status, keyCreatedAt: mine.createDate ?? null } : {};
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) return {};
      throw e;
    }
  }

  /**
   * Records the result, unless the key it checked is no longer the current one
   * (then false, and nothing is written). Decided under the secret's row lock,
   * which promotion takes too, so a rotation cannot slip in between.
   */
  private async finish(hb: HeartbeatEntity, secret: SecretEntity, checkedVersionId: string | null, { outcome, detail }: CheckResult): Promise<boolean> {
    const global = await this.settings.getGlobal();
    const eff = effectiveSettings(global, secret.settings);
    const interval = (eff.heartbeatIntervalSeconds ?? this.config.heartbeat.intervalSeconds) * 1000;
    return this.tx.run(async (tx) => {
      const s = await tx.secrets.lockForUpdate(secret.id);
      if (!s) return true;
      if ((await tx.versions.currentId(s.id)) !== checkedVersionId) return false;
      const status: HeartbeatStatus = outcome;
      const failures = outcome === 'success' ? 0 : s.heartbeatFailures + 1;
      const factor = outcome === 'success' ? 1 : Math.min(2 ** Math.max(0, failures - 1), MAX_BACKOFF);
      const now = this.clock.now();
      await tx.heartbeats.finish(hb.id, outcome, new Date(now), detail);
      await tx.secrets.recordHeartbeat(s.id, { status, failures, at: new Date(now), next: new Date(now + interval * factor) });
      if (s.heartbeatStatus !== status) {
        const payload = { secretId: s.id, heartbeatId: hb.id, from: s.heartbeatStatus, to: status, errorCode: detail.errorCode ?? null };
        await tx.events.record(this.config.webhooks.urls, 'heartbeat.status-changed', s.id, payload);
        await tx.audit.insert(auditRow(SYSTEM_ACTOR('heartbeat'), {
          action: 'heartbeat.status-changed',
          outcome: status === 'success' ? 'success' : 'failure',
          targetType: 'heartbeat',
          targetId: hb.id,
          secretId: s.id,
          errorCode: detail.errorCode ?? null,
          details: { from: s.heartbeatStatus, to: status },
        }));
        this.logger.log({ secretId: s.id, from: s.heartbeatStatus, to: status }, 'heartbeat status changed');
      }
      return true;
    });
  }

  /** The key kept changing under the check: the heartbeat ends without an outcome and the secret is left as it was. */
  private async drop(hb: HeartbeatEntity, checks: number): Promise<void> {
    await this.heartbeats.finish(hb.id, null, new Date(this.clock.now()), failure(new KeyturnError(ErrorCode.KEY_CHANGED_DURING_CHECK, { checks })));
  }
}
