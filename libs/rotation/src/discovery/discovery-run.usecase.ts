import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, errorMessage, SYSTEM_ACTOR, SecretType, WarningCode, isRetryable, isThrottled, warningMessage } from '@keyturn/contracts';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { IAM_CLIENT, IamError, deniedAction, maskAccessKeyId, type AccessKeyLastUsed, type IamClient, type IamCredentials } from '@keyturn/iam';
import { VERSION_CIPHER, type VersionCipher } from '@keyturn/vault';
import {
  DiscoveriesRepository,
  type DiscoveryAnnouncer,
  type DiscoveryCounts,
  type DiscoveryRunRow,
  type DiscoveryUserRow,
  type NewDiscoveryFinding,
} from '@keyturn/store';
import { auditRow } from '@keyturn/auth';
import { ChangeJournal } from '../change-journal.service.js';
import { jobIam, type PrepaidTurn } from '../paced-iam.client.js';
import type { RunOutcome } from '../rotation-runner.service.js';
import { CLOCK, type Clock } from '../rotation.tokens.js';

/** ListUsers page size (AWS's default; at most 1000). */
export const DISCOVERY_PAGE_SIZE = 100;
/** Users read from Postgres per batch while scanning. */
const SCAN_BATCH = 50;
/** No secret id: every holder counts as "managed" (holdersOfAccessKeys excludes one secret). */
const NO_SECRET = '00000000-0000-0000-0000-000000000000';

/** The calls a discovery needs, and the ones it can do without (the findings then leave that column null). */
const OPTIONAL_ACTIONS = new Set(['iam:GetAccessKeyLastUsed', 'iam:GetLoginProfile']);

/** The lease was taken over by another worker (this one stalled past KEYTURN_LEASE_MS): stop, write nothing more. */
class LeaseLost extends Error {
  constructor() {
    super('discovery lease lost');
    this.name = 'LeaseLost';
  }
}

const logger = new Logger('Discovery');

/**
 * One discovery run (issue 15), journaled so a killed worker's run is resumed,
 * never restarted: ListUsers pages go to discovery_users with the next
 * marker (phase list-users), then each listed user not yet scanned gets
 * ListAccessKeys, GetAccessKeyLastUsed per key and GetLoginProfile, and its
 * keys become findings with the user marked scanned, in one transaction
 * (phase scan-users). Every call goes through the paced IamClient in the
 * executor's account. A denied required call (ListUsers, ListAccessKeys)
 * fails the run naming the action; a denied optional one warns once and the
 * run stops making it.
 */
@Injectable()
export class DiscoveryRunUseCase {
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  /** ListUsers MaxItems (specs make it small to page a few users). */
  pageSize = DISCOVERY_PAGE_SIZE;

