import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, WarningCode } from '@keyturn/contracts';
import {
  IAM_CLIENT,
  IamError,
  maskAccessKeyId,
  userNameFromArn,
  type IamClient,
  type AccessKeyMetadata,
  type IamCredentials,
  sameIamUser,
} from '@keyturn/iam';
import type { RotationEntity } from '@keyturn/store';
import { effectiveSettings, type GlobalSettings } from '@keyturn/vault';
import { ChangeJournal, credsOf, isAdopted, knownCredsOf, type OpenVersion, type SecretState, type VerifiedKey } from '../change-journal.service.js';
import { CLOCK, FAULTS, ROTATION_OPTIONS, type Clock, type Faults, type RotationOptions } from '../rotation.tokens.js';
import type { Executor } from '../executor.js';
import { RetirePendingError } from '../rotation-error.js';
import { jobIam, takeNextTurnNow, type PrepaidTurn } from '../paced-iam.client.js';
import { classifyKeys, planMakeRoom, unlessKeyGone } from './make-room.js';

/**
 * The access-key rotation protocol (docs/architecture.md, "The rotation protocol"). Every step is idempotent and
 * recorded on the rotation row, so a retried or re-delivered job resumes where
 * the last attempt stopped.
 */
@Injectable()
export class KeyRotationUseCase {
  private readonly logger = new Logger('KeyRotation');

  constructor(
    private readonly store: ChangeJournal,
    /** The shared client: a job's calls go through its own (jobIam), which paces them in its account. */
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    @Inject(ROTATION_OPTIONS) private readonly opts: RotationOptions,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(FAULTS) private readonly faults: Faults,
  ) {}

  /** `turn`: the turn of the account's pace the worker's admission took, for the run's first AWS call. */
  async run(rotationId: string, claimed?: RotationEntity, turn?: PrepaidTurn): Promise<void> {
    const rot = claimed ?? (await this.store.rotation(rotationId));
    // The global settings come with the state, in the same statement.
    const read = await this.store.state(rot.secretId, rot.id);
    const { global } = read;
    let state: SecretState = read;
    // Every call of this run is paced in the secret's account.
    const iam = jobIam(this.iam, state.secret.accountId, turn);

    if (rot.step === 'retire' || rot.step === 'done') {
      return this.retire(iam, rot, state, global);
    }
    if (rot.step === 'promote') {
      // A crash inside promote rolled it back entirely; a crash after it left step = retire.
      state = await this.promote(rot);
      return this.retire(iam, rot, state, global);
    }

    const exec = await this.prepare(iam, rot, state);
    if (!state.pending) {
      await this.endGraceEarly(iam, rot, state, global);
      const retired = await this.makeRoom(iam, rot, state, exec);
      state = await this.create(iam, rot, state, exec, retired);
    } else {
      // A stored pending key (this attempt's or an interrupted one's) is resumed, never re-created.
      await this.store.journal(rot, { step: 'verify', pendingVersion: state.pending.row.version });
    }
    const verified = await this.verify(iam, rot, state, exec);
    // The verify step just proved the new key: the promotion records it as the secret's heartbeat.
    const eff = effectiveSettings(global, state.secret.settings);
    // Retire's AWS call comes right after the promotion when the previous key goes now: its turn is taken meanwhile.
    if (state.current && !rot.retireAt && !(eff.previousKeyGraceSeconds > 0) && (eff.shouldDeletePreviousKey || eff.shouldInactivatePreviousKey)) {
      takeNextTurnNow(iam);
    }
    await this.promoteOnly(rot, { ...verified, heartbeatIntervalSeconds: eff.heartbeatIntervalSeconds ?? null });
    // What the promote transaction just did, without reading it back: pending → current → previous.
    const promoted: SecretState = { secret: state.secret, current: asState(state.pending!, 'current'), previous: state.current && asState(state.current, 'previous') };
    await this.retire(iam, rot, promoted, global);
  }

