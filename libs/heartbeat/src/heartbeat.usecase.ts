import { Inject, Injectable, Logger } from '@nestjs/common';
import { DEFAULT_SETTINGS, ErrorCode, IamErrorCode, KeyturnError, isThrottled, type GlobalSettings, type HeartbeatStatus } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, userNameFromArn, type IamClient, type IamCredentials, sameIamUser } from '@keyturn/iam';
import {
  HeartbeatsRepository,
  SecretVersionsRepository,
  Transactions,
  type HeartbeatEntity,
  type HeartbeatOutcome,
  type HeartbeatSubject,
  type KeyListing,
  type SecretVersionEntity,
} from '@keyturn/store';
import { VERSION_CIPHER, effectiveSettings, type VersionCipher } from '@keyturn/vault';
import { CLOCK, jobIam, recordHeartbeatStatusChange, type AdmissionGate, type Clock, type PrepaidTurn, type RunOutcome } from '@keyturn/rotation';
import { metrics } from '@keyturn/metrics';

/** Consecutive failures stretch the re-check interval up to this factor. */
const MAX_BACKOFF = 8;
/**
 * A check whose key stopped being current meanwhile (a rotation promoted
 * another) says nothing about the secret; it is run again on the new current
 * key, at most this many times in all, and then dropped.
 */
const MAX_CHECKS = 3;
/**
 * The key's status and age are listed again (ListAccessKeys) at most this
 * often; between listings a heartbeat is one AWS call, GetCallerIdentity. A
 * key that answers it is active (IAM rejects an inactive key), and a key's
 * create date never changes, so the stored listing still tells both.
 */
export const KEY_LISTING_MAX_AGE_MS = 24 * 3_600_000;

type CheckDetail = Pick<HeartbeatEntity, 'checkedArn' | 'keyStatus' | 'keyCreatedAt' | 'errorCode' | 'errorMessage'>;
/** `listing`: what a ListAccessKeys made by this check said about the key, to store on its version. */
type CheckResult = { outcome: HeartbeatOutcome; detail: Partial<CheckDetail>; listing?: KeyListing };