  constructor(
    private readonly runs: DiscoveriesRepository,
    private readonly journal: ChangeJournal,
    /** The shared client: a job's calls go through its own (jobIam), which paces them in its account. */
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    @Inject(VERSION_CIPHER) private readonly cipher: VersionCipher,
    @Inject(KEYTURN_CONFIG) private readonly config: Pick<KeyturnConfig, 'rotation' | 'webhooks'>,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** `turn`: the turn of the account's pace the worker's admission took, for the scan's first AWS call. */
  async execute(runId: string, turn?: PrepaidTurn): Promise<RunOutcome> {
    const before = await this.runs.getRun(runId);
    if (!before || before.status === 'succeeded' || before.status === 'failed') return { kind: 'done' };
    const leaseMs = this.config.rotation.leaseMs;
    const run = await this.runs.claim(runId, this.owner, leaseMs);
    if (!run) {
      const now = await this.runs.getRun(runId);
      if (!now || now.status === 'succeeded' || now.status === 'failed') return { kind: 'done' };
      const wait = now.leaseUntil ? Math.max(500, now.leaseUntil.getTime() - this.clock.now() + 250) : 1_000;
      return { kind: 'later', delayMs: wait, reason: 'another worker holds the discovery lease' };
    }
    let lost = false;
    const renew = setInterval(() => {
      this.runs.renewLease(runId, this.owner, leaseMs).then(
        (held) => (lost ||= !held),
        (e: Error) => logger.warn(`lease renewal failed for discovery ${runId}: ${e.message}`),
      );
    }, Math.max(1_000, leaseMs / 3));
    try {
      const executor = await this.executorOf(run);
      if (!executor) {
        await this.fail(run, new KeyturnError(ErrorCode.DISCOVERY_EXECUTOR_UNAVAILABLE, { executorSecretId: run.executorSecretId }));
        return { kind: 'done' };
      }
      // Every call of the scan is paced in the executor's account.
      await this.scan(jobIam(this.iam, executor.accountId, turn), run, executor.creds, () => lost);
      await this.runs.finish(run.id, this.owner, 'succeeded', null, (tx, counts) => this.announce(tx, run, 'succeeded', counts));
      logger.log({ discoveryId: run.id }, 'discovery run succeeded');
      return { kind: 'done' };
    } catch (e) {
      return await this.onError(run, e);
    } finally {
      clearInterval(renew);
    }
  }

  /** The executor's account and current key, or null when it was deleted or has no usable key. */
  private async executorOf(run: DiscoveryRunRow): Promise<{ accountId: string; creds: IamCredentials } | null> {
    if (!run.executorSecretId) return null;
    const state = await this.journal.state(run.executorSecretId).catch((e: unknown) => {
      if (e instanceof KeyturnError && e.code === ErrorCode.SECRET_NOT_FOUND) return null;
      throw e;
    });
    if (!state || state.secret.type !== SecretType.AwsIamKey || !state.current) return null;
    const f = state.current.fields;
    return { accountId: state.secret.accountId, creds: { accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey } };
  }

  private async scan(iam: IamClient, run: DiscoveryRunRow, creds: IamCredentials, lost: () => boolean): Promise<void> {
    const guard = (held: boolean) => {
      if (!held || lost()) throw new LeaseLost();
    };
    if (run.phase === 'list-users') {
      let marker = run.nextMarker ?? undefined;
      for (;;) {
        const page = await iam.listUsers(creds, { pathPrefix: run.pathPrefix, marker, maxItems: this.pageSize });
        const users = page.users.map((u) => ({ userName: u.userName, userId: u.userId, userArn: u.arn, userPath: u.path, userCreatedAt: u.createDate ?? null }));
        guard(await this.runs.recordUsersPage(run.id, this.owner, users, page.marker ?? null));
        if (!page.marker) break;
        marker = page.marker;
      }
    }
    // Optional calls already denied in an earlier attempt of this run are not made again.
    const denied = new Set(run.warnings.filter((w) => w.code === WarningCode.DISCOVERY_CALL_DENIED && w.action).map((w) => w.action!));
    for (;;) {
      const batch = await this.runs.unscannedUsers(run.id, SCAN_BATCH);
      if (!batch.length) return;
      for (const user of batch) {
        const scanned = await this.scanUser(iam, run, creds, user, denied);
        guard(await this.runs.recordUserScan(run.id, this.owner, user.userName, scanned.hasConsolePassword, scanned.findings));
      }
    }
  }

  private async scanUser(
    iam: IamClient,
    run: DiscoveryRunRow,
    creds: IamCredentials,
    user: DiscoveryUserRow,
    denied: Set<string>,
  ): Promise<{ hasConsolePassword: boolean | null; findings: NewDiscoveryFinding[] }> {
    let keys;
    try {
      keys = await iam.listAccessKeys(creds, user.userName);
    } catch (e) {
      // Deleted between the listing and now: nothing of it to find.
      if (e instanceof IamError && e.code === IamErrorCode.NoSuchEntity) return { hasConsolePassword: null, findings: [] };
      throw e;
    }
    const hasConsolePassword = await this.optional(run, denied, 'iam:GetLoginProfile', async () => (await iam.getLoginProfile(creds, user.userName)) !== null);
    const holders = await this.journal.holdersOfAccessKeys(
      keys.map((k) => k.accessKeyId),
      NO_SECRET,
    );
    const findings: NewDiscoveryFinding[] = [];
    for (const k of keys) {
      const used: AccessKeyLastUsed | null = await this.optional(run, denied, 'iam:GetAccessKeyLastUsed', () => iam.getAccessKeyLastUsed(creds, k.accessKeyId));
      findings.push({
        userName: user.userName,
        userId: user.userId,
        userArn: user.userArn,
        accessKeyIdMasked: maskAccessKeyId(k.accessKeyId),
        // Under the active KEK (the first index); adoption matches with every configured KEK's.
        keyIdHmac: this.cipher.accessKeyIdIndexes(k.accessKeyId)[0],
        keyStatus: k.status,
        keyCreatedAt: k.createDate ?? null,
        lastUsedAt: used?.lastUsedDate ?? null,
        lastUsedService: used?.serviceName ?? null,
        lastUsedRegion: used?.region ?? null,
        hasConsolePassword,
        managedSecretId: holders.get(k.accessKeyId) ?? null,
      });
    }
    return { hasConsolePassword, findings };
  }

  /**
   * An optional call: denied, it warns once on the run and is not made again
   * (null: unknown); a vanished user reads as unknown too. Anything else
   * (throttling, network) propagates, and the run resumes later.
   */
  private async optional<T>(run: DiscoveryRunRow, denied: Set<string>, action: string, call: () => Promise<T>): Promise<T | null> {
    if (denied.has(action)) return null;
    try {
      return await call();
    } catch (e) {
      if (deniedAction(e) === action) {
        denied.add(action);
        const message = warningMessage(WarningCode.DISCOVERY_CALL_DENIED, { action });
        await this.runs.addWarning(run.id, { at: new Date(this.clock.now()).toISOString(), code: WarningCode.DISCOVERY_CALL_DENIED, action, message });
        logger.warn({ discoveryId: run.id, action }, 'optional discovery call denied; going on without it');
        return null;
      }
      if (e instanceof IamError && e.code === IamErrorCode.NoSuchEntity) return null;
      throw e;
    }
  }

  private async onError(run: DiscoveryRunRow, e: unknown): Promise<RunOutcome> {
    if (e instanceof LeaseLost) {
      logger.warn({ discoveryId: run.id }, 'another worker took this discovery over; stopping');
      return { kind: 'done' };
    }
    const action = deniedAction(e);
    if (action && !OPTIONAL_ACTIONS.has(action)) {
      await this.fail(run, e);
      return { kind: 'done' };
    }
    // Throttling is AWS asking us to slow down: more room than other transient errors.
    const cap = this.config.rotation.jobAttempts * (isThrottled(e) ? 4 : 1);
    if (isRetryable(e) && run.attempt < cap) {
      const code = e instanceof KeyturnError ? e.code : ErrorCode.INTERNAL_ERROR;
      logger.warn({ discoveryId: run.id, code, attempt: run.attempt }, `discovery attempt failed, will resume: ${(e as Error).message}`);
      await this.runs.releaseLease(run.id, this.owner);
      return { kind: 'later', delayMs: Math.round(Math.min(1_000 * 2 ** run.attempt, 60_000) * (0.75 + Math.random() * 0.5)), reason: code };
    }
    await this.fail(run, e);
    return { kind: 'done' };
  }

  private async fail(run: DiscoveryRunRow, e: unknown): Promise<void> {
    const { code, message } =
      e instanceof KeyturnError
        ? { code: e.code, message: e.message }
        : { code: ErrorCode.INTERNAL_ERROR, message: errorMessage(ErrorCode.INTERNAL_ERROR, { kind: 'worker', errorName: (e as Error)?.name ?? 'Error' }) };
    logger.warn({ discoveryId: run.id, code }, `discovery run failed: ${message}`);
    await this.runs.finish(run.id, this.owner, 'failed', { code, message }, (tx, counts) => this.announce(tx, run, 'failed', counts, code));
  }

  /** The discovery.completed event (outbox) and the audit entry, in the outcome's transaction. */
  private async announce(tx: DiscoveryAnnouncer, run: DiscoveryRunRow, status: 'succeeded' | 'failed', counts: DiscoveryCounts, code?: string): Promise<void> {
    const now = await this.runs.getRun(run.id);
    await tx.events.record(this.config.webhooks.urls, 'discovery.completed', null, {
      discoveryId: run.id,
      status,
      executorSecretId: run.executorSecretId,
      pathPrefix: run.pathPrefix,
      trigger: run.trigger,
      usersTotal: now?.usersTotal ?? null,
      usersScanned: now?.usersScanned ?? 0,
      keysFound: counts.keys,
      managed: counts.managed,
      unmanaged: counts.unmanaged,
      errorCode: code ?? null,
    });
    await tx.audit.insert(
      auditRow(SYSTEM_ACTOR('rotation-worker'), {
        action: status === 'succeeded' ? 'discovery.completed' : 'discovery.failed',
        outcome: status === 'succeeded' ? 'success' : 'failure',
        targetType: 'discovery',
        targetId: run.id,
        secretId: run.executorSecretId,
        errorCode: code ?? null,
        details: { keysFound: counts.keys, managed: counts.managed, unmanaged: counts.unmanaged, attempt: run.attempt },
      }),
    );
  }
}
