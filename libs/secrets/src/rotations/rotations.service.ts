import { Injectable } from '@nestjs/common';
import { ErrorCode, JobName, KeyturnError, type Actor } from '@keyturn/contracts';
import { secretTypeDefinition } from '@keyturn/secret-types';
import { RotationRequestsRepository, SecretsApiRepository, uuidv7, type RotationEntity, type RotationWarning } from '@keyturn/store';
import { JobProducer } from '@keyturn/queue';
import { loadVisibleSecret } from '../secrets/folder-scope.js';

export interface RotationView {
  id: string;
  secretId: string;
  secretType: string;
  status: string;
  step: string;
  mode: string | null;
  executorSecretId: string | null;
  attempt: number;
  trigger: string;
  requestedBy: string;
  errorCode: string | null;
  errorMessage: string | null;
  warnings: RotationWarning[];
  retirePending: boolean;
  retireAt: string | null;
  retiredAt: string | null;
  /** A change a schedule requested: the scheduled time it is for. */
  scheduledFor: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export function toRotationView(r: RotationEntity): RotationView {
  return {
    id: r.id,
    secretId: r.secretId,
    secretType: r.secretType,
    status: r.status,
    step: r.step,
    mode: r.mode,
    executorSecretId: r.executorSecretId,
    attempt: r.attempt,
    trigger: r.trigger,
    requestedBy: r.requestedBy,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    warnings: r.warnings,
    retirePending: r.retirePending,
    retireAt: r.retireAt?.toISOString() ?? null,
    retiredAt: r.retiredAt?.toISOString() ?? null,
    scheduledFor: r.scheduledFor?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export const rotationJobId = (rotationId: string) => `rotation-${rotationId}`;

/**
 * Concurrent requests race on the unique indexes (one waiting rotation per
 * secret, one rotation per idempotency key); each loser finds the winner on
 * its next look, so more tries than this mean the rows keep changing under us.
 */
const MAX_TRIES = 5;

@Injectable()
export class RotationsService {
  constructor(
    private readonly rotations: RotationRequestsRepository,
    private readonly secrets: SecretsApiRepository,
    private readonly jobs: JobProducer,
  ) {}

  /**
   * The rotation is a row first and a job second: if the enqueue fails, the
   * row stays queued and the scheduler's reconciler enqueues it.
   *
   * Coalesced: a secret has at most one waiting rotation (queued and never
   * started). A request while one waits gets that one (`created: false`, the
   * API answers Idempotent-Replayed: true), so a flood of requests cannot
   * build a backlog. An Idempotency-Key is remembered for the rotation the
   * request created or joined: the same key always answers the same rotation.
   */
  async request(
    actor: Actor,
    secretId: string,
    opts: { idempotencyKey?: string; trigger?: 'api' | 'schedule' } = {},
  ): Promise<{ rotation: RotationView; created: boolean }> {
    const secret = await loadVisibleSecret(this.secrets, actor, secretId);
    // A type that cannot change itself needs a privileged account (its definition's executor rule).
    if (!secretTypeDefinition(secret.type).executor.selfExecuting && !secret.privilegedSecretId) {
      throw new KeyturnError(ErrorCode.PRIVILEGED_ACCOUNT_REQUIRED, { secretId, secretType: secret.type });
    }
    const key = opts.idempotencyKey;
    for (let tries = 1; ; tries++) {
      if (key) {
        const known = await this.rotations.byIdempotencyKey(secretId, key);
        if (known) return { rotation: toRotationView(known), created: false };
      }
      if (tries === 1 && (await this.secrets.currentVersionNumber(secretId)) === null) {
        throw new KeyturnError(ErrorCode.SECRET_HAS_NO_VALUE, { secretId });
      }
      let outcome: { id: string; created: boolean };
      try {
        const row: Partial<RotationEntity> & { id: string; secretId: string } = {
          id: uuidv7(),
          secretId,
          secretType: secret.type,
          status: 'queued',
          step: 'prepare',
          requestedBy: actor.id,
          trigger: opts.trigger ?? 'api',
          idempotencyKey: key ?? null,
        };
        outcome = await this.rotations.joinOrCreateWaiting(row, key);
      } catch (e) {
        // Another request made the waiting rotation, or used this key, first: look again and join it.
        if ((e as { code?: string }).code === '23505') {
          if (tries < MAX_TRIES) continue;
          throw new KeyturnError(ErrorCode.ROTATION_REQUEST_CONFLICT, { secretId });
        }
        throw e;
      }
      if (outcome.created) await this.jobs.tryAdd(JobName.RunRotation, { rotationId: outcome.id, accountId: secret.accountId }, { jobId: rotationJobId(outcome.id) });
      return { rotation: toRotationView(await this.rotations.findByIdOrFail(outcome.id)), created: outcome.created };
    }
  }

  async get(actor: Actor, rotationId: string): Promise<RotationView> {
    const r = await this.rotations.findById(rotationId);
    if (!r) throw new KeyturnError(ErrorCode.ROTATION_NOT_FOUND, { rotationId });
    await loadVisibleSecret(this.secrets, actor, r.secretId).catch(() => {
      throw new KeyturnError(ErrorCode.ROTATION_NOT_FOUND, { rotationId });
    });
    return toRotationView(r);
  }

  async list(actor: Actor, secretId: string, limit = 50): Promise<{ items: RotationView[] }> {
    await loadVisibleSecret(this.secrets, actor, secretId);
    const rows = await this.rotations.listForSecret(secretId, limit);
    return { items: rows.map(toRotationView) };
  }
}
