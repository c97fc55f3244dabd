import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, KeyturnError, warningMessage, type WarningCode, type WarningParams } from '@keyturn/contracts';
import type { IamCredentials } from '@keyturn/iam';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { VERSION_CIPHER, globalSettingsOf, type GlobalSettings, type VersionCipher } from '@keyturn/vault';
import {
  uuidv7,
  RotationsRepository,
  SecretVersionsRepository,
  SecretsRepository,
  Transactions,
  type RotationEntity,
  type RotationStep,
  type RotationWarning,
  type SecretEntity,
  type SecretVersionEntity,
  type VersionState,
  type KeyListing,
} from '@keyturn/store';
import { KEYTURN_CONFIG, type KeyturnConfig } from '@keyturn/config';
import { CLOCK, type Clock } from './rotation.tokens.js';
import { resolveExecutor, type Executor } from './executor.js';
import { recordHeartbeatStatusChange } from './heartbeat-status.js';

/** A verify step's proof that the pending key works: GetCallerIdentity answered as the target user. */
export interface VerifiedKey {
  at: Date;
  arn: string;
  /** The secret's effective heartbeat interval (null: the deployment's default). */
  heartbeatIntervalSeconds: number | null;
}

export interface OpenVersion {
  row: SecretVersionEntity;
  fields: Record<string, string>;
}

export interface SecretState {
  secret: SecretEntity;
  current?: OpenVersion;
  previous?: OpenVersion;
  pending?: OpenVersion;
  /**
   * Read with the state for a rotation (`state(secretId, rotationId)`): whether another rotation of the
   * secret has its retire owed in a grace period (false: `inGrace` would find none). Undefined: not read.
   */
  othersInGrace?: boolean;
}

/** The state as read for a rotation: also the global settings, in the same statement. */
export interface RotationState extends SecretState {
  othersInGrace: boolean;
  global: GlobalSettings;
}

export const credsOf = (v: OpenVersion): IamCredentials => ({
  accessKeyId: v.fields.accessKeyId,
  secretAccessKey: v.fields.secretAccessKey,
});

/** An adopted key (issue 15): its id is stored, its secret part nobody knows. */
export const isAdopted = (v: OpenVersion | undefined): boolean => v?.row.secretUnknown === true;

/** The version's credentials, or null for an adopted key, which cannot call AWS (the executor must). */
export const knownCredsOf = (v: OpenVersion | undefined): IamCredentials | null => (v && !isAdopted(v) ? credsOf(v) : null);


const logger = new Logger('Rotation');

/**
 * Everything both change protocols read and record in Postgres, through the
 * repositories: the secret with its live versions decrypted, the rotation's
 * journal (step, warnings), storing a pending value, promoting it, discarding
 * it. The multi-row changes are one transaction each.
 */
@Injectable()
export class ChangeJournal {
  constructor(
    private readonly rotations: RotationsRepository,
    private readonly secrets: SecretsRepository,
    private readonly versions: SecretVersionsRepository,
    private readonly tx: Transactions,
    @Inject(VERSION_CIPHER) private readonly cipher: VersionCipher,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(KEYTURN_CONFIG) private readonly config: Pick<KeyturnConfig, 'webhooks' | 'heartbeat'>,
  ) {}

  rotation(id: string): Promise<RotationEntity> {
    return this.rotations.getOrFail(id);
  }

