import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobName, KeyturnError, SecretType, type Actor } from '@keyturn/contracts';
import { RotationEntity, SecretVersionEntity, uuidv7, type RotationWarning } from '@keyturn/store';
import { SecretsService } from '@keyturn/vault';
import { JobProducer } from '@keyturn/queue';

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
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export const rotationJobId = (rotationId: string, retry?: number) => `rotation-${rotationId}${retry ? `-r${retry}` : ''}`;

@Injectable()
export class RotationsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly secrets: SecretsService,
    private readonly jobs: JobProducer,
  ) {}

  /**
   * The rotation is a row first and a job second: if the enqueue fails, the
   * row stays queued and the scheduler's reconciler enqueues it.
   */
  async request(
    actor: Actor,
    secretId: string,
    opts: { idempotencyKey?: string; trigger?: 'api' | 'schedule' } = {},
  ): Promise<{ rotation: RotationView; created: boolean }> {
    const secret = await this.secrets.load(actor, secretId);
    if (secret.type === SecretType.AwsIamConsolePassword && !secret.privilegedSecretId) {
      throw new KeyturnError(
        'PRIVILEGED_ACCOUNT_REQUIRED',
        `a console password can only be changed through an associated aws-iam-key secret: PATCH /v1/secrets/${secretId} with {"privilegedSecretId": "<key secret id>"} first`,
        422,
      );
    }
    if (opts.idempotencyKey) {
      const existing = await this.ds.manager.findOneBy(RotationEntity, { secretId, idempotencyKey: opts.idempotencyKey });
      if (existing) return { rotation: toRotationView(existing), created: false };
    }
    if (!(await this.ds.manager.exists(SecretVersionEntity, { where: { secretId, state: 'current' } }))) {
      throw new KeyturnError('SECRET_HAS_NO_VALUE', `secret ${secretId} has no current value to change`, 409);
    }
    const row: Partial<RotationEntity> = {
      id: uuidv7(),
      secretId,
      secretType: secret.type,
      status: 'queued',
      step: 'prepare',
      requestedBy: actor.id,
      trigger: opts.trigger ?? 'api',
      idempotencyKey: opts.idempotencyKey ?? null,
    };
    try {
      await this.ds.manager.insert(RotationEntity, row as RotationEntity);
    } catch (e) {
      // Two requests with one Idempotency-Key at once: the loser answers with the winner's rotation.
      if ((e as { code?: string }).code === '23505' && opts.idempotencyKey) {
        const existing = await this.ds.manager.findOneByOrFail(RotationEntity, { secretId, idempotencyKey: opts.idempotencyKey });
        return { rotation: toRotationView(existing), created: false };
      }
      throw e;
    }
    await this.jobs.tryAdd(JobName.RunRotation, { rotationId: row.id! }, { jobId: rotationJobId(row.id!) });
    return { rotation: toRotationView(await this.ds.manager.findOneByOrFail(RotationEntity, { id: row.id })), created: true };
  }

  async get(actor: Actor, rotationId: string): Promise<RotationView> {
    const r = await this.ds.manager.findOneBy(RotationEntity, { id: rotationId });
    if (!r) throw new KeyturnError('ROTATION_NOT_FOUND', `rotation ${rotationId} does not exist`, 404);
    await this.secrets.load(actor, r.secretId).catch(() => {
      throw new KeyturnError('ROTATION_NOT_FOUND', `rotation ${rotationId} does not exist`, 404);
    });
    return toRotationView(r);
  }

  async list(actor: Actor, secretId: string, limit = 50): Promise<{ items: RotationView[] }> {
    await this.secrets.load(actor, secretId);
    const rows = await this.ds.manager.find(RotationEntity, { where: { secretId }, order: { id: 'DESC' }, take: limit });
    return { items: rows.map(toRotationView) };
  }
}