  /** Step 1: the executor and mode, and the check that the IAM user is still the one we first rotated. */
  private async prepare(iam: IamClient, rot: RotationEntity, state: SecretState): Promise<Executor> {
    // A first attempt's row already says prepare (and the claim just read it): no write to make.
    if (rot.step !== 'prepare') await this.store.journal(rot, { step: 'prepare' });
    this.faults.point('prepare');
    const { secret } = state;
    if (!state.current) {
      throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: secret.id });
    }
    // An adopted current key has no secret part: every check it would make is made by the executor instead.
    const adopted = isAdopted(state.current);
    const exec = await this.store.executor(secret, knownCredsOf(state.current));
    // The mode is recorded while the current key is checked: a write and an AWS call side by side.
    const [userId] = await bothSettled(this.identify(iam, rot, state, exec, adopted), this.store.journal(rot, { mode: exec.mode, executorSecretId: exec.secretId }));
    if (userId) {
      if (secret.iamUserId && secret.iamUserId !== userId) {
        throw new KeyturnError(ErrorCode.USER_RECREATED, { username: secret.username, userId, knownUserId: secret.iamUserId });
      }
      if (!secret.iamUserId) await this.store.setIamUserId(secret.id, userId);
    }
    return exec;
  }

  /** The IAM user id the current key (or, privileged or adopted, the executor) answers for; undefined when it cannot be known. */
  private async identify(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor, adopted: boolean): Promise<string | undefined> {
    const { secret } = state;
    const current = state.current!;
    let userId: string | undefined;
    if (adopted) {
      // Checked before anything is created; a resumed attempt with a stored pending key is past that point.
      if (!state.pending) await this.assertAdoptedKeyExists(iam, exec, secret.username, current.fields.accessKeyId);
    } else {
      try {
        const id = await iam.getCallerIdentity(credsOf(current));
        if (!sameIamUser(userNameFromArn(id.arn), secret.username) || id.account !== secret.accountId) {
          throw new KeyturnError(ErrorCode.KEY_BELONGS_TO_OTHER_USER, { arn: id.arn, username: secret.username, accountId: secret.accountId });
        }
        userId = id.userId;
      } catch (e) {
        if (!(e instanceof IamError) || e.code !== IamErrorCode.InvalidCredentials) throw e;
        if (exec.mode === 'basic' && !exec.secretId) {
          throw new KeyturnError(ErrorCode.CURRENT_KEY_INVALID, { username: secret.username });
        }
        await this.store.warn(rot, WarningCode.CURRENT_KEY_INVALID, { username: secret.username });
      }
    }
    if (!userId && (exec.mode === 'privileged' || adopted)) {
      try {
        userId = (await iam.getUser(exec.creds, secret.username)).userId;
      } catch (e) {
        if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) {
          await this.store.warn(rot, WarningCode.USER_ID_UNCHECKED, { username: secret.username });
        } else throw e;
      }
    }
    return userId;
  }

  /**
   * The adopted current key must still be one of the user's keys: listed by
   * the executor (the key itself cannot sign), which also proves it belongs to
   * the target user. A key deleted since the adoption was requested leaves
   * nothing to adopt.
   */
  private async assertAdoptedKeyExists(iam: IamClient, exec: Executor, username: string, accessKeyId: string): Promise<void> {
    const keys = await iam.listAccessKeys(exec.creds, username);
    if (!keys.some((k) => k.accessKeyId === accessKeyId)) {
      throw new KeyturnError(ErrorCode.ADOPTED_KEY_GONE, { username, maskedKeyId: maskAccessKeyId(accessKeyId) });
    }
  }

  /**
   * Before make-room: a previous key still in its grace period (an earlier
   * rotation's retire owed at retireAt) is retired now, per the settings, since
   * AWS allows two keys and this change needs the slot. The earlier rotation
   * is marked retired (its own job then finds nothing to do), this one gets a
   * warning, and `previous-key.retired` names this rotation as the cause.
   */
  private async endGraceEarly(iam: IamClient, rot: RotationEntity, state: SecretState, global: GlobalSettings): Promise<void> {
    const owed = await this.store.inGrace(rot, state);
    if (!owed.length) return;
    const eff = effectiveSettings(global, state.secret.settings);
    for (const other of owed) {
      const prev = state.previous;
      // Only the key that rotation made previous: if a later change moved on, there is nothing of its left to retire.
      const ours = prev && other.pendingVersion !== null && state.current?.row.version === other.pendingVersion;
      let action: 'deleted' | 'inactivated' | 'kept' = 'kept';
      if (ours && (eff.shouldDeletePreviousKey || eff.shouldInactivatePreviousKey)) {
        action = await this.retireKey(iam, state, await this.retireCreds(state), eff.shouldDeletePreviousKey);
        if (action === 'deleted') state.previous = undefined;
      }
      const maskedKeyId = ours ? maskAccessKeyId(prev.fields.accessKeyId) : null;
      await this.store.markRetired(other, { action, maskedKeyId, version: ours ? prev.row.version : null, endedEarlyBy: rot.id });
      await this.store.warn(rot, WarningCode.GRACE_ENDED_EARLY, { maskedKeyId: maskedKeyId ?? 'none', rotationId: other.id, action });
    }
  }

  /** The executor's credentials for the retire: after promotion "current" is the new key, so a key secret that executes itself uses the new key. */
  private async retireCreds(state: SecretState): Promise<IamCredentials> {
    return (await this.store.executor(state.secret, knownCredsOf(state.current))).creds;
  }

  /** Deletes (and marks retired) or inactivates the previous key. */
  private async retireKey(iam: IamClient, state: SecretState, creds: IamCredentials, del: boolean): Promise<'deleted' | 'inactivated'> {
    const { secret } = state;
    const prev = state.previous!;
    if (del) {
      await this.deleteKey(iam, creds, secret.username, prev.fields.accessKeyId);
      await this.store.retireVersion(prev.row.id);
      return 'deleted';
    }
    await this.inactivateKey(iam, creds, secret.username, prev.fields.accessKeyId);
    return 'inactivated';
  }

  /**
   * Step 2: delete orphans, then the previous key if the user is at AWS's limit of two. Returns the version
   * whose key it deleted (null: none), which the create step's first write marks retired.
   */
  private async makeRoom(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor): Promise<string | null> {
    // The ListAccessKeys below follows this write: its turn is taken meanwhile (so below for CreateAccessKey).
    takeNextTurnNow(iam);
    await this.store.journal(rot, { step: 'make-room' });
    this.faults.point('make-room');
    const { secret } = state;
    let keys = await iam.listAccessKeys(exec.creds, secret.username);
    keys = await this.deleteNamedKey(iam, rot, state, exec, keys);
    const own = { current: state.current?.fields.accessKeyId, previous: state.previous?.fields.accessKeyId, pending: state.pending?.fields.accessKeyId };
    // This secret's own keys are its own whoever else holds them (classifyKeys): only the others are looked up,
    // and a user with none (the common case) costs no query.
    const ownIds = new Set(Object.values(own));
    const heldByOthers = await this.store.holdersOfAccessKeys(
      keys.map((k) => k.accessKeyId).filter((id) => !ownIds.has(id)),
      secret.id,
    );
    const classes = classifyKeys(
      keys,
      { ...own, heldByOthers },
      { aboutToCreateAt: rot.aboutToCreateAt, budgetMs: this.opts.createWindowMs },
    );
    const plan = planMakeRoom(classes);
    for (const orphan of plan.orphans) {
      await this.deleteKey(iam, exec.creds, secret.username, orphan.accessKeyId);
      await this.store.warn(rot, WarningCode.ORPHAN_DELETED, { maskedKeyId: maskAccessKeyId(orphan.accessKeyId) });
    }
    if (plan.deletePrevious && state.previous) {
      await this.deleteKey(iam, exec.creds, secret.username, plan.deletePrevious.accessKeyId);
      // Retired by the create step's first write, with nothing that can fail in between: a crash before it
      // leaves the version previous, its key gone, as a crash right after the delete always could (promote
      // retires it; make-room finds nothing of it to delete).
      const retired = state.previous.row.id;
      state.previous = undefined;
      return retired;
    }
    const blocker = plan.blocker;
    if (blocker?.kind === 'held') {
      throw new KeyturnError(ErrorCode.KEY_HELD_BY_OTHER_SECRET, {
        username: secret.username,
        maskedKeyId: maskAccessKeyId(blocker.key.accessKeyId),
        holderSecretId: blocker.holderSecretId,
      });
    }
    if (blocker) {
      throw new KeyturnError(ErrorCode.KEY_LIMIT_UNMANAGED, { username: secret.username, maskedKeyId: maskAccessKeyId(blocker.key.accessKeyId) });
    }
    return null;
  }

  /**
   * Adoption with a full user: the request named the user's other key to
   * delete first (its blind index is on the rotation). Deleted only if no
   * secret holds it and it is none of this secret's own keys; a resumed
   * attempt finds it gone and goes on. Returns the keys left.
   */
  private async deleteNamedKey(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor, keys: AccessKeyMetadata[]): Promise<AccessKeyMetadata[]> {
    const hmac = rot.deleteKeyIdHmac;
    if (!hmac) return keys;
    const named = keys.find((k) => this.store.isKeyIdIndexOf(k.accessKeyId, hmac));
    if (!named) return keys;
    const own = [state.current, state.previous, state.pending].some((v) => v?.fields.accessKeyId === named.accessKeyId);
    if (own) return keys;
    const holder = (await this.store.holdersOfAccessKeys([named.accessKeyId], state.secret.id)).get(named.accessKeyId);
    if (holder) {
      throw new KeyturnError(ErrorCode.KEY_HELD_BY_OTHER_SECRET, {
        username: state.secret.username,
        maskedKeyId: maskAccessKeyId(named.accessKeyId),
        holderSecretId: holder,
      });
    }
    await this.deleteKey(iam, exec.creds, state.secret.username, named.accessKeyId);
    this.faults.point('make-room:after-named-delete');
    await this.store.warn(rot, WarningCode.NAMED_KEY_DELETED, { maskedKeyId: maskAccessKeyId(named.accessKeyId) });
    return keys.filter((k) => k !== named);
  }

  /**
   * Step 3: record "about to create" (and retire the version make-room deleted the key of), create, and store
   * the key as pending with nothing fallible between.
   */
  private async create(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor, retiredVersionId: string | null): Promise<SecretState> {
    const { secret } = state;
    takeNextTurnNow(iam);
    await this.store.aboutToCreate(rot, new Date(this.clock.now()), retiredVersionId);
    this.faults.point('create');
    let key;
    try {
      key = await iam.createAccessKey(exec.creds, secret.username);
    } catch (e) {
      // Make-room left one slot, so the limit means an earlier call of ours did create a key whose
      // answer was lost (the SDK retried a dropped connection): the next attempt's make-room deletes it.
      if (e instanceof IamError && e.code === IamErrorCode.KeyLimit) {
        throw new KeyturnError(ErrorCode.KEY_LIMIT_RACE, { username: secret.username });
      }
      throw e;
    }
    // The window the protocol exists for: AWS has made the key and we have not stored it yet.
    this.faults.point('create:after-aws');
    let pending: OpenVersion;
    try {
      // CreateAccessKey's answer is a listing of the new key: the heartbeats need not list it for a day.
      const listing = { keyStatus: key.status, keyCreatedAt: key.createDate ?? null, keyListedAt: new Date(this.clock.now()) };
      // The counter as this run read it: no other version is stored under the IAM user's lock in the common case.
      // With no delay before the verify step's first call, that call's turn is taken while the key is stored.
      if (this.opts.verifyInitialDelayMs === 0) takeNextTurnNow(iam);
      pending = await this.store.storePending(rot, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, 'verify', listing, secret.versionCounter + 1);
    } catch (e) {
      // AWS showed the secret once and we could not keep it: the key must not outlive this attempt.
      const masked = maskAccessKeyId(key.accessKeyId);
      this.logger.warn({ rotationId: rot.id, err: { name: (e as Error)?.name, message: (e as Error)?.message } }, `could not store the new key ${masked}`);
      let deleted = true;
      try {
        await this.deleteKey(iam, exec.creds, secret.username, key.accessKeyId);
      } catch (d) {
        deleted = false;
        this.logger.warn(`could not delete unsaved key ${masked}: ${(d as Error).message}; the next attempt's make-room finds it as an orphan`);
      }
      // The secret was deleted meanwhile: there is nothing to store into, and nothing to retry.
      if (e instanceof KeyturnError && e.code === ErrorCode.SECRET_NOT_FOUND) throw e;
      const code = (e as { code?: unknown })?.code;
      const reason = typeof code === 'string' ? `database error ${code}` : ((e as Error)?.name ?? 'error');
      throw new KeyturnError(ErrorCode.NEW_KEY_NOT_STORED, { maskedKeyId: masked, reason, deleted });
    }
    // What the store-pending transaction just did, without reading it back: create runs only with no pending
    // version, and the current and previous ones are as this run holds them (make-room kept `state` up to date).
    return { ...state, pending };
  }

  /** Step 4: the pending key must answer as the target user within the window, or it is deleted. */
  private async verify(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor): Promise<Omit<VerifiedKey, 'heartbeatIntervalSeconds'>> {
    const pending = state.pending!;
    const { secret } = state;
    this.faults.point('verify');
    const deadline = pending.row.createdAt.getTime() + this.opts.verifyWindowMs;
    let delay = this.opts.verifyInitialDelayMs;
    let lastError: string | undefined;
    for (let tries = 0; ; tries++) {
      if (tries > 0 || delay > 0) await this.clock.sleep(Math.min(delay, Math.max(0, deadline - this.clock.now())));
      let answeredAs: string | undefined;
      try {
        const id = await iam.getCallerIdentity(credsOf(pending));
        if (sameIamUser(userNameFromArn(id.arn), secret.username) && id.account === secret.accountId) return { at: new Date(this.clock.now()), arn: id.arn };
        answeredAs = id.arn;
      } catch (e) {
        // Not the job's retry rule: within the window a rejected new key is expected (IAM propagates
        // slowly), and so is a passing AWS fault; the window decides, not the attempt counter.
        const notYet =
          e instanceof IamError &&
          [IamErrorCode.InvalidCredentials, IamErrorCode.Throttled, IamErrorCode.Unreachable].includes(e.code);
        if (!notYet) throw e;
        lastError = (e as IamError).code;
      }
      if (answeredAs) {
        // Never promoted, and not left pending either: a later rotation would resume on it for ever.
        const masked = maskAccessKeyId(pending.fields.accessKeyId);
        await this.discardPending(iam, rot, exec, secret.username, pending);
        throw new KeyturnError(ErrorCode.PENDING_KEY_WRONG_USER, { maskedKeyId: masked, arn: answeredAs, username: secret.username });
      }
      if (this.clock.now() >= deadline) break;
      delay = Math.max(250, Math.min(delay * 2, 5_000));
    }
    await this.discardPending(iam, rot, exec, secret.username, pending);
    throw new KeyturnError(ErrorCode.VERIFY_TIMEOUT, { windowSeconds: Math.round(this.opts.verifyWindowMs / 1000), lastAnswer: lastError });
  }

  private async discardPending(iam: IamClient, rot: RotationEntity, exec: Executor, username: string, pending: OpenVersion): Promise<void> {
    await this.deleteKey(iam, exec.creds, username, pending.fields.accessKeyId);
    await this.store.discardPending(rot, pending.row.id);
  }

  /** Step 5: one transaction: pending → current → previous → retired. */
  private async promote(rot: RotationEntity): Promise<SecretState> {
    await this.promoteOnly(rot);
    return this.store.state(rot.secretId);
  }

  private async promoteOnly(rot: RotationEntity, verified?: VerifiedKey): Promise<void> {
    this.faults.point('promote');
    await this.store.promote(rot, 'retire', verified);
    this.faults.point('retire');
  }

  /**
   * Step 6: the previous-key settings. In basic mode the NEW key does it (the
   * old one may be the key being switched off). A failure leaves the rotation
   * succeeded with a warning, and the runner retries retire.
   *
   * With a grace period (previousKeyGraceSeconds > 0) the first pass only
   * records retireAt and leaves the retire owed: the rotation succeeds, the
   * previous key keeps working, and the runner comes back at retireAt (the
   * reconciler re-enqueues it from Postgres if the job is lost).
   */
  async retire(iam: IamClient, rot: RotationEntity, state: SecretState, global: GlobalSettings): Promise<void> {
    const { secret } = state;
    const eff = effectiveSettings(global, secret.settings);
    const prev = state.previous;
    if (rot.retireAt && rot.pendingVersion !== null && state.current?.row.version !== rot.pendingVersion) {
      // A later change moved on (and retired this key when it ended the grace): nothing of ours is left.
      await this.store.markRetired(rot, { action: 'kept', maskedKeyId: null, version: null });
      return;
    }
    if (prev && (eff.shouldDeletePreviousKey || eff.shouldInactivatePreviousKey)) {
      if (!rot.retireAt && eff.previousKeyGraceSeconds > 0) {
        const retireAt = new Date(this.clock.now() + eff.previousKeyGraceSeconds * 1000);
        await this.store.journal(rot, { step: 'retire', retirePending: true, retireAt });
        return;
      }
      // Not due yet (a job that woke early): the runner waits until retireAt.
      if (rot.retireAt && rot.retireAt.getTime() > this.clock.now()) return;
      const creds = await this.retireCreds(state);
      let action: 'deleted' | 'inactivated';
      try {
        action = await this.retireKey(iam, state, creds, eff.shouldDeletePreviousKey);
        this.faults.point('retire:after-aws');
      } catch (e) {
        const msg = (e as Error).message;
        await this.store.journal(rot, { status: 'succeeded', step: 'retire', retirePending: true, finishedAt: new Date(this.clock.now()) });
        await this.store.warn(rot, WarningCode.RETIRE_FAILED, { action: eff.shouldDeletePreviousKey ? 'deleted' : 'inactivated', reason: msg });
        throw new RetirePendingError(msg, e);
      }
      if (rot.retireAt) {
        await this.store.markRetired(rot, { action, maskedKeyId: maskAccessKeyId(prev.fields.accessKeyId), version: prev.row.version });
        return;
      }
    } else if (rot.retireAt) {
      await this.store.markRetired(rot, { action: 'kept', maskedKeyId: null, version: prev?.row.version ?? null });
      return;
    }
    await this.store.journal(rot, { step: 'done', retirePending: false });
  }

  private deleteKey(iam: IamClient, creds: IamCredentials, username: string, accessKeyId: string): Promise<void> {
    return unlessKeyGone(iam.deleteAccessKey(creds, username, accessKeyId));
  }

  private inactivateKey(iam: IamClient, creds: IamCredentials, username: string, accessKeyId: string): Promise<void> {
    return unlessKeyGone(iam.updateAccessKey(creds, username, accessKeyId, 'Inactive'));
  }
}

/** The same version, in the state a transaction just gave it. */
const asState = (v: OpenVersion, state: 'current' | 'previous'): OpenVersion => ({ row: { ...v.row, state }, fields: v.fields });

/**
 * Both results once both have settled (neither left running behind a failure): the first one's error if
 * it failed, else the second one's.
 */
async function bothSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}
