import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobName, KeyturnError, SecretType, type Actor } from '@keyturn/contracts';
import { HeartbeatEntity, uuidv7 } from '@keyturn/store';
import { SecretsService } from '@keyturn/vault';
import { JobProducer } from '@keyturn/queue';

export interface HeartbeatView {
  id: string;
  secretId: string;
  status: string;
  outcome: string | null;
  trigger: string;
  requestedBy: string;
  checkedArn: string | null;
  keyStatus: string | null;
  keyAgeDays: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export function toHeartbeatView(h: HeartbeatEntity): HeartbeatView {
  return {
    id: h.id,
    secretId: h.secretId,
    status: h.status,
    outcome: h.outcome,
    trigger: h.trigger,
    requestedBy: h.requestedBy,
    checkedArn: h.checkedArn,
    keyStatus: h.keyStatus,
    keyAgeDays: h.keyCreatedAt ? Math.floor((Date.now() - h.keyCreatedAt.getTime()) / 86_400_000) : null,
    errorCode: h.errorCode,
    errorMessage: h.errorMessage,
    createdAt: h.createdAt.toISOString(),
    finishedAt: h.finishedAt?.toISOString() ?? null,
  };
}

export const heartbeatJobId = (heartbeatId: string) => `heartbeat-${heartbeatId}`;

@Injectable()
export class HeartbeatsService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly secrets: SecretsService,
    private readonly jobs: JobProducer,
  ) {}

  async request(actor: Actor, secretId: string): Promise<HeartbeatView> {
    const secret = await this.secrets.load(actor, secretId);
    if (secret.type === SecretType.AwsIamConsolePassword) {
      throw new KeyturnError(
        'HEARTBEAT_NOT_SUPPORTED',
        'AWS offers no way to test a console password without signing in as the user, so console password secrets have no heartbeat; check the associated key secret instead',
        422,
      );
    }
    const id = uuidv7();
    await this.ds.manager.insert(HeartbeatEntity, { id, secretId, status: 'queued', trigger: 'api', requestedBy: actor.id });
    await this.jobs.tryAdd(JobName.RunHeartbeat, { heartbeatId: id }, { jobId: heartbeatJobId(id) });
    return toHeartbeatView(await this.ds.manager.findOneByOrFail(HeartbeatEntity, { id }));
  }

  async get(actor: Actor, heartbeatId: string): Promise<HeartbeatView> {
    const h = await this.ds.manager.findOneBy(HeartbeatEntity, { id: heartbeatId });
    if (!h) throw new KeyturnError('HEARTBEAT_NOT_FOUND', `heartbeat ${heartbeatId} does not exist`, 404);
    await this.secrets.load(actor, h.secretId).catch(() => {
      throw new KeyturnError('HEARTBEAT_NOT_FOUND', `heartbeat ${heartbeatId} does not exist`, 404);
    });
    return toHeartbeatView(h);
  }

  async list(actor: Actor, secretId: string, limit = 50): Promise<{ items: HeartbeatView[] }> {
    await this.secrets.load(actor, secretId);
    const rows = await this.ds.manager.find(HeartbeatEntity, { where: { secretId }, order: { id: 'DESC' }, take: limit });
    return { items: rows.map(toHeartbeatView) };
  }
}
