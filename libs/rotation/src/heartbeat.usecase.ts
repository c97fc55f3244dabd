import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IamErrorCode, SYSTEM_ACTOR, type HeartbeatStatus } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, userNameFromArn, type IamClient, type IamCredentials, sameIamUser } from '@keyturn/iam';
import { HeartbeatEntity, SecretEntity, SecretVersionEntity, type HeartbeatOutcome, queryReturning } from '@keyturn/store';
import { SecretsService, SettingsService, effectiveSettings } from '@keyturn/vault';
import { AuditService } from '@keyturn/auth';
import { recordEvent } from './events.js';
import { inAccount } from './paced-iam.client.js';
import type { RunOutcome } from './rotation-runner.js';


/** Consecutive failures stretch the re-check interval up to this factor. */
const MAX_BACKOFF = 8;

/**
 * Heartbeat of an aws-iam-key (DESIGN.md §3): GetCallerIdentity with the stored
 * key must answer as the target user. Throttling is retried, never reported as
 * a failure. A status change is an event (webhook) and an audit entry.
 */
@Injectable()
export class HeartbeatUseCase {
  private readonly logger = new Logger('Heartbeat');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    private readonly secrets: SecretsService,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
  ) {}

  async execute(heartbeatId: string): Promise<RunOutcome> {
    const claimed = await queryReturning<HeartbeatEntity>(
      this.ds,
      `UPDATE heartbeats SET status = 'running', attempt = attempt + 1, lease_expires_at = now() + interval '2 minutes'
        WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
        RETURNING id`, [heartbeatId]);
    if (!claimed.length) return { kind: 'done' };
    const hb = await this.ds.manager.findOneByOrFail(HeartbeatEntity, { id: heartbeatId });
    const secret = await this.ds.manager.findOneBy(SecretEntity, { id: hb.secretId });
    if (!secret) return { kind: 'done' };
    const version = await this.ds.manager.findOneBy(SecretVersionEntity, { secretId: secret.id, state: 'current' });
    if (!version) {
      await this.finish(hb, secret, 'failed', { errorCode: 'SECRET_HAS_NO_VALUE', errorMessage: 'the secret has no current key' });
      return { kind: 'done' };
    }
    const f = this.secrets.open(version);
    const creds: IamCredentials = { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey };
    try {
      return await inAccount(secret.accountId, () => this.check(hb, secret, creds));
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.Throttled) {
        // AWS asked us to slow down: that says nothing about the key. Put it back and try later.
        await this.ds.manager.update(HeartbeatEntity, { id: hb.id }, { status: 'queued', leaseExpiresAt: null });
        return { kind: 'later', delayMs: Math.min(2_000 * 2 ** hb.attempt, 60_000), reason: 'throttled' };
      }
      throw e;
    }
  }

  private async check(hb: HeartbeatEntity, secret: SecretEntity, creds: IamCredentials): Promise<RunOutcome> {
    try {
      const id = await this.iam.getCallerIdentity(creds);
      if (!sameIamUser(userNameFromArn(id.arn), secret.username) || id.account !== secret.accountId) {
        await this.finish(hb, secret, 'failed', {
          checkedArn: id.arn,
          errorCode: 'KEY_BELONGS_TO_OTHER_USER',
          errorMessage: `the stored key answers as ${id.arn}, not as ${secret.username} in ${secret.accountId}`,
        });
        return { kind: 'done' };
      }
      const detail = await this.keyDetail(secret, creds);
      await this.finish(hb, secret, 'success', { checkedArn: id.arn, ...detail });
    } catch (e) {
      if (!(e instanceof IamError) || e.code === IamErrorCode.Throttled) throw e;
      const outcome: HeartbeatOutcome = e.code === IamErrorCode.InvalidCredentials ? 'failed' : 'unable-to-connect';
      await this.finish(hb, secret, outcome, { errorCode: e.code, errorMessage: e.message });
    }
    return { kind: 'done' };
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

  private async finish(hb: HeartbeatEntity, secret: SecretEntity, outcome: HeartbeatOutcome, detail: Partial<HeartbeatEntity>): Promise<void> {
    const global = await this.settings.getGlobal();
    const eff = effectiveSettings(global, secret.settings);
    const interval = (eff.heartbeatIntervalSeconds ?? this.config.heartbeat.intervalSeconds) * 1000;
    await this.ds.transaction(async (m) => {
      const s = await m.findOne(SecretEntity, { where: { id: secret.id }, lock: { mode: 'pessimistic_write' } });
      if (!s) return;
      const status: HeartbeatStatus = outcome;
      const failures = outcome === 'success' ? 0 : s.heartbeatFailures + 1;
      const factor = outcome === 'success' ? 1 : Math.min(2 ** Math.max(0, failures - 1), MAX_BACKOFF);
      await m.update(HeartbeatEntity, { id: hb.id }, { status: 'done', outcome, finishedAt: new Date(), leaseExpiresAt: null, ...detail });
      await m.update(SecretEntity, { id: s.id }, {
        heartbeatStatus: status,
        heartbeatFailures: failures,
        lastHeartbeatAt: new Date(),
        nextHeartbeatAt: new Date(Date.now() + interval * factor),
      });
      if (s.heartbeatStatus !== status) {
        const payload = { secretId: s.id, heartbeatId: hb.id, from: s.heartbeatStatus, to: status, errorCode: detail.errorCode ?? null };
        await recordEvent(m, this.config.webhooks.urls, 'heartbeat.status-changed', s.id, payload);
        await this.audit.record(SYSTEM_ACTOR('heartbeat'), {
          action: 'heartbeat.status-changed',
          outcome: status === 'success' ? 'success' : 'failure',
          targetType: 'heartbeat',
          targetId: hb.id,
          secretId: s.id,
          errorCode: detail.errorCode ?? null,
          details: { from: s.heartbeatStatus, to: status },
        }, m);
        this.logger.log({ secretId: s.id, from: s.heartbeatStatus, to: status }, 'heartbeat status changed');
      }
    });
  }
}