/** Without a fair share to ask (tests, tools), every heartbeat runs. */
const ADMITTED: AdmissionGate = async () => ({ run: true });

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
    private readonly versions: SecretVersionsRepository,
    private readonly tx: Transactions,
    @Inject(VERSION_CIPHER) private readonly cipher: VersionCipher,
    /** The shared client: a job's calls go through its own (jobIam), which paces them in its account. */
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    @Inject(KEYTURN_CONFIG) private readonly config: KeyturnConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * `admission`: the worker's fair share, asked at the same time as the claim
   * (each is a round trip of its own, Redis and Postgres), not before it. A
   * heartbeat it parks was claimed meanwhile: it is put back as after
   * throttling (its attempt counted) and makes no AWS call. `turn`: the turn of the account's pace the
   * admission took, for the check's AWS call.
   */
  async execute(heartbeatId: string, admission: AdmissionGate = ADMITTED, turn?: PrepaidTurn): Promise<RunOutcome> {
    // One round trip: the claim, the secret, its current version and the global settings.
    const [admitted, claimed] = await Promise.all([admission(), this.heartbeats.claimForCheck(heartbeatId)]);
    if (!claimed?.secret) return { kind: 'done' };
    const { hb, secret } = claimed;
    if (!admitted.run) {
      await this.heartbeats.requeue(hb.id);
      return { kind: 'later', delayMs: admitted.delayMs, reason: admitted.reason };
    }
    const global: GlobalSettings = { ...DEFAULT_SETTINGS, ...((claimed.globalSettings as Partial<GlobalSettings> | null) ?? {}) };
    // The check's calls are paced in the secret's account.
    const iam = jobIam(this.iam, secret.accountId, turn);
    let version = claimed.current;
    for (let checks = 1; ; checks++) {
      if (checks > 1) version = await this.versions.inState(secret.id, 'current');
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
          result = await this.check(iam, secret, version!, creds);
        } catch (e) {
          if (isThrottled(e)) {
            // AWS asked us to slow down: that says nothing about the key. Put it back and try later.
            await this.heartbeats.requeue(hb.id);
            return { kind: 'later', delayMs: Math.min(2_000 * 2 ** hb.attempt, 60_000), reason: 'throttled' };
          }
          throw e;
        }
      }
      if (await this.finish(hb, secret, global, version?.id ?? null, result)) {
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

  private async check(iam: IamClient, secret: HeartbeatSubject, version: SecretVersionEntity, creds: IamCredentials): Promise<CheckResult> {
    try {
      const id = await iam.getCallerIdentity(creds);
      if (!sameIamUser(userNameFromArn(id.arn), secret.username) || id.account !== secret.accountId) {
        return {
          outcome: 'failed',
          detail: {
            checkedArn: id.arn,
            ...failure(new KeyturnError(ErrorCode.KEY_BELONGS_TO_OTHER_USER, { arn: id.arn, username: secret.username, accountId: secret.accountId })),
          },
        };
      }
      const { detail, listing } = await this.keyDetail(iam, secret, version, creds);
      return { outcome: 'success', detail: { checkedArn: id.arn, ...detail }, ...(listing ? { listing } : {}) };
    } catch (e) {
      // Throttling says nothing about the key: the caller puts the heartbeat back.
      if (!(e instanceof IamError) || isThrottled(e)) throw e;
      const outcome: HeartbeatOutcome = e.code === IamErrorCode.InvalidCredentials ? 'failed' : 'unable-to-connect';
      return { outcome, detail: failure(e) };
    }
  }

  /**
   * Status and age of the key, where the key may list its own keys; optional.
   * Listed at most every KEY_LISTING_MAX_AGE_MS (a rotation's CreateAccessKey
   * answer counts as a listing of the key it made); in between, from the
   * stored listing: the key just answered GetCallerIdentity, so it is active.
   */
  private async keyDetail(
    iam: IamClient,
    secret: HeartbeatSubject,
    version: SecretVersionEntity,
    creds: IamCredentials,
  ): Promise<{ detail: Partial<CheckDetail>; listing?: KeyListing }> {
    const now = this.clock.now();
    if (version.keyListedAt && now - version.keyListedAt.getTime() < KEY_LISTING_MAX_AGE_MS) {
      return { detail: version.keyCreatedAt ? { keyStatus: 'Active', keyCreatedAt: version.keyCreatedAt } : {} };
    }
    try {
      const keys = await iam.listAccessKeys(creds, secret.username);
      const mine = keys.find((k) => k.accessKeyId === creds.accessKeyId);
      // Not listed although it answered (IAM is eventually consistent): nothing to store, list again next time.
      if (!mine) return { detail: {} };
      const listing: KeyListing = { keyStatus: mine.status, keyCreatedAt: mine.createDate ?? null, keyListedAt: new Date(now) };
      return { detail: { keyStatus: mine.status, keyCreatedAt: listing.keyCreatedAt }, listing };
    } catch (e) {
      // Remembered too, so a key that may not list its keys is not asked again before the next listing is due.
      if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) return { detail: {}, listing: { keyStatus: null, keyCreatedAt: null, keyListedAt: new Date(now) } };
      throw e;
    }
  }

  /**
   * Records the result, unless the key it checked is no longer the current one
   * (then false, and nothing is written). Decided under the secret's row lock,
   * which promotion takes too, so a rotation cannot slip in between. The
   * common case, the status unchanged, is one call (finishUnchanged) instead
   * of a transaction of five round trips; a status change, which has an event
   * and an audit entry to write with the result, still takes the transaction.
   */
  private async finish(
    hb: Pick<HeartbeatEntity, 'id'>,
    secret: HeartbeatSubject,
    global: GlobalSettings,
    checkedVersionId: string | null,
    { outcome, detail, listing }: CheckResult,
  ): Promise<boolean> {
    const eff = effectiveSettings(global, secret.settings);
    const interval = (eff.heartbeatIntervalSeconds ?? this.config.heartbeat.intervalSeconds) * 1000;
    const quick = await this.heartbeats.finishUnchanged(hb.id, secret.id, checkedVersionId, {
      outcome,
      at: new Date(this.clock.now()),
      detail,
      intervalMs: interval,
      ...(listing ? { listing } : {}),
    });
    if (quick === 'stale') return false;
    if (quick !== 'status-changed') return true;
    // Decided again under the lock: the status, or the current version, may have moved since the call above.
    return this.tx.run(async (tx) => {
      const locked = await tx.secrets.lockHeartbeatState(secret.id);
      if (!locked) return true;
      // A statement of its own, after the lock: it sees a promotion that committed while we waited for the lock.
      if ((await tx.versions.currentId(secret.id)) !== checkedVersionId) return false;
      const s = { id: secret.id, ...locked };
      const status: HeartbeatStatus = outcome;
      const failures = outcome === 'success' ? 0 : s.heartbeatFailures + 1;
      const factor = outcome === 'success' ? 1 : Math.min(2 ** Math.max(0, failures - 1), MAX_BACKOFF);
      const now = this.clock.now();
      await tx.heartbeats.finishChecked(hb.id, s.id, { outcome, at: new Date(now), detail, secret: { status, failures, next: new Date(now + interval * factor) } });
      if (listing && checkedVersionId) await tx.versions.recordListing(checkedVersionId, listing);
      if (s.heartbeatStatus !== status) {
        await recordHeartbeatStatusChange(tx, this.config.webhooks.urls, 'heartbeat', { secretId: s.id, heartbeatId: hb.id, from: s.heartbeatStatus, to: status, errorCode: detail.errorCode ?? null });
        this.logger.log({ secretId: s.id, from: s.heartbeatStatus, to: status }, 'heartbeat status changed');
      }
      return true;
    });
  }

  /** The key kept changing under the check: the heartbeat ends without an outcome and the secret is left as it was. */
  private async drop(hb: Pick<HeartbeatEntity, 'id'>, checks: number): Promise<void> {
    await this.heartbeats.finish(hb.id, null, new Date(this.clock.now()), failure(new KeyturnError(ErrorCode.KEY_CHANGED_DURING_CHECK, { checks })));
  }
}
