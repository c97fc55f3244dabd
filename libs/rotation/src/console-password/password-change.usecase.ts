import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, IamErrorCode, KeyturnError, WarningCode, type ErrorParams } from '@keyturn/contracts';
import { IAM_CLIENT, IamError, userNameFromArn, type IamClient, type PasswordPolicy, sameIamUser } from '@keyturn/iam';
import type { RotationEntity, SecretEntity } from '@keyturn/store';
import { SettingsService, effectiveSettings, type EffectiveSettings } from '@keyturn/vault';
import { FAULTS, type Faults } from '../rotation.tokens.js';
import { ChangeJournal, type SecretState } from '../change-journal.service.js';
import type { Executor } from '../executor.js';
import { jobIam, type PrepaidTurn } from '../paced-iam.client.js';
import { AWS_MAX_PASSWORD, generatePassword, requirementsFor } from './password-generator.js';

/** ChangePassword refused the old password (the IAM mapper tells it apart; AWS's text is read there only). */
export function isWrongOldPassword(e: unknown): boolean {
  return e instanceof IamError && e.reason === 'wrong-old-password';
}

const isPolicyViolation = (e: unknown) => e instanceof IamError && e.code === IamErrorCode.PasswordPolicy;

/**
 * Console password change (docs/architecture.md, "Console password change"): prepare → generate (stored as
 * pending) → apply → promote. Only ever through an associated key secret:
 * UpdateLoginProfile for another user, ChangePassword for the user's own.
 */
@Injectable()
export class PasswordChangeUseCase {
  constructor(
    private readonly store: ChangeJournal,
    /** The shared client: a job's calls go through its own (jobIam), which paces them in its account. */
    @Inject(IAM_CLIENT) private readonly iam: IamClient,
    private readonly settings: SettingsService,
    @Inject(FAULTS) private readonly faults: Faults,
  ) {}

  /** `turn`: the turn of the account's pace the worker's admission took, for the run's first AWS call. */
  async run(rotationId: string, claimed?: RotationEntity, turn?: PrepaidTurn): Promise<void> {
    const rot = claimed ?? (await this.store.rotation(rotationId));
    if (rot.step === 'done') return;
    if (rot.step === 'promote') return this.promote(rot);
    let state = await this.store.state(rot.secretId);
    // Every call of this run is paced in the secret's account.
    const iam = jobIam(this.iam, state.secret.accountId, turn);
    const exec = await this.prepare(iam, rot, state);
    const eff = effectiveSettings(await this.settings.getGlobal(), state.secret.settings);
    let policy: PasswordPolicy | null | 'unknown' = 'unknown';
    if (!state.pending) {
      policy = await this.readPolicy(iam, rot, exec);
      state = await this.generate(rot, state, eff, policy);
    } else {
      await this.store.journal(rot, { step: 'apply', pendingVersion: state.pending.row.version });
    }
    await this.apply(iam, rot, state, exec, eff, policy);
    await this.promote(rot);
  }