  /**
   * The secret with its current, previous and pending versions decrypted. With `rotationId`, in the same
   * statement, whether other rotations of the secret are in their grace period (`othersInGrace`) and the
   * global settings (`global`).
   */
  async state(secretId: string): Promise<SecretState>;
  async state(secretId: string, rotationId: string): Promise<RotationState>;
  async state(secretId: string, rotationId?: string): Promise<SecretState> {
    const found = await this.secrets.withLiveVersions(secretId, rotationId ?? null);
    if (!found) throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId });
    const state: SecretState | RotationState =
      rotationId === undefined ? { secret: found.secret } : { secret: found.secret, othersInGrace: found.othersInGrace === true, global: globalSettingsOf(found.globalSettings) };
    for (const row of found.versions) {
      state[row.state as 'current' | 'previous' | 'pending'] = { row, fields: this.cipher.open(row) };
    }
    return state;
  }

  /** Who makes the IAM calls (see executor.ts). */
  executor(target: SecretEntity, ownCreds: IamCredentials | null): Promise<Executor> {
    return resolveExecutor(
      {
        secret: (id) => this.secrets.get(id),
        currentFields: async (id) => {
          const v = await this.versions.inState(id, 'current');
          // An adopted key cannot act: it has no secret part to sign with.
          return v && !v.secretUnknown ? this.cipher.open(v) : null;
        },
      },
      target,
      ownCreds,
    );
  }

  /** Records progress on the rotation row and on `rot`. */
  journal(rot: RotationEntity, changes: Partial<RotationEntity>): Promise<void> {
    return this.rotations.journal(rot, changes);
  }

  /** Records the create step ("about to create" at `at`) and retires `retireVersionId` (null: none), in one write. */
  aboutToCreate(rot: RotationEntity, at: Date, retireVersionId: string | null): Promise<void> {
    return this.rotations.aboutToCreate(rot, at, retireVersionId);
  }

  /** Records a warning on the rotation; its message is the catalogue's wording for `params`. */
  async warn<W extends WarningCode>(rot: RotationEntity, code: W, params: WarningParams<W>): Promise<void> {
    const message = warningMessage(code, params);
    const w: RotationWarning = { at: new Date(this.clock.now()).toISOString(), code, message };
    await this.rotations.appendWarning(rot, w);
    logger.warn({ rotationId: rot.id, code, message }, 'rotation warning');
  }

  /**
   * Rotations of the secret other than `rot` whose previous key is still in its grace period. A state read
   * for `rot` under its lease that found none (`othersInGrace: false`) is the answer: under the IAM user's
   * lock no other rotation of the secret runs, so none can have entered or left its grace since.
   */
  async inGrace(rot: RotationEntity, state?: SecretState): Promise<RotationEntity[]> {
    if (state?.othersInGrace === false) return [];
    return this.rotations.inGrace(rot.secretId, rot.id);
  }

  /**
   * The retire step of a rotation with a grace period has run (at its time, or
   * early for `endedEarlyBy`): the rotation is done, retired_at is stamped and
   * `previous-key.retired` goes to the outbox, in one transaction.
   */
  async markRetired(rot: RotationEntity, outcome: { action: 'deleted' | 'inactivated' | 'kept'; maskedKeyId: string | null; version: number | null; endedEarlyBy?: string }): Promise<void> {
    const retiredAt = new Date(this.clock.now());
    await this.tx.run(async (tx) => {
      await tx.rotations.journal(rot, { step: 'done', retirePending: false, retiredAt });
      await tx.events.record(this.config.webhooks.urls, 'previous-key.retired', rot.secretId, {
        rotationId: rot.id,
        secretId: rot.secretId,
        secretType: rot.secretType,
        // The version whose key was switched off (never the key itself).
        version: outcome.version,
        maskedKeyId: outcome.maskedKeyId,
        action: outcome.action,
        retireAt: rot.retireAt?.toISOString() ?? null,
        retiredAt: retiredAt.toISOString(),
        endedEarlyBy: outcome.endedEarlyBy ?? null,
      });
    });
    Object.assign(rot, { step: 'done', retirePending: false, retiredAt });
  }

  setIamUserId(secretId: string, iamUserId: string): Promise<void> {
    return this.secrets.setIamUserId(secretId, iamUserId);
  }

  retireVersion(versionId: string): Promise<void> {
    return this.versions.setState(versionId, 'retired');
  }

  /** Which other secrets hold these access keys (any state but retired): key id → secret id, by blind index. */
  async holdersOfAccessKeys(accessKeyIds: string[], exceptSecretId: string): Promise<Map<string, string>> {
    const byIndex = new Map<string, string>();
    for (const keyId of accessKeyIds) {
      for (const h of this.cipher.accessKeyIdIndexes(keyId)) byIndex.set(h, keyId);
    }
    const holders = new Map<string, string>();
    if (!byIndex.size) return holders;
    for (const r of await this.versions.holdersOfKeyIdHmacs([...byIndex.keys()], exceptSecretId)) {
      const keyId = byIndex.get(r.key_id_hmac)!;
      if (!holders.has(keyId)) holders.set(keyId, r.secret_id);
    }
    return holders;
  }

  /** Whether `hmac` is a blind index of `accessKeyId` under one of the configured KEKs. */
  isKeyIdIndexOf(accessKeyId: string, hmac: string): boolean {
    return this.cipher.accessKeyIdIndexes(accessKeyId).includes(hmac);
  }

  /** The decrypted fields of the newest `n` versions in `states`, newest first. */
  async recentFields(secretId: string, states: VersionState[], n: number): Promise<Record<string, string>[]> {
    return (await this.versions.newest(secretId, states, n)).map((v) => this.cipher.open(v));
  }

  /** Versions after `version` in `states`, oldest first, at most `take`. */
  newerThan(secretId: string, version: number, states: VersionState[], take: number): Promise<OpenVersion[]> {
    return this.versions.newerThan(secretId, version, states, take).then((rows) => rows.map((row) => ({ row, fields: this.cipher.open(row) })));
  }

  /**
   * Stores `fields` as the secret's pending version and records it on the
   * rotation (step `next`), in one transaction under the secret's row lock
   * (taken by counting the version). An abandoned pending value (never
   * applied, or applied and superseded) becomes history. Returns the stored
   * pending version. With `expectedVersion`, in one call when that is still the next version.
   */
  async storePending(rot: RotationEntity, fields: Record<string, string>, next: RotationStep, listing?: KeyListing, expectedVersion?: number): Promise<OpenVersion> {
    // With the version the caller expects (the counter its run read, plus one): sealed with it and stored in one
    // call, which writes only if that is still the next version (SecretVersionsRepository.storePending).
    const quick =
      expectedVersion !== undefined ? await this.versions.storePending(rot.id, next, { ...this.cipher.seal(rot.secretId, expectedVersion, 'pending', fields), ...listing }) : null;
    // Otherwise (or if the counter moved on meanwhile): counted first under the row lock, then sealed.
    const row = quick ?? await this.tx.run(async (tx) => {
      const v = await tx.secrets.nextVersion(rot.secretId);
      if (v === null) throw new KeyturnError(ErrorCode.SECRET_NOT_FOUND, { secretId: rot.secretId });
      await tx.versions.moveState(rot.secretId, 'pending', 'discarded');
      const stored = await tx.versions.insert({ ...this.cipher.seal(rot.secretId, v, 'pending', fields), ...listing });
      await tx.rotations.setPending(rot, v, next);
      return stored;
    });
    rot.pendingVersion = row.version;
    rot.step = next;
    return { row, fields: { ...fields } };
  }

  /** The pending version never became current: it is discarded and the rotation forgets it. */
  async discardPending(rot: RotationEntity, pendingVersionId: string): Promise<void> {
    await this.tx.run(async (tx) => {
      await tx.versions.setState(pendingVersionId, 'discarded');
      await tx.rotations.setPending(rot, null);
    });
    rot.pendingVersion = null;
  }

  /**
   * Promote, in one transaction: pending → current, current → previous,
   * previous → retired, and the rotation moves to `next`. A crash leaves either
   * all of it or none of it.
   *
   * With `verified` (this run's verify step proved the new key), a secret type
   * that heartbeats records that proof as its heartbeat: a finished heartbeat
   * row, status success and the next one due an interval later. Without it (a
   * promote resumed after a crash, whose verify may be long past), the
   * scheduler checks the new key at its next tick, as before.
   */
  async promote(rot: RotationEntity, next: RotationStep, verified?: VerifiedKey): Promise<void> {
    const canHeartbeat = secretTypeDefinition(rot.secretType).canHeartbeat;
    const checked = canHeartbeat && verified ? verified : null;
    const interval = checked ? (checked.heartbeatIntervalSeconds ?? this.config.heartbeat.intervalSeconds) * 1000 : 0;
    if (checked) {
      // The common case in one call (the secret's status is already success): the same writes, no transaction to hold.
      const heartbeatId = uuidv7();
      const done = await this.secrets.promoteChecked(rot.secretId, rot.id, next, {
        at: checked.at, next: new Date(checked.at.getTime() + interval), heartbeatId, requestedBy: 'system:rotation-worker', checkedArn: checked.arn,
      });
      if (done === 'nothing-to-promote') throw new KeyturnError(ErrorCode.NOTHING_TO_PROMOTE, { rotationId: rot.id });
      if (done === 'promoted') {
        rot.step = next;
        return;
      }
      // 'status-changed': nothing written; the transaction below promotes and records the change with its event.
    }
    await this.tx.run(async (tx) => {
      // The secret's row lock first (heartbeats take it too, so a promotion and a heartbeat's result are ordered).
      // With a verified key the statement that takes it also records the check, and says what the status was.
      const locked = checked
        ? await tx.secrets.markChangedAndChecked(rot.secretId, { at: checked.at, next: new Date(checked.at.getTime() + interval) })
        : await tx.secrets.lockHeartbeatState(rot.secretId);
      if (!locked) throw new KeyturnError(ErrorCode.NOTHING_TO_PROMOTE, { rotationId: rot.id });
      await tx.versions.moveState(rot.secretId, 'previous', 'retired');
      await tx.versions.moveState(rot.secretId, 'current', 'previous');
      // No pending version: the throw rolls the transaction back, nothing changed.
      const pending = await tx.versions.promotePending(rot.secretId);
      if (!pending) throw new KeyturnError(ErrorCode.NOTHING_TO_PROMOTE, { rotationId: rot.id });
      if (checked) {
        const heartbeatId = uuidv7();
        await tx.heartbeats.insertChecked({
          id: heartbeatId,
          secretId: rot.secretId,
          requestedBy: 'system:rotation-worker',
          checkedArn: checked.arn,
          keyStatus: 'Active',
          keyCreatedAt: pending.keyCreatedAt ?? null,
          at: checked.at,
        });
        if (locked.heartbeatStatus !== 'success') {
          const change = { secretId: rot.secretId, heartbeatId, from: locked.heartbeatStatus, to: 'success' as const, errorCode: null };
          await recordHeartbeatStatusChange(tx, this.config.webhooks.urls, 'rotation-worker', change);
        }
      } else {
        await tx.secrets.markChanged(rot.secretId, canHeartbeat);
      }
      await tx.rotations.setStep(rot.id, next);
    });
    rot.step = next;
  }
}