  private async prepare(iam: IamClient, rot: RotationEntity, state: SecretState): Promise<Executor> {
    // A first attempt's row already says prepare (and the claim just read it): no write to make.
    if (rot.step !== 'prepare') await this.store.journal(rot, { step: 'prepare' });
    this.faults.point('prepare');
    const { secret } = state;
    if (!state.current) throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId: secret.id });
    const exec = await this.store.executor(secret, null);
    await this.store.journal(rot, { mode: exec.mode, executorSecretId: exec.secretId });
    // The executor's own identity needs no permission: it tells whether the key is who the secret says.
    try {
      const id = await iam.getCallerIdentity(exec.creds);
      const user = userNameFromArn(id.arn);
      if (exec.mode === 'basic') {
        if (!sameIamUser(user, secret.username)) {
          throw new KeyturnError(ErrorCode.EXECUTOR_KEY_MISMATCH, { arn: id.arn, username: secret.username });
        }
        await this.checkUserId(secret, id.userId);
      }
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.InvalidCredentials) {
        throw new KeyturnError(ErrorCode.PRIVILEGED_KEY_INVALID, { privilegedSecretId: exec.secretId });
      }
      throw e;
    }
    return exec;
  }

  private async checkUserId(secret: SecretEntity, userId: string): Promise<void> {
    if (secret.iamUserId && secret.iamUserId !== userId) {
      throw new KeyturnError(ErrorCode.USER_RECREATED, { username: secret.username, userId, knownUserId: secret.iamUserId });
    }
    if (!secret.iamUserId) await this.store.setIamUserId(secret.id, userId);
  }

  private async readPolicy(iam: IamClient, rot: RotationEntity, exec: Executor): Promise<PasswordPolicy | null | 'unknown'> {
    try {
      return await iam.getAccountPasswordPolicy(exec.creds);
    } catch (e) {
      if (e instanceof IamError && e.code === IamErrorCode.AccessDenied) {
        await this.store.warn(rot, WarningCode.PASSWORD_POLICY_UNREAD, undefined);
        return 'unknown';
      }
      throw e;
    }
  }

  /** A new password, never one of the last N stored for this secret, kept as pending before AWS sees it. */
  private async generate(
    rot: RotationEntity,
    state: SecretState,
    eff: EffectiveSettings,
    policy: PasswordPolicy | null | 'unknown',
    lengthAtLeast = 0,
  ): Promise<SecretState> {
    await this.store.journal(rot, { step: 'generate' });
    const req = requirementsFor(policy, {
      length: Math.max(eff.passwordLength, lengthAtLeast),
      requireSymbols: eff.passwordRequireSymbols,
      exclude: eff.passwordExcludeCharacters,
    });
    const recent = await this.recentPasswords(state.secret.id, eff.passwordReuseHistory);
    let password: string;
    do {
      password = generatePassword(req);
    } while (recent.has(password));
    await this.store.storePending(rot, { password }, 'apply');
    this.faults.point('generate:after-store');
    return this.store.state(rot.secretId);
  }

  private async recentPasswords(secretId: string, n: number): Promise<Set<string>> {
    if (n <= 0) return new Set();
    const recent = await this.store.recentFields(secretId, ['current', 'previous', 'retired'], n);
    return new Set(recent.map((f) => f.password));
  }

  private async apply(
    iam: IamClient,
    rot: RotationEntity,
    state: SecretState,
    exec: Executor,
    eff: EffectiveSettings,
    policy: PasswordPolicy | null | 'unknown',
  ): Promise<void> {
    const { secret } = state;
    this.faults.point('apply');
    let refreshed = false;
    for (;;) {
      const pending = state.pending!.fields.password;
      try {
        if (exec.mode === 'privileged') {
          // A resumed apply repeats the call; if reuse prevention refuses the repeat, the catch below sets a fresh one.
          await iam.updateLoginProfile(exec.creds, secret.username, pending, eff.passwordResetRequired || undefined);
        } else {
          await this.changeOwnPassword(iam, rot, state, exec);
        }
        this.faults.point('apply:after-aws');
        await this.store.journal(rot, { step: 'promote' });
        return;
      } catch (e) {
        if (isPolicyViolation(e) && exec.mode === 'privileged' && !refreshed && (policy !== 'unknown' || pending.length >= AWS_MAX_PASSWORD)) {
          // A password made to fit the policy is refused when AWS took it already and reuse
          // prevention counts it: an earlier attempt applied it and died, or the SDK resent a
          // call whose answer was lost. A fresh one of the same length settles it.
          refreshed = true;
          await this.store.warn(rot, WarningCode.PASSWORD_REGENERATED, undefined);
          state = await this.generate(rot, state, eff, policy, pending.length);
          continue;
        }
        if (isPolicyViolation(e) && policy === 'unknown' && pending.length < AWS_MAX_PASSWORD) {
          // The policy could not be read: try again longer, up to AWS's 128.
          await this.store.warn(rot, WarningCode.PASSWORD_POLICY_RETRY, { length: pending.length });
          state = await this.generate(rot, state, eff, policy, Math.min(pending.length + 16, AWS_MAX_PASSWORD));
          continue;
        }
        throw this.explain(e, secret, exec);
      }
    }
  }

  /**
   * ChangePassword needs the password AWS has now. After a crash that may be
   * the current one, or a pending one an earlier attempt already applied: try
   * them in turn (a wrong old password changes nothing). If AWS already has the
   * newest pending, store a fresh pending first, then move AWS to it.
   */
  private async changeOwnPassword(iam: IamClient, rot: RotationEntity, state: SecretState, exec: Executor): Promise<void> {
    const { secret } = state;
    for (let round = 0; round < 2; round++) {
      const pending = state.pending!;
      const candidates = await this.candidatePasswords(secret.id, state, pending.row.version);
      for (const old of candidates) {
        try {
          await iam.changePassword(exec.creds, old, pending.fields.password);
          return;
        } catch (e) {
          if (!isWrongOldPassword(e)) throw e;
        }
      }
      if (round === 0) {
        // Perhaps AWS has the newest pending already: make it the old one of a fresh change.
        await this.store.warn(rot, WarningCode.PASSWORD_RESUME, undefined);
        const eff = effectiveSettings(await this.settings.getGlobal(), secret.settings);
        state = await this.generate(rot, state, eff, 'unknown', pending.fields.password.length);
      }
    }
    throw new KeyturnError(ErrorCode.PASSWORD_UNKNOWN, { username: secret.username });
  }

  /** The current password, then pending/discarded ones newer than it (newest last), excluding `newest`. */
  private async candidatePasswords(secretId: string, state: SecretState, newest: number): Promise<string[]> {
    const current = state.current!;
    const newer = await this.store.newerThan(secretId, current.row.version, ['discarded', 'pending'], 10);
    return [current.fields.password, ...newer.filter((v) => v.row.version !== newest).map((v) => v.fields.password)];
  }

  /** The failures a person meets when changing a console password, worded for that. */
  private explain(e: unknown, secret: SecretEntity, exec: Executor): unknown {
    if (!(e instanceof IamError)) return e;
    const info = { awsCode: e.awsCode, reason: e.reason };
    // A user that is gone has no login profile either (kept as one code, as ever).
    if (e.code === IamErrorCode.NoSuchEntity) return new KeyturnError(ErrorCode.LOGIN_PROFILE_MISSING, { username: secret.username });
    if (e.code === IamErrorCode.PasswordPolicy) {
      const params = e.params as ErrorParams<typeof IamErrorCode.PasswordPolicy>;
      return new IamError(IamErrorCode.PasswordPolicy, { ...params, advice: { kind: 'password-settings' } }, info);
    }
    if (e.code === IamErrorCode.AccessDenied && exec.mode === 'basic') {
      const params = e.params as ErrorParams<typeof IamErrorCode.AccessDenied>;
      return new IamError(IamErrorCode.AccessDenied, { ...params, advice: { kind: 'change-own-password', secretId: secret.id } }, info);
    }
    return e;
  }

  private async promote(rot: RotationEntity): Promise<void> {
    this.faults.point('promote');
    await this.store.promote(rot, 'done');
  }
}
